/* answer.h - build the response to one query from the zone configuration and the store.
 *
 * The caller owns a read transaction and renews it per batch of packets; everything here writes into
 * the caller's output buffer and allocates nothing. */
#ifndef DNSBL_ANSWER_H
#define DNSBL_ANSWER_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "v4map.h"
#include "zone.h"

#define ANSWER_EDNS_SIZE 1232   /* the UDP payload we offer and accept (DNS flag day 2020) */

struct answer_ctx {
    const struct zoneset *zones;
    MDB_txn *txn;               /* a live read transaction */
    uint32_t now;
    size_t txnid;               /* the snapshot meta[] was read from */
    uint64_t meta_valid;        /* bit per zone */
    uint64_t meta_failed;       /* bit per zone: its meta record could not be read (SERVFAIL) */
    uint64_t map_checked, map_ok;   /* bit per zone: v4map_sync asked, and said yes, for this snapshot */
    uint64_t kmap_checked, kmap_ok; /* the same for keymap_sync */
    struct zone_meta meta[ZONESET_MAX];
    struct v4map *const *v4maps;    /* by zone slot (slot 0: none), or NULL: no /24 maps */
    struct v4map *const *keymaps;   /* key filters (IPv6, domain keys) the same way, or NULL */
    _Atomic(struct store_index *) const *indexes;   /* the indexer's (indexer.h) the same way, or NULL */
    uint64_t index_used;        /* bit per zone: an index answered (for tests) */
};

/* What happened, for counters and the query log. */
struct answer_info {
    int zone;                   /* index in zones, -1 when out of zone */
    uint16_t qtype;
    uint8_t rcode;
    uint8_t listed;
};

/* Call when zones or the transaction's snapshot may have changed. */
void answer_ctx_invalidate(struct answer_ctx *ctx);

struct dns_query;

/* What the answer to a question needs before any lookup, worked out once: its zone and, for a domain
 * zone, the name below the apex with the key filter hashes of the keys a lookup tests. hash_tag[i]
 * says which key hash[i] belongs to: for a domain zone the length of a 'D' key (one per label
 * suffix, longest first), for an IPv6 question the prefix length of a network key. */
#define ANSWER_PREP_HASHES 8
struct answer_prep {
    int zone;                   /* the zone index, -1 when out of every zone */
    int domain_len;             /* -1: not a name in a domain zone */
    char domain[DOMAIN_MAX + 1];
    uint8_t has_addr;           /* addr: the IPv6 address an IP zone question names */
    uint8_t nhash;
    uint16_t hash_tag[ANSWER_PREP_HASHES];
    uint64_t hash[ANSWER_PREP_HASHES];
    uint64_t parent_hash;       /* 'P' + domain: anything listed below the name (domain_len > 0) */
    struct ipaddr addr;
};

/* prep for q (query_parse's result, whatever its status), and a hint before a batch: starts loading
 * what answering it will read (the /24 map word of an IPv4 question, the key filter words of an
 * IPv6 or domain one), so that the batch's cache misses overlap. */
void answer_prefetch(const struct answer_ctx *ctx, const struct dns_query *q, struct answer_prep *prep);

/* The second step of the hint, once the batch's answer_prefetch calls are done: for a zone with a key
 * filter, starts loading the index slots of the keys the filter (its words loaded by now) may hold,
 * and only those: a domain question tests a key per label suffix, most of them absent. */
void answer_prefetch_index(const struct answer_ctx *ctx, const struct answer_prep *prep);

/* The response to q, which query_parse made from pkt (the answer echoes pkt's question as sent);
 * prep is answer_prefetch's for q under the same zones, or NULL (then it is worked out here).
 * Returns its length, or 0 when the packet deserves no answer. outcap is at least 512; over UDP the
 * response is also kept within the client's EDNS size (TC set when it does not fit). A store read
 * that fails answers SERVFAIL, in every zone kind. */
size_t answer_parsed(struct answer_ctx *ctx, const struct dns_query *q, const struct answer_prep *prep,
                     const uint8_t *pkt, uint8_t *out, size_t outcap, int tcp, struct answer_info *info);

/* query_parse, then answer_parsed: for callers that have only the packet. */
size_t answer_query(struct answer_ctx *ctx, const uint8_t *pkt, size_t len, uint8_t *out,
                    size_t outcap, int tcp, struct answer_info *info);

#endif
