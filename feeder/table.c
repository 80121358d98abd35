/* table.c - see table.h. FNV-1a is enough for keys of a few to a few hundred bytes. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

uint64_t table_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

int table_init(struct table *t, size_t buckets)
{
    size_t n = 16;
    while (n < buckets)
        n <<= 1;
    t->buckets = calloc(n, sizeof *t->buckets);
    t->mask = n - 1;
    t->count = 0;
    return t->buckets ? 0 : -1;
}

void table_free(struct table *t)
{
    free(t->buckets);
    t->buckets = NULL;
}

struct hnode *table_get(const struct table *t, const void *key, size_t len, uint64_t hash)
{
    for (struct hnode *n = t->buckets[hash & t->mask]; n; n = n->next)
        if (n->hash == hash && n->keylen == len && !memcmp(n->key, key, len))
            return n;
    return NULL;
}

static int grow(struct table *t)
{
    size_t size = (t->mask + 1) * 2;
    struct hnode **b = calloc(size, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        for (struct hnode *n = t->buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (size - 1)];
            b[n->hash & (size - 1)] = n;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->mask = size - 1;
    return 0;
}

int table_put(struct table *t, struct hnode *n)
{
    if (t->count >= t->mask && grow(t) < 0)
        return -1;
    n->next = t->buckets[n->hash & t->mask];
    t->buckets[n->hash & t->mask] = n;
    t->count++;
    return 0;
}

void table_del(struct table *t, struct hnode *n)
{
    struct hnode **pp = &t->buckets[n->hash & t->mask];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        t->count--;
    }
}
