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

void table_clear(struct table *t)
{
    memset(t->buckets, 0, (t->mask + 1) * sizeof *t->buckets);
    t->count = 0;
}

/* ---- ltable ---- */

uint32_t ltable_hash(const void *key, size_t len)
{
    uint64_t h = table_hash(key, len);
    return (uint32_t)(h ^ (h >> 32));
}

int ltable_init(struct ltable *t, size_t entries)
{
    size_t n = 16;
    while (n < entries)
        n <<= 1;
    t->buckets = calloc(n, sizeof *t->buckets);
    t->mask = n - 1;
    t->count = 0;
    return t->buckets ? 0 : -1;
}

void ltable_free(struct ltable *t)
{
    free(t->buckets);
    t->buckets = NULL;
}

static int lgrow(struct ltable *t)
{
    size_t size = (t->mask + 1) * 2;
    struct lnode **b = calloc(size, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        for (struct lnode *n = t->buckets[i], *next; n; n = next) {
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

int ltable_put(struct ltable *t, struct lnode *n)
{
    /* a load of up to 1 before doubling, and chains cannot be longer than 32-bit hashes allow */
    if (t->count > t->mask && t->mask < UINT32_MAX && lgrow(t) < 0 && t->count > 4 * t->mask)
        return -1;
    n->next = t->buckets[n->hash & t->mask];
    t->buckets[n->hash & t->mask] = n;
    t->count++;
    return 0;
}

void ltable_del(struct ltable *t, struct lnode *n)
{
    struct lnode **pp = &t->buckets[n->hash & t->mask];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = n->next;
        t->count--;
    }
}

#define CUT_BINS_MAX 65536     /* 256 KB of counts: a big table is cut in two passes per key part */

/* One histogram pass over the entries whose seen is in [lo, hi] (or, with by_hash, whose seen is lo),
 * binned by seen or by hash; then narrows the range to the bin where the need-th entry falls. */
struct cut_pass {
    uint32_t lo, hi;        /* seen range, or hash range when by_hash */
    uint32_t seen;          /* by_hash: the one second left */
    int by_hash;
    size_t need;            /* entries still wanted from the range */
    size_t bins;            /* a power of two: more passes over a small table, each cheaper */
};

static void cut_narrow(const struct ltable *t, struct cut_pass *p, uint32_t *bins)
{
    uint64_t width = ((uint64_t)p->hi - p->lo) / p->bins + 1;
    memset(bins, 0, p->bins * sizeof *bins);
    for (size_t i = 0; i <= t->mask; i++)
        for (const struct lnode *n = t->buckets[i]; n; n = n->next) {
            uint32_t v = p->by_hash ? n->hash : n->seen;
            if ((p->by_hash && n->seen != p->seen) || v < p->lo || v > p->hi)
                continue;
            bins[(v - p->lo) / width]++;
        }
    size_t b = 0;
    while (bins[b] < p->need) {     /* the range holds at least need entries: this ends */
        p->need -= bins[b];
        b++;
    }
    p->lo = (uint32_t)(p->lo + b * width);
    p->hi = (uint32_t)(p->lo + width - 1);
}

int ltable_cut(const struct ltable *t, size_t need, struct lcut *cut)
{
    struct cut_pass p = { 0, UINT32_MAX, 0, 0, need, 256 };
    while (p.bins < CUT_BINS_MAX && p.bins < t->count)
        p.bins <<= 1;
    uint32_t *bins = malloc(p.bins * sizeof *bins);
    if (!bins)
        return -1;
    do
        cut_narrow(t, &p, bins);
    while (p.lo != p.hi);
    cut->seen = p.seen = p.lo;
    p.by_hash = 1;
    p.lo = 0;
    p.hi = UINT32_MAX;
    do
        cut_narrow(t, &p, bins);
    while (p.lo != p.hi);
    cut->hash = p.lo;
    free(bins);
    return 0;
}
