/* xfr_records.h - a zone's listings as the records of a plain DNS zone, for zone transfers (xfr.c)
 * and for `dnsblctl export --format zone`: one generator, so both always say the same.
 *
 * A secondary (Knot, NSD, BIND) answers from these records with the ordinary DNS rules: an exact
 * name, else the wildcard of the closest existing ancestor. The generator emits what makes those
 * rules give the server's own answer: IPv4 /32 and IPv6 /128 listings as names, networks as
 * wildcards at octet (IPv4) or nibble (IPv6) boundaries, other prefix lengths expanded to the next
 * boundary, domain listings as names and wildcards, and "fill-in" wildcards (and, in domain zones,
 * names) wherever a more specific listing would otherwise hide a covering network's wildcard. Each
 * listed name gets one A record per live code and one TXT, the TTL the server would give now. */
#ifndef DNSBL_XFR_RECORDS_H
#define DNSBL_XFR_RECORDS_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "zone.h"

#define XFR_EXPAND_MAX 65536    /* names one entry may expand to; a larger one is skipped */
#define XFR_SOA_MAX 600         /* SOA rdata: two names and five numbers */

struct xfr_rr {
    const uint8_t *rel;         /* owner below the zone in wire form, without the zone; empty: apex */
    size_t rel_len;
    uint16_t type;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
};

struct xfr_stats {
    size_t entries;             /* live store entries read */
    size_t names;               /* owner names given records */
    size_t rrs;                 /* records, the SOA not counted */
    size_t fills;               /* names and wildcards added for a covering network or wildcard */
    size_t holes;               /* allow entries inside a listed network that a zone cannot express */
    size_t skipped;             /* entries not expressible: too many names, too long, unreadable */
    size_t ambiguous;           /* IPv4 wildcards whose reversed names IPv6 queries share */
};

/* Returns 0 to go on, anything else to stop the generation. */
typedef int (*xfr_rr_fn)(void *ud, const struct xfr_rr *rr);

/* The zone's serial in this snapshot (as its SOA says: never 0). */
uint32_t xfr_serial(const struct zone *z, MDB_txn *txn);
/* The SOA record with that serial; rr->rdata points into buf (XFR_SOA_MAX bytes). */
void xfr_soa(const struct zone *z, uint32_t serial, uint8_t *buf, struct xfr_rr *rr);
/* Every record of the zone but the SOA, from one snapshot: the apex records first, then the listed
 * names. Returns 0, or -1 when the store or memory failed or fn stopped it. */
int xfr_records(const struct zone *z, MDB_txn *txn, uint32_t now, xfr_rr_fn fn, void *ud,
                struct xfr_stats *st);
/* The same, a piece at a time, for a transfer written as the connection drains: the apex records,
 * then (IP zones without prefixes shorter than 8 bits) the names below one first address byte per
 * call, so that memory holds one piece's entries; other zones in one piece. txn must outlive the
 * iterator. xfr_iter_next: 1 more to come, 0 done, -1 the store or memory failed or fn stopped it. */
struct xfr_iter;
struct xfr_iter *xfr_iter_new(const struct zone *z, MDB_txn *txn, uint32_t now, struct xfr_stats *st);
int xfr_iter_next(struct xfr_iter *it, xfr_rr_fn fn, void *ud);
void xfr_iter_free(struct xfr_iter *it);
/* The same for the zone as it was before the changes ch (store_journal_changes), as of `now`. */
int xfr_records_at(const struct zone *z, MDB_txn *txn, const struct store_changes *ch, uint32_t now,
                   xfr_rr_fn fn, void *ud, struct xfr_stats *st);

/* Owner names a change can touch: the names of the changed entries ("nodes", with everything below
 * them: their answers include a covering entry's reasons) and every name above a node (whose
 * existence and fill-in wildcards depend on what is below) with its children (an allow hole below
 * a wildcard is expressed by the wildcard's sibling names). Wire form below the zone. */
struct xfr_name { const uint8_t *p; size_t len; uint8_t buf[256]; };     /* p NULL: the name is buf */
struct xfr_region {
    struct xfr_name *nodes, *above;
    size_t nnodes, nabove;
    int all;                    /* a change at the apex: every name */
    uint64_t bloom[1024];       /* a bit per hash of every name of both sets: most owners miss it */
};
int xfr_region_build(const struct store_changes *ch, struct xfr_region *r);
/* Does the owner (wire form below the zone) belong to the region? */
int xfr_region_has(const struct xfr_region *r, const uint8_t *rel, size_t len);
void xfr_region_free(struct xfr_region *r);

#endif
