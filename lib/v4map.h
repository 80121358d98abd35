/* v4map.h - a server's in-memory copy of a zone's IPv4 /24 map or key filter (see store.h).
 *
 * One bit per /24: clear means the zone holds no IPv4 entry with a prefix length of 24..32 there, so
 * a lookup needs to search the B-tree only for shorter prefixes, if the zone has any. The copy only
 * ever gains bits: it is the union of every snapshot merged into it, a superset of each of them. It
 * is shared by a server's workers; merging takes a lock, testing a bit does not.
 *
 * The key filter (IPv6 and domain keys) has the same 2^24 bits in the same chunks, so the same
 * structure holds a copy of it: keymap_sync merges the store's filter, keymap_may_hold tests a key
 * (clear: the key is certainly not in the snapshot, no B-tree get needed). */
#ifndef DNSBL_V4MAP_H
#define DNSBL_V4MAP_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store.h"

#define V4MAP_WORDS ((1u << 24) / 64)

struct v4map {
    _Atomic uint32_t gen;               /* the newest map generation merged (store.h: v4_map_gen) */
    pthread_mutex_t merge_lock;
    _Atomic uint64_t *bits;             /* V4MAP_WORDS; bit n: /24 number n (the address's top 24 bits) */
};

struct v4map *v4map_new(void);
void v4map_free(struct v4map *m);

/* Makes the copy cover the snapshot of txn whose meta says map generation gen, merging the store's
 * map if needed. 1: v4map_may_hold may be used for this snapshot. 0: it may not (the zone has no
 * map, another thread is merging, or the store could not be read); search the B-tree instead. */
int v4map_sync(struct v4map *m, MDB_txn *txn, MDB_dbi dbi, uint32_t gen);

static inline uint32_t v4map_index(const uint8_t addr[4])   /* the /24 number: the top 24 bits */
{
    return (uint32_t)addr[0] << 16 | (uint32_t)addr[1] << 8 | addr[2];
}

static inline int v4map_may_hold(struct v4map *m, const uint8_t addr[4])
{
    uint32_t n = v4map_index(addr);
    return (int)(atomic_load_explicit(&m->bits[n / 64], memory_order_relaxed) >> (n % 64) & 1);
}

/* As v4map_sync, for a copy of the key filter (gen: meta.key_map_gen). */
int keymap_sync(struct v4map *m, MDB_txn *txn, MDB_dbi dbi, uint32_t gen);

/* May the store hold the key whose store_key_hash is h? */
static inline int keymap_may_hold_hash(const struct v4map *m, uint64_t h)
{
    uint64_t mask = store_key_filter_mask(h);
    return (atomic_load_explicit(&m->bits[store_key_filter_word(h)], memory_order_relaxed) & mask) == mask;
}

static inline int keymap_may_hold(const struct v4map *m, const uint8_t *key, size_t klen)
{
    return keymap_may_hold_hash(m, store_key_hash(key, klen));
}

/* Starts loading the word keymap_may_hold_hash will test for h. */
static inline void keymap_prefetch_hash(const struct v4map *m, uint64_t h)
{
    __builtin_prefetch(&m->bits[store_key_filter_word(h)]);
}

/* Starts loading the word v4map_may_hold will test for addr. */
static inline void v4map_prefetch(struct v4map *m, const uint8_t addr[4])
{
    __builtin_prefetch(&m->bits[v4map_index(addr) / 64]);
}

#endif
