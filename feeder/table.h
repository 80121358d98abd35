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

/* The secret of the tables' hash (SipHash-1-3). Keys come from log lines an attacker writes (sender
 * domains, accounts, IPv6 addresses of a whole prefix), and with a public hash they could pick keys
 * that share one chain, making every lookup walk all of them. The state's tables take their secret
 * from the store (state_load: made at random once, so that two runs on one store evict alike). */
struct hash_key {
    uint64_t k0, k1;
};

/* A random secret from the kernel (getrandom, else /dev/urandom; when neither gives one, from the
 * time and the PID: still unpredictable enough to a remote attacker). */
void hash_key_random(struct hash_key *k);
/* SipHash-c-d of len bytes; table_hash is SipHash-1-3. */
uint64_t siphash(const struct hash_key *k, const void *in, size_t len, int c, int d);

struct table {
    struct hnode **buckets;
    size_t mask;        /* buckets - 1, a power of two minus one */
    size_t count;
    struct hash_key key;
};

uint64_t table_hash(const struct table *t, const void *key, size_t len);
/* key NULL: the zero key (a table whose entries an attacker cannot multiply). */
int table_init(struct table *t, size_t buckets, const struct hash_key *key);
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
    struct hash_key key;
};

uint32_t ltable_hash(const struct ltable *t, const void *key, size_t len);
/* Buckets for about `entries` entries (it grows past that by itself), hashed with key (NULL: the
 * zero key). 0 or -1. */
int ltable_init(struct ltable *t, size_t entries, const struct hash_key *key);
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
