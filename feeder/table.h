/* table.h - an intrusive chained hash table over byte-string keys. Entries embed a struct hnode as
 * their first member and own their key bytes. */
#ifndef FEEDER_TABLE_H
#define FEEDER_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
    struct hnode *next;
    uint64_t hash;
    const uint8_t *key;
    size_t keylen;
};

struct table {
    struct hnode **buckets;
    size_t mask;        /* buckets - 1, a power of two minus one */
    size_t count;
};

uint64_t table_hash(const void *key, size_t len);
int table_init(struct table *t, size_t buckets);
void table_free(struct table *t);
struct hnode *table_get(const struct table *t, const void *key, size_t len, uint64_t hash);
/* The node's hash, key and keylen must be set; the key must not be present yet. 0 or -1 (no memory). */
int table_put(struct table *t, struct hnode *n);
void table_del(struct table *t, struct hnode *n);
/* Forgets every node (their owner frees them), keeping the buckets. */
void table_clear(struct table *t);

/* A leaner table for the feeder's state, which holds millions of entries: a 16-byte node with a
 * 32-bit hash and a coarse last-seen time (event seconds) for eviction. The entry keeps its own key
 * right after its fixed part, so the caller (state.c), which knows the layout, compares keys while
 * walking a chain: ltable_first() and n->next. */
struct lnode {
    struct lnode *next;
    uint32_t hash;
    uint32_t seen;
};

struct ltable {
    struct lnode **buckets;
    size_t mask;
    size_t count;
};

uint32_t ltable_hash(const void *key, size_t len);
/* Buckets for about `entries` entries (it grows past that by itself). 0 or -1. */
int ltable_init(struct ltable *t, size_t entries);
void ltable_free(struct ltable *t);
static inline struct lnode *ltable_first(const struct ltable *t, uint32_t hash) { return t->buckets[hash & t->mask]; }
int ltable_put(struct ltable *t, struct lnode *n);
/* Asks for the bucket of hash to be brought into the cache ahead of an ltable_put. */
static inline void ltable_prefetch(const struct ltable *t, uint32_t hash) { __builtin_prefetch(&t->buckets[hash & t->mask], 1); }
void ltable_del(struct ltable *t, struct lnode *n);

/* The eviction line: entries ordered by (seen, hash); the `need` first of them are ltable_below(). */
struct lcut { uint32_t seen, hash; };
/* Finds the line below which the `need` least recently seen entries fall (need >= 1, <= count), in a
 * few passes over the table and without allocating per entry. Ties (same second and hash) fall
 * together, so slightly more may be below. It depends only on the entries, never on their order in
 * memory: two runs holding the same state evict the same entries. 0, or -1 (no memory). */
int ltable_cut(const struct ltable *t, size_t need, struct lcut *cut);
static inline int ltable_below(const struct lnode *n, const struct lcut *c)
{
    return n->seen < c->seen || (n->seen == c->seen && n->hash <= c->hash);
}

#endif
