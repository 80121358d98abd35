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

#endif
