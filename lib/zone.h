/* zone.h - zone configuration: one file per zone in the zones directory.
 *
 * A zone file says what the zone is called, what it holds (IP addresses, domains or account hashes),
 * its SOA/NS data (inline, or an RFC 1035 zone file for the apex read with ldns), TTLs, the return
 * codes and their meaning, and the TXT template. dnsbl-zone.conf(5) documents every key. */
#ifndef DNSBL_ZONE_H
#define DNSBL_ZONE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct store;

enum zone_kind { ZONE_IP, ZONE_DOMAIN, ZONE_ACCOUNT };

#define ZONE_MAX_CODES 16
#define ZONE_TXT_MAX 256

struct zone_code {
    uint32_t addr;          /* host order, inside 127.0.0.0/8 */
    char name[32];          /* short name used by dnsblctl --code and by rules */
    char meaning[200];      /* default reason text */
};

/* A record served as it is: the SOA and NS of the apex and anything else in the apex file. */
struct zone_rr {
    uint8_t owner[256];     /* wire form, lower case */
    uint8_t owner_len;
    uint16_t type;
    uint32_t ttl;
    uint16_t rdlen;
    uint8_t *rdata;         /* uncompressed wire form */
};

/* The feeder's rules (dnsbl-feeder(8), RULES). Each zone enables the kinds that apply to what it lists: an IP
 * zone rates client addresses, a domain zone sender domains, an account zone SASL/IMAP accounts. */
enum rule_kind { RULE_DHA, RULE_BACKSCATTER, RULE_AUTH, RULE_VOLUME, RULE_COMPROMISED,
                 RULE_ABNORMAL,     /* sessions that end without a message: hang-ups, timeouts, pregreet */
                 RULE_KINDS };

struct zone_rule {
    int enabled;
    int code;                   /* index into the zone's codes */
    uint32_t window;            /* seconds */
    uint32_t threshold;         /* dha: unknown RCPTs; backscatter: NDRs; auth: failures;
                                   volume: messages; compromised: countries */
    uint32_t ratio;             /* dha: percent of RCPTs unknown */
    uint32_t count;             /* dha: this many unknown RCPTs list whatever the ratio (0 = off) */
    uint32_t account_ips;       /* auth: one account failing from this many addresses (0 = off) */
    /* The slow window (dha, auth): an attack kept under the threshold for hours still adds up */
    uint32_t slow_window;       /* seconds, in half-hour steps */
    uint32_t slow_threshold;    /* dha: unknown RCPTs (at the ratio); auth: failures (0 = off) */
    uint32_t slow_account_ips;  /* auth, IP zones: one account failing from this many addresses (0 = off) */
    uint32_t recipients;        /* volume, account zones: this many recipients also list (0 = off) */
    uint32_t foreign_threshold; /* volume: for clients outside home-country (0 = threshold) */
    uint32_t ips;               /* compromised: distinct addresses also flag (0 = off) */
    uint32_t expire;            /* listing lasts this long after the last offending event */
    uint32_t max_expire;        /* repeat offenders: doubling up to this */
    char home_country[3];       /* ISO 3166 code, upper case */
    char code_name[32];         /* as written; resolved once the whole file is read */
    /* Networks (IP zones; not volume, backscatter): members' counts together (0 = off) */
    uint32_t network_threshold; /* the rule's threshold for the network's sum (dha: ratio too) */
    uint32_t network_members;   /* ... with at least this many distinct members contributing */
    uint8_t network_v4;         /* IPv4 addresses count toward their /network_v4 (8..31) */
    uint8_t network_v6;         /* IPv6 /64s count toward their /network_v6 (32..63) */
};

struct zone_allow {
    struct ipnet *nets;
    int nnets;
    char **names;               /* domains (and their subdomains) or accounts, lower case */
    int nnames;
};

/* Zone transfers (docs/transfers.md): who may AXFR/IXFR the zone, and whom to NOTIFY. */
#define ZONE_MAX_XFR_ACL 32
#define ZONE_MAX_NOTIFY 8
#define ZONE_NOTIFY_INTERVAL 5      /* seconds, when notify-interval is not set */

struct zone_notify_target {
    struct ipaddr addr;
    uint16_t port;
};

struct zone_xfr {
    struct ipnet acl[ZONE_MAX_XFR_ACL];     /* allow-transfer; empty: nobody */
    int nacl;
    struct zone_notify_target notify[ZONE_MAX_NOTIFY];
    int nnotify;
    uint32_t notify_interval;               /* seconds; 0: ZONE_NOTIFY_INTERVAL */
    uint32_t journal_age, journal_size;     /* ixfr-journal-age/-size; 0: the store's defaults */
};

/* The policy endpoints (dnsbl-server --policy-postfix, --policy-dovecot; dnsbl-server(8), POLICY): the
 * [policy] section, lib/zone_policy.c. */
