/* zone.h - zone configuration: one file per zone in the zones directory.
 *
 * A zone file says what the zone is called, what it holds (IP addresses, domains or account hashes),
 * its SOA/NS data (inline, or an RFC 1035 zone file for the apex read with ldns), TTLs, the return
 * codes and their meaning, and the TXT template. README.md documents every key. */
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
    char file[512];             /* where it came from, for messages */
    MDB_dbi dbi;                /* set by zoneset_bind */
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

#endif
