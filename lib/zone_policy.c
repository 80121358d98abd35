/* zone_policy.c - the [policy] section of a zone file: how the policy endpoints of dnsbl-server
 * (Postfix policy delegation, Dovecot's authentication policy) act on the zone's listings. Every
 * default is here, in zone_policy_finish(), and documented in dnsbl-zone.conf(5), POLICY SECTION. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "zone.h"

enum { SEEN_POSTFIX = 1, SEEN_DOVECOT = 2, SEEN_ACTION = 4, SEEN_CODE = 8, SEEN_TARPIT = 16,
       SEEN_CODES = 32, SEEN_HOME = 64 };

static int seen_once(struct zone_policy *p, unsigned bit, const char *key, char *err, size_t errlen)
{
    if (p->seen & bit) {
        snprintf(err, errlen, "duplicate key '%s' in [policy]", key);
        return -1;
    }
    p->seen |= bit;
    return 0;
}

static int yes_no(const char *key, const char *value, int *out, char *err, size_t errlen)
{
    if (conf_bool(value, out) < 0) {
        snprintf(err, errlen, "%s: '%s' is not yes or no", key, value);
        return -1;
    }
    return 0;
}

int zone_policy_key(struct zone *z, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_policy *p = &z->policy;
    if (!strcmp(key, "postfix")) {
        return seen_once(p, SEEN_POSTFIX, key, err, errlen) < 0 ? -1 : yes_no(key, value, &p->postfix, err, errlen);
    } else if (!strcmp(key, "dovecot")) {
        return seen_once(p, SEEN_DOVECOT, key, err, errlen) < 0 ? -1 : yes_no(key, value, &p->dovecot, err, errlen);
    } else if (!strcmp(key, "postfix-action")) {
        if (seen_once(p, SEEN_ACTION, key, err, errlen) < 0)
            return -1;
        if (!strcmp(value, "reject")) p->defer = 0;
        else if (!strcmp(value, "defer_if_permit")) p->defer = 1;
        else {
            snprintf(err, errlen, "postfix-action: '%s' is not reject or defer_if_permit", value);
            return -1;
        }
    } else if (!strcmp(key, "reject-code")) {
        if (seen_once(p, SEEN_CODE, key, err, errlen) < 0)
            return -1;
        if (conf_uint(value, 599, &p->reject_code) < 0 || p->reject_code < 400) {
            snprintf(err, errlen, "reject-code: '%s' is not an SMTP code from 400 to 599", value);
            return -1;
        }
    } else if (!strcmp(key, "dovecot-tarpit")) {
        if (seen_once(p, SEEN_TARPIT, key, err, errlen) < 0)
            return -1;
        if (conf_duration(value, &p->tarpit) < 0 || p->tarpit > 60) {
            snprintf(err, errlen, "dovecot-tarpit: '%s' is not a delay from 0 to 60 seconds", value);
            return -1;
        }
    } else if (!strcmp(key, "dovecot-codes")) {
        if (seen_once(p, SEEN_CODES, key, err, errlen) < 0)
            return -1;
        if (strlen(value) >= sizeof p->dovecot_code_names) {
            snprintf(err, errlen, "dovecot-codes: longer than %zu characters", sizeof p->dovecot_code_names - 1);
            return -1;
        }
        strcpy(p->dovecot_code_names, value);
    } else if (!strcmp(key, "home-country")) {
        if (seen_once(p, SEEN_HOME, key, err, errlen) < 0)
            return -1;
        if (strlen(value) != 2 || !isalpha((unsigned char)value[0]) || !isalpha((unsigned char)value[1])) {
            snprintf(err, errlen, "home-country: '%s' is not a two-letter ISO 3166 code", value);
            return -1;
        }
        p->home_country[0] = (char)toupper((unsigned char)value[0]);
        p->home_country[1] = (char)toupper((unsigned char)value[1]);
        p->home_country[2] = '\0';
    } else {
        snprintf(err, errlen, "unknown key '%s' in [policy] (postfix, postfix-action, reject-code, dovecot, "
                 "dovecot-codes, dovecot-tarpit, home-country)", key);
        return -1;
    }
    return 0;
}

/* The codes named in a list ("auth, abnormal" or addresses); *mask gets a bit per code index. A name
 * the zone lacks is an error when the list was written, and skipped in the default list. */
static int resolve_codes(const struct zone *z, const char *list, int strict, uint32_t *mask, char *err,
                         size_t errlen)
{
    char item[64];
    *mask = 0;
    for (const char *s = list; *(s += strspn(s, ", \t"));) {
        size_t n = strcspn(s, ", \t");
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), s);
        s += n;
        const struct zone_code *c = zone_find_code(z, item);
        if (c)
            *mask |= 1u << (c - z->codes);
        else if (strict) {
            snprintf(err, errlen, "dovecot-codes: '%s' is not one of the zone's codes", item);
            return -1;
        }
    }
    return 0;
}

int zone_policy_finish(struct zone *z, char *err, size_t errlen)
{
    struct zone_policy *p = &z->policy;
    if (!(p->seen & SEEN_POSTFIX))
        p->postfix = 1;
    if (!(p->seen & SEEN_DOVECOT))
        p->dovecot = z->kind != ZONE_DOMAIN;
    if (z->kind == ZONE_DOMAIN && p->dovecot) {
        snprintf(err, errlen, "[policy] dovecot: a domain zone has nothing a login could be checked against");
        return -1;
    }
    if (!(p->seen & SEEN_CODE))
        p->reject_code = 554;   /* Postfix's maps_rbl_reject_code */
    if ((p->seen & SEEN_ACTION) && z->kind != ZONE_ACCOUNT) {
        snprintf(err, errlen, "[policy] postfix-action is for account zones (ip and domain zones: reject-code)");
        return -1;
    }
    if ((p->seen & SEEN_HOME) && z->kind != ZONE_ACCOUNT) {
        snprintf(err, errlen, "[policy] home-country is for account zones (domestic-only accounts)");
        return -1;
    }
    if (!(p->seen & SEEN_HOME))
        memcpy(p->home_country, z->rules[RULE_COMPROMISED].home_country, 3);
    if (p->seen & SEEN_CODES)
        return resolve_codes(z, p->dovecot_code_names, 1, &p->dovecot_codes, err, errlen);
    /* the reasons that are about logins: guessing, abnormal sessions, compromised accounts */
    return resolve_codes(z, z->kind == ZONE_ACCOUNT ? "auth compromised" : "auth abnormal compromised", 0,
                         &p->dovecot_codes, err, errlen);
}
