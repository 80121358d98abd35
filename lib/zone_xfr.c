/* zone_xfr.c - the [zone] keys for zone transfers: allow-transfer (who may AXFR/IXFR), notify (whom
 * to send a NOTIFY when the serial changes), notify-interval, and the bounds of the IXFR change
 * journal (ixfr-journal-age, ixfr-journal-size). Lists are comma- or blank-separated
 * and the keys may be repeated; each repetition adds to the list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "zone.h"

#define ITEM_MAX 80

/* The next item of a list: its text in item, the rest of the list returned; NULL at the end. */
static const char *next_item(const char *s, char *item, size_t cap, int *toolong)
{
    s += strspn(s, ", \t");
    if (!*s)
        return NULL;
    size_t n = strcspn(s, ", \t");
    *toolong = n >= cap;
    snprintf(item, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
    return s + n;
}

static int acl_item(struct zone_xfr *x, const char *item, char *err, size_t errlen)
{
    struct ipnet net;
    int rc = net_parse(item, &net);
    if (rc < 0) {
        snprintf(err, errlen, "allow-transfer: '%s' is not an address or CIDR network", item);
        return -1;
    }
    if (rc > 0) {
        char buf[64];
        snprintf(err, errlen, "allow-transfer: '%s' has host bits set; did you mean %s?", item,
                 net_format(&net, buf, sizeof buf));
        return -1;
    }
    if (x->nacl == ZONE_MAX_XFR_ACL) {
        snprintf(err, errlen, "allow-transfer: at most %d networks", ZONE_MAX_XFR_ACL);
        return -1;
    }
    x->acl[x->nacl++] = net;
    return 0;
}

/* "192.0.2.1:5354", "[2001:db8::1]:5354", or an address alone (port 53). */
static int parse_target(const char *item, struct zone_notify_target *t)
{
    char host[ITEM_MAX];
    const char *port = NULL;
    if (item[0] == '[') {
        const char *close = strchr(item, ']');
        if (!close || (close[1] && close[1] != ':'))
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(close - item - 1), item + 1);
        port = close[1] ? close + 2 : NULL;
    } else {
        const char *colon = strchr(item, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL;                       /* a bare IPv6 address */
        snprintf(host, sizeof host, "%.*s", (int)(colon ? colon - item : (long)strlen(item)), item);
        port = colon ? colon + 1 : NULL;
    }
    uint32_t p = 53;
    if (addr_parse(host, &t->addr) < 0 || (port && (conf_uint(port, 65535, &p) < 0 || p == 0)))
        return -1;
    t->port = (uint16_t)p;
    return 0;
}

static int notify_item(struct zone_xfr *x, const char *item, char *err, size_t errlen)
{
    struct zone_notify_target t;
    if (parse_target(item, &t) < 0) {
        snprintf(err, errlen, "notify: '%s' is not ADDRESS:PORT (IPv6 as [ADDRESS]:PORT)", item);
        return -1;
    }
    if (x->nnotify == ZONE_MAX_NOTIFY) {
        snprintf(err, errlen, "notify: at most %d targets", ZONE_MAX_NOTIFY);
        return -1;
    }
    x->notify[x->nnotify++] = t;
    return 0;
}

static int list_key(struct zone_xfr *x, const char *key, const char *value, char *err, size_t errlen)
{
    char item[ITEM_MAX];
    int toolong = 0, n = 0;
    for (const char *rest = value; (rest = next_item(rest, item, sizeof item, &toolong)); n++) {
        if (toolong) {
            snprintf(err, errlen, "%s: '%s...' is too long", key, item);
            return -1;
        }
        if (!strcmp(item, "none") && !strcmp(value + strspn(value, " \t"), "none"))
            return 0;                           /* an explicit empty list */
        int rc = key[0] == 'a' ? acl_item(x, item, err, errlen) : notify_item(x, item, err, errlen);
        if (rc < 0)
            return -1;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s: empty list (write 'none' for nobody)", key);
        return -1;
    }
    return 0;
}

/* The bounds of the store's change journal (IXFR): applied by the writers, which bind the zones to a
 * writable store (zoneset_bind). */
static int journal_key(struct zone_xfr *x, const char *key, const char *value, int *rc, char *err, size_t errlen)
{
    uint32_t v;
    int age = key[13] == 'a';
    *rc = 0;
    if (age ? conf_duration(value, &v) < 0 || v < 60 || v > 30 * 86400 : conf_uint(value, 10000000, &v) < 0 || v == 0) {
        snprintf(err, errlen, age ? "%s: '%s' is not a duration from 1m to 30d" : "%s: '%s' is not a number from 1 "
                 "to 10000000", key, value);
        *rc = -1;
    } else {
        *(age ? &x->journal_age : &x->journal_size) = v;
    }
    return 1;
}

int zone_xfr_key(struct zone *z, const char *key, const char *value, int *rc, char *err, size_t errlen)
{
    if (!strcmp(key, "allow-transfer") || !strcmp(key, "notify")) {
        *rc = list_key(&z->xfr, key, value, err, errlen);
        return 1;
    }
    if (!strcmp(key, "ixfr-journal-age") || !strcmp(key, "ixfr-journal-size"))
        return journal_key(&z->xfr, key, value, rc, err, errlen);
    if (strcmp(key, "notify-interval"))
        return 0;
    uint32_t v;
    *rc = 0;
    if (conf_duration(value, &v) < 0 || v == 0 || v > 86400) {
        snprintf(err, errlen, "notify-interval: '%s' is not a duration from 1s to 1d", value);
        *rc = -1;
    } else {
        z->xfr.notify_interval = v;
    }
    return 1;
}

int zone_xfr_allowed(const struct zone *z, const struct ipaddr *a)
{
    for (int i = 0; i < z->xfr.nacl; i++)
        if (net_contains(&z->xfr.acl[i], a))
            return 1;
    return 0;
}

int zone_xfr_enabled(const struct zone *z)
{
    return z->xfr.nacl > 0 || z->xfr.nnotify > 0;
}

uint32_t zone_notify_interval(const struct zone *z)
{
    return z->xfr.notify_interval ? z->xfr.notify_interval : ZONE_NOTIFY_INTERVAL;
}