struct zone_policy {
    int postfix;                /* the Postfix endpoint consults the zone (default yes) */
    int dovecot;                /* the Dovecot endpoint does (default yes; never a domain zone) */
    int defer;                  /* account zone: DEFER_IF_PERMIT instead of REJECT */
    uint32_t reject_code;       /* ip/domain zone: the SMTP code of the reject_rbl_client-style answer */
    uint32_t tarpit;            /* Dovecot: delay a listed login this many seconds instead of refusing */
    uint32_t dovecot_codes;     /* bit per index in codes[]: listings with these codes stop logins */
    char home_country[3];       /* account zone: where domestic-only accounts may log in from */
    char dovecot_code_names[200];   /* as written; resolved once the whole file is read */
    unsigned seen;              /* bit per key, for duplicates and defaults */
};

struct zone {
    char name[DOMAIN_MAX + 1];  /* lower case, no trailing dot */
    uint8_t wire[256];
    uint8_t wire_len;
    uint8_t nlabels;
    enum zone_kind kind;
    uint32_t ttl;               /* of listings and apex records */
    uint32_t negative_ttl;      /* of NXDOMAIN/NODATA (the SOA in the authority section) */
    int test_points;            /* answer the RFC 5782 test points */
    char txt[ZONE_TXT_MAX];     /* template: {reason} {addr} {zone} {code} */
    struct zone_code codes[ZONE_MAX_CODES];
    int ncodes;
    int default_code;           /* index into codes */
    struct zone_rr *rrs;
    int nrrs;
    int soa;                    /* index of the SOA in rrs */
    struct zone_rule rules[RULE_KINDS];
    struct zone_allow allow;
    uint32_t repeat_memory;     /* an offence is remembered this long after its listing ends */
    char file[512];             /* where it came from, for messages */
    MDB_dbi dbi;                /* set by zoneset_bind */
    struct zone_xfr xfr;        /* zone transfers and NOTIFY (zone_xfr.c) */
    int slot;                   /* the program's own index for this zone (dnsbl-server: metrics) */
    struct zone_policy policy;  /* the policy endpoints ([policy]) */
};

#define ZONESET_MAX 64          /* zones one server answers for */

struct zoneset {
    struct zone *zones;
    int n;
};

/* Reads every "*.conf" in dir. On error nothing is returned and err says file, line and reason. */
int zoneset_load(const char *dir, struct zoneset *out, char *err, size_t errlen);
void zoneset_free(struct zoneset *zs);
/* Opens the store's sub-database of every zone. */
int zoneset_bind(struct zoneset *zs, struct store *st, char *err, size_t errlen);
struct zone *zoneset_find(const struct zoneset *zs, const char *name);

/* By name ("dha") or address ("127.0.0.2"); NULL if the zone has no such code. */
const struct zone_code *zone_find_code(const struct zone *z, const char *name_or_addr);
const struct zone_code *zone_code_by_addr(const struct zone *z, uint32_t addr);
const char *zone_kind_name(enum zone_kind kind);
const char *rule_kind_name(enum rule_kind kind);

/* zone_rules.c: the [rule KIND], [allow] and [listing] sections. */
struct zone_parse;
int rules_section(struct zone *z, const char *section, const char *arg, char *err, size_t errlen);
int rules_key(struct zone *z, const char *section, const char *arg, const char *key, const char *value,
              char *err, size_t errlen);
int rules_finish(struct zone *z, char *err, size_t errlen);
void rules_defaults(struct zone *z);
void rules_release(struct zone *z);
/* Is the address, domain (or a parent) or account on the zone's allowlist? */
int zone_allows_ip(const struct zone *z, const struct ipaddr *a);
/* Does an allowlisted network overlap net (so that listing net would list something allowed)? */
int zone_allows_net(const struct zone *z, const struct ipnet *net);
int zone_allows_name(const struct zone *z, const char *name);

/* zone_policy.c: the [policy] section's keys (0, or -1 with err) and its defaults, once the whole
 * file is read. */
int zone_policy_key(struct zone *z, const char *key, const char *value, char *err, size_t errlen);
int zone_policy_finish(struct zone *z, char *err, size_t errlen);

/* zone_xfr.c: the [zone] keys allow-transfer, notify and notify-interval. Returns 0 when key is
 * none of them; otherwise 1 with *rc set to 0, or to -1 and a reason in err. */
int zone_xfr_key(struct zone *z, const char *key, const char *value, int *rc, char *err, size_t errlen);
/* May this address transfer the zone? */
int zone_xfr_allowed(const struct zone *z, const struct ipaddr *a);
/* Does the zone take part in transfers at all (an ACL or NOTIFY targets)? */
int zone_xfr_enabled(const struct zone *z);
uint32_t zone_notify_interval(const struct zone *z);

#endif
