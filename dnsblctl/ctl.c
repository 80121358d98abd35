/* ctl.c - see ctl.h: the helpers every dnsblctl command uses (formatting, parsing an entry of a
 * zone, finding a zone, reporting a store error). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

const char *fmt_time(uint32_t t, char *buf, size_t n)
{
    if (t == 0)
        return "never";
    time_t tt = t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *fmt_code(uint32_t c, char *buf, size_t n)
{
    snprintf(buf, n, "%u.%u.%u.%u", c >> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255);
    return buf;
}

int store_error(int rc)
{
    fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
    return EXIT_STORE;
}

int parse_entry(const struct zone *z, const char *text, struct entry *e, int quiet)
{
    e->flags = 0;
    if (z->kind == ZONE_IP) {
        struct ipnet net;
        int rc = net_parse(text, &net);
        if (rc != 0 && !quiet) {
            char buf[64];
            if (rc < 0)
                fprintf(stderr, "dnsblctl: '%s' is not an IP address or CIDR network (zone %s is an IP zone)\n",
                        text, z->name);
            else
                fprintf(stderr, "dnsblctl: '%s' has host bits set; did you mean %s?\n", text,
                        net_format(&net, buf, sizeof buf));
        }
        if (rc != 0)
            return -1;
        e->klen = store_key_net(&net, e->key);
        return 0;
    }
    if (z->kind == ZONE_ACCOUNT) {
        char label[ACCOUNT_LABEL_LEN + 1];
        account_label(text, strlen(text), label);
        e->klen = store_key_domain(label, ACCOUNT_LABEL_LEN, e->key);
        return 0;
    }
    char name[DOMAIN_MAX + 1];
    if (!strncmp(text, "*.", 2))
        e->flags = LISTING_WILDCARD | LISTING_SUBDOMAINS, text += 2;
    else if (text[0] == '.')
        e->flags = LISTING_WILDCARD, text += 1;
    int len = domain_normalize(text, name, sizeof name);
    if (len < 0) {
        if (!quiet)
            fprintf(stderr, "dnsblctl: '%s' is not a domain name (zone %s is a domain zone)\n", text, z->name);
        return -1;
    }
    e->klen = store_key_domain(name, (size_t)len, e->key);
    return 0;
}

const char *fmt_key(const struct zone *z, const uint8_t *key, size_t klen, uint8_t flags, char *buf, size_t n)
{
    struct ipnet net;
    char name[DOMAIN_MAX + 1];
    int kind = store_key_decode(key, klen, &net, name, sizeof name);
    if (kind == 'n')
        return net_format(&net, buf, n);
    if (kind == 'd') {
        const char *prefix = (flags & LISTING_SUBDOMAINS) ? "*." : (flags & LISTING_WILDCARD) ? "." : "";
        snprintf(buf, n, "%s%s%s", z->kind == ZONE_ACCOUNT ? "account:" : "", prefix, name);
        return buf;
    }
    return "?";
}

struct zone *need_zone(struct ctl *c, const char *name)
{
    struct zone *z = zoneset_find(&c->zones, name);
    if (!z) {
        fprintf(stderr, "dnsblctl: unknown zone '%s' (zones in %s:", name, c->zones_dir);
        for (int i = 0; i < c->zones.n; i++)
            fprintf(stderr, " %s", c->zones.zones[i].name);
        fprintf(stderr, ")\n");
    }
    return z;
}
