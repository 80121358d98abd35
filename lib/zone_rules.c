/* zone_rules.c - the feeder's part of a zone file: [rule KIND], [allow] and [listing].
 *
 * dnsbl-server reads these sections too (they must parse) but never uses them. Every default is here,
 * in rules_defaults(), and documented in README.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "zone.h"

#define ALLOW_MAX 4096
#define COUNTER_WINDOW_MAX (60 * 60)    /* the feeder keeps 64 one-minute buckets */
#define LOGIN_WINDOW_MAX (7 * 86400)
#define SLOW_WINDOW_MAX (31 * 3600)     /* 64 half-hour buckets, less the one being filled */

static const char *const kind_names[RULE_KINDS] = { "dha", "backscatter", "auth", "volume", "compromised",
                                                    "abnormal" };

const char *rule_kind_name(enum rule_kind kind)
{
    return kind < RULE_KINDS ? kind_names[kind] : "?";
}

static int kind_by_name(const char *name)
{
    for (int i = 0; i < RULE_KINDS; i++)
        if (!strcmp(name, kind_names[i]))
            return i;
    return -1;
}

/* Which rules make sense for what a zone lists. */
static int kind_fits(enum zone_kind zk, int rk)
{
    switch (zk) {
    case ZONE_IP: return 1;
    case ZONE_DOMAIN: return rk == RULE_BACKSCATTER || rk == RULE_VOLUME;
    case ZONE_ACCOUNT: return rk == RULE_AUTH || rk == RULE_COMPROMISED || rk == RULE_VOLUME;
    }
    return 0;
}

void rules_defaults(struct zone *z)
{
    static const uint32_t window[RULE_KINDS] = { 600, 600, 600, 600, 86400, 600 };
    static const uint32_t threshold[RULE_KINDS] = { 10, 20, 10, 300, 4, 10 };
    for (int i = 0; i < RULE_KINDS; i++) {
        struct zone_rule *r = &z->rules[i];
        memset(r, 0, sizeof *r);
        r->window = window[i];
        r->threshold = threshold[i];
        r->ratio = 50;
        r->count = i == RULE_DHA ? 50 : 0;
        r->account_ips = i == RULE_AUTH && z->kind == ZONE_IP ? 5 : 0;
        r->slow_window = 86400;
        r->slow_threshold = i == RULE_DHA ? 100 : i == RULE_AUTH ? 30 : 0;
        r->slow_account_ips = i == RULE_AUTH && z->kind == ZONE_IP ? 10 : 0;
        r->recipients = i == RULE_VOLUME && z->kind == ZONE_ACCOUNT ? 500 : 0;
        r->expire = 3600;
        r->max_expire = 86400;
        strcpy(r->home_country, "JP");
        r->network_members = 5;
        r->network_v4 = 24;
        r->network_v6 = 48;
    }
    z->repeat_memory = 7 * 86400;
}

void rules_release(struct zone *z)
{
    free(z->allow.nets);
    for (int i = 0; i < z->allow.nnames; i++)
        free(z->allow.names[i]);
    free(z->allow.names);
    memset(&z->allow, 0, sizeof z->allow);
}

int rules_section(struct zone *z, const char *section, const char *arg, char *err, size_t errlen)
{
    if (!strcmp(section, "allow") || !strcmp(section, "listing")) {
        if (*arg) {
            snprintf(err, errlen, "[%s] takes no argument", section);
            return -1;
        }
        return 0;
    }
    int k = kind_by_name(arg);
    if (k < 0) {
        snprintf(err, errlen, "[rule %s]: unknown rule (dha, backscatter, auth, volume, compromised, abnormal)",
                 arg);
        return -1;
    }
    if (!kind_fits(z->kind, k)) {
        snprintf(err, errlen, "[rule %s] does not apply to a zone of kind %s", arg, zone_kind_name(z->kind));
        return -1;
    }
    if (z->rules[k].enabled) {
        snprintf(err, errlen, "[rule %s] appears twice", arg);
        return -1;
    }
    z->rules[k].enabled = 1;
    return 0;
}

