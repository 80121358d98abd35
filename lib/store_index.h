/* store_index.h - an in-memory copy of one zone's entries at one serial, for dnsbl-server.
 *
 * A B-tree get of a listed key is a search through a leaf page that is rarely in any cache: several
 * cache lines of it, one after the other, and a TLB miss for the page. The index finds the same
 * entry with one probe into a hash table of 8-byte slots and one read of the entry, both on huge
 * pages; the slot is prefetched a batch ahead by the answer path (store_index_prefetch, for the keys
 * the zone's key filter may hold; a pass prefetching the entries as well measured no gain).
 *
 * Validity: an index answers for a reader's snapshot only if the zone has the same serial there (the
 * store's contract: every write that changes a zone's entries raises its serial), so an answer is
 * the one the reader's own snapshot gives. It holds every entry key of the zone (all but the 0x00
 * keys), so a key it lacks is absent from that snapshot too. */
#ifndef DNSBL_STORE_INDEX_H
#define DNSBL_STORE_INDEX_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* An entry in the arena, 8-byte aligned: key length u16, value length u16, key, value. */
struct store_index_slot {
    uint32_t tag;               /* bits of the key's hash not used to pick the slot */
    uint32_t off;               /* the entry's offset in the arena in 8-byte units; 0: empty */
};

struct store_index {
    MDB_dbi dbi;
    uint32_t serial;            /* the zone's serial at the snapshot copied */
    size_t nkeys;
    size_t mask;                /* slots - 1 (a power of two, at most 3/4 full) */
    struct store_index_slot *slots;
    uint8_t *arena;
    size_t slot_bytes, arena_bytes, arena_used;
    size_t bytes;               /* what it takes: the slots and the arena in use */
};

/* The slot table's bytes for n keys (0 when n is absurd). */
size_t store_index_slot_bytes(size_t nkeys);

/* Copies the zone in dbi at the current snapshot of env. 0 done (*out set), 1 when it would take
 * more than max_bytes (nothing built), 2 when its keys cluster past STORE_INDEX_BUILD_PROBE_MAX
 * (nothing built; err says), -1 on an LMDB error or no memory (err says). */
int store_index_build(MDB_env *env, MDB_dbi dbi, size_t max_bytes, struct store_index **out, char *err,
                      size_t errlen);
void store_index_free(struct store_index *ix);     /* NULL is fine */

static inline size_t store_index_pos(const struct store_index *ix, uint64_t h)
{
    return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 32) & ix->mask;
}

static inline uint32_t store_index_tag(uint64_t h)
{
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

static inline const uint8_t *store_index_entry(const struct store_index *ix, const struct store_index_slot *s)
{
    return ix->arena + (size_t)s->off * 8;
}

/* Probe lengths. store_key_hash is public and unkeyed: whoever can get names listed can choose names
 * whose hashes collide, and with linear probing every lookup near them would walk the whole run. A
 * lookup gives up after STORE_INDEX_PROBE_MAX slots (the caller asks the B-tree instead, whose cost
 * no hash decides), and a build fails when an insert walks STORE_INDEX_BUILD_PROBE_MAX (the zone is
 * then answered from the store). Random keys in a table at most 3/4 full reach neither but rarely
 * the first. */
#define STORE_INDEX_PROBE_MAX 64
#define STORE_INDEX_BUILD_PROBE_MAX 1024

/* Finds the key whose store_key_hash is h: 1 and its value in *val, 0 when the snapshot lacks it, -1
 * when the key is further than STORE_INDEX_PROBE_MAX slots from its place (look in the store). */
static inline int store_index_find(const struct store_index *ix, uint64_t h, const uint8_t *key, size_t klen,
                                   MDB_val *val)
{
    uint32_t tag = store_index_tag(h);
    size_t i = store_index_pos(ix, h);
    for (int n = 0; n < STORE_INDEX_PROBE_MAX; n++, i = (i + 1) & ix->mask) {
        const struct store_index_slot *s = &ix->slots[i];
        if (!s->off)
            return 0;
        const uint8_t *e = store_index_entry(ix, s);
        size_t elen = (size_t)e[0] | (size_t)e[1] << 8;
        if (s->tag == tag && elen == klen && memcmp(e + 4, key, klen) == 0) {
            val->mv_data = (void *)(e + 4 + klen);
            val->mv_size = (size_t)e[2] | (size_t)e[3] << 8;
            return 1;
        }
    }
    return -1;
}

static inline void store_index_prefetch(const struct store_index *ix, uint64_t h)
{
    __builtin_prefetch(&ix->slots[store_index_pos(ix, h)]);
}

#endif