static int allow_key(struct zone *z, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_allow *a = &z->allow;
    if (a->nnets + a->nnames >= ALLOW_MAX) {
        snprintf(err, errlen, "[allow]: at most %d entries", ALLOW_MAX);
        return -1;
    }
    if (!strcmp(key, "net")) {
        struct ipnet net;
        if (net_parse(value, &net) != 0) {
            snprintf(err, errlen, "net: '%s' is not an address or a network without host bits", value);
            return -1;
        }
        struct ipnet *grown = realloc(a->nets, (size_t)(a->nnets + 1) * sizeof *grown);
        if (!grown)
            goto oom;
        a->nets = grown;
        a->nets[a->nnets++] = net;
        return 0;
    }
    if (strcmp(key, "domain") && strcmp(key, "account")) {
        snprintf(err, errlen, "unknown key '%s' in [allow] (net, domain, account)", key);
        return -1;
    }
    char name[DOMAIN_MAX + 1];
    if (!strcmp(key, "domain") && domain_normalize(value, name, sizeof name) < 0) {
        snprintf(err, errlen, "domain: '%s' is not a domain name", value);
        return -1;
    }
    if (!strcmp(key, "account")) {
        size_t n = strlen(value);
        if (n == 0 || n > DOMAIN_MAX) {
            snprintf(err, errlen, "account: empty or longer than %d characters", DOMAIN_MAX);
            return -1;
        }
        for (size_t i = 0; i <= n; i++)
            name[i] = (char)tolower((unsigned char)value[i]);
    }
    char **grown = realloc(a->names, (size_t)(a->nnames + 1) * sizeof *grown);
    if (!grown)
        goto oom;
    a->names = grown;
    if (!(a->names[a->nnames] = strdup(name)))
        goto oom;
    a->nnames++;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int duration_key(const char *key, const char *value, uint32_t min, uint32_t max, uint32_t *out,
                        char *err, size_t errlen)
{
    if (conf_duration(value, out) < 0 || *out < min || *out > max) {
        snprintf(err, errlen, "%s: '%s' is not a duration from %us to %us", key, value, min, max);
        return -1;
    }
    return 0;
}

static int count_key(const char *key, const char *value, uint32_t *out, char *err, size_t errlen)
{
    if (conf_uint(value, 1000000000, out) < 0) {
        snprintf(err, errlen, "%s: '%s' is not a whole number", key, value);
        return -1;
    }
    return 0;
}

/* network-threshold, network-members, network-v4, network-v6: for rules that count misbehaviour an
 * attacker can spread over many addresses (not volume or backscatter, where big legitimate senders
 * share networks), in IP zones. */
static int network_key(struct zone *z, int k, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_rule *r = &z->rules[k];
    if (z->kind != ZONE_IP || k == RULE_VOLUME || k == RULE_BACKSCATTER || k == RULE_COMPROMISED) {
        snprintf(err, errlen, "%s: networks are not rated by [rule %s] of a %s zone", key, kind_names[k],
                 zone_kind_name(z->kind));
        return -1;
    }
    if (!strcmp(key, "network-threshold")) return count_key(key, value, &r->network_threshold, err, errlen);
    if (!strcmp(key, "network-members")) return count_key(key, value, &r->network_members, err, errlen);
    int v4 = !strcmp(key, "network-v4");
    if (!v4 && strcmp(key, "network-v6")) {
        snprintf(err, errlen, "unknown key '%s' in [rule %s]", key, kind_names[k]);
        return -1;
    }
    uint32_t plen, lo = v4 ? 8 : 32, hi = v4 ? 31 : 63;
    if (conf_uint(value, 128, &plen) < 0 || plen < lo || plen > hi) {
        snprintf(err, errlen, "%s: '%s' is not a prefix length from %u to %u", key, value, lo, hi);
        return -1;
    }
    *(v4 ? &r->network_v4 : &r->network_v6) = (uint8_t)plen;
    return 0;
}

/* slow-window, slow-threshold, slow-account-ips: dha and auth over hours (the feeder's half-hour
 * buckets), for attackers who stay just under the ten-minute thresholds. */
static int slow_key(struct zone *z, int k, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_rule *r = &z->rules[k];
    if (!strcmp(key, "slow-window")) {
        if (duration_key(key, value, 3600, SLOW_WINDOW_MAX, &r->slow_window, err, errlen) < 0)
            return -1;
        if (r->slow_window % 1800) {
            snprintf(err, errlen, "slow-window: '%s' is not a whole number of half hours", value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "slow-threshold")) return count_key(key, value, &r->slow_threshold, err, errlen);
    if (k == RULE_AUTH && z->kind == ZONE_IP && !strcmp(key, "slow-account-ips"))
        return count_key(key, value, &r->slow_account_ips, err, errlen);
    snprintf(err, errlen, "unknown key '%s' in [rule %s]", key, kind_names[k]);
    return -1;
}

static int rule_key(struct zone *z, int k, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_rule *r = &z->rules[k];
    uint32_t wmax = k == RULE_COMPROMISED ? LOGIN_WINDOW_MAX : COUNTER_WINDOW_MAX;
    if (!strncmp(key, "network-", 8))
        return network_key(z, k, key, value, err, errlen);
    if (!strcmp(key, "code")) {
        if (strlen(value) >= sizeof r->code_name) {
            snprintf(err, errlen, "code: '%s' is too long", value);
            return -1;
        }
        strcpy(r->code_name, value);
        return 0;
    }
    if (!strcmp(key, "window")) return duration_key(key, value, 60, wmax, &r->window, err, errlen);
    if (!strcmp(key, "expire")) return duration_key(key, value, 60, 30 * 86400, &r->expire, err, errlen);
    if (!strcmp(key, "max-expire")) return duration_key(key, value, 60, 365 * 86400, &r->max_expire, err, errlen);
    if (!strcmp(key, "threshold") || (k == RULE_COMPROMISED && !strcmp(key, "countries")))
        return count_key(key, value, &r->threshold, err, errlen);
    if (k == RULE_DHA && !strcmp(key, "ratio")) {
        char buf[16];
        snprintf(buf, sizeof buf, "%s", value);
        buf[strcspn(buf, "%")] = '\0';
        if (conf_uint(buf, 100, &r->ratio) < 0) {
            snprintf(err, errlen, "ratio: '%s' is not a percentage from 0 to 100", value);
            return -1;
        }
        return 0;
    }
    if (k == RULE_DHA && !strcmp(key, "count")) return count_key(key, value, &r->count, err, errlen);
    if (k == RULE_AUTH && !strcmp(key, "account-ips")) return count_key(key, value, &r->account_ips, err, errlen);
    if ((k == RULE_DHA || k == RULE_AUTH) && !strncmp(key, "slow-", 5))
        return slow_key(z, k, key, value, err, errlen);
    if (k == RULE_VOLUME && z->kind == ZONE_ACCOUNT && !strcmp(key, "recipients"))
        return count_key(key, value, &r->recipients, err, errlen);
    if (k == RULE_VOLUME && !strcmp(key, "foreign-threshold"))
        return count_key(key, value, &r->foreign_threshold, err, errlen);
    if (k == RULE_COMPROMISED && !strcmp(key, "ips")) return count_key(key, value, &r->ips, err, errlen);
    if ((k == RULE_VOLUME || k == RULE_COMPROMISED) && !strcmp(key, "home-country")) {
        if (strlen(value) != 2 || !isalpha((unsigned char)value[0]) || !isalpha((unsigned char)value[1])) {
            snprintf(err, errlen, "home-country: '%s' is not a two-letter ISO 3166 code", value);
            return -1;
        }
        r->home_country[0] = (char)toupper((unsigned char)value[0]);
        r->home_country[1] = (char)toupper((unsigned char)value[1]);
        r->home_country[2] = '\0';
        return 0;
    }
    snprintf(err, errlen, "unknown key '%s' in [rule %s]", key, kind_names[k]);
    return -1;
}

int rules_key(struct zone *z, const char *section, const char *arg, const char *key, const char *value,
              char *err, size_t errlen)
{
    if (!strcmp(section, "allow"))
        return allow_key(z, key, value, err, errlen);
    if (!strcmp(section, "listing")) {
        if (!strcmp(key, "repeat-memory"))
            return duration_key(key, value, 0, 365 * 86400, &z->repeat_memory, err, errlen);
        snprintf(err, errlen, "unknown key '%s' in [listing] (repeat-memory)", key);
        return -1;
    }
    return rule_key(z, kind_by_name(arg), key, value, err, errlen);
}

int rules_finish(struct zone *z, char *err, size_t errlen)
{
    for (int k = 0; k < RULE_KINDS; k++) {
        struct zone_rule *r = &z->rules[k];
        if (!r->enabled)
            continue;
        const struct zone_code *c = r->code_name[0] ? zone_find_code(z, r->code_name) : NULL;
        if (!c) {
            snprintf(err, errlen, r->code_name[0] ? "[rule %s]: code '%s' is not one of the zone's codes"
                                                  : "[rule %s]: no 'code'", kind_names[k], r->code_name);
            return -1;
        }
        r->code = (int)(c - z->codes);
        if (r->max_expire < r->expire) {
            snprintf(err, errlen, "[rule %s]: max-expire is shorter than expire", kind_names[k]);
            return -1;
        }
        if (r->threshold == 0) {
            snprintf(err, errlen, "[rule %s]: a threshold of 0 would list everything", kind_names[k]);
            return -1;
        }
    }
    return 0;
}

int zone_allows_ip(const struct zone *z, const struct ipaddr *a)
{
    for (int i = 0; i < z->allow.nnets; i++)
        if (net_contains(&z->allow.nets[i], a))
            return 1;
    return 0;
}

int zone_allows_net(const struct zone *z, const struct ipnet *net)
{
    for (int i = 0; i < z->allow.nnets; i++) {
        const struct ipnet *a = &z->allow.nets[i];
        if (net_contains(a, &net->addr) || (a->plen >= net->plen && net_contains(net, &a->addr)))
            return 1;
    }
    return 0;
}

int zone_allows_name(const struct zone *z, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < z->allow.nnames; i++) {
        const char *a = z->allow.names[i];
        size_t alen = strlen(a);
        if (len == alen ? !strcmp(name, a) : (len > alen && name[len - alen - 1] == '.' && !strcmp(name + len - alen, a)))
            return 1;
    }
    return 0;
}
