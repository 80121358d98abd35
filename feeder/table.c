/* table.c - see table.h. */
#include "table.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void hash_key_random(struct hash_key *k)
{
    uint8_t b[16];
    ssize_t got = getrandom(b, sizeof b, GRND_NONBLOCK);
    if (got != (ssize_t)sizeof b) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        got = fd >= 0 ? read(fd, b, sizeof b) : -1;
        if (fd >= 0)
            close(fd);
    }
    if (got == (ssize_t)sizeof b) {
        memcpy(&k->k0, b, 8);
        memcpy(&k->k1, b + 8, 8);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    k->k0 = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
    k->k1 = (uint64_t)getpid() * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)(uintptr_t)k;
}

static inline uint64_t rotl(uint64_t x, int b) { return x << b | x >> (64 - b); }

#define SIPROUND                                                                                          \
    do {                                                                                                  \
        v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);                                         \
        v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;                                                            \
        v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;                                                            \
        v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);                                         \
    } while (0)

/* The reference algorithm (Aumasson and Bernstein), words read little-endian whatever the host. */
uint64_t siphash(const struct hash_key *k, const void *in, size_t len, int c, int d)
{
    const uint8_t *p = in;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k->k0, v1 = 0x646f72616e646f6dULL ^ k->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k->k0, v3 = 0x7465646279746573ULL ^ k->k1;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t m = 0;
        for (int j = 7; j >= 0; j--)
            m = m << 8 | p[i + (size_t)j];
        v3 ^= m;
        for (int r = 0; r < c; r++)
            SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t j = 0; i + j < len; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    for (int r = 0; r < c; r++)
        SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (int r = 0; r < d; r++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t table_hash(const struct table *t, const void *key, size_t len)
{
    return siphash(&t->key, key, len, 1, 3);
}

int table_init(struct table *t, size_t buckets, const struct hash_key *key)
{
    t->key = key ? *key : (struct hash_key){ 0, 0 };
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

uint32_t ltable_hash(const struct ltable *t, const void *key, size_t len)
{
    uint64_t h = siphash(&t->key, key, len, 1, 3);
    return (uint32_t)(h ^ (h >> 32));
}

int ltable_init(struct ltable *t, size_t entries, const struct hash_key *key)
{
    t->key = key ? *key : (struct hash_key){ 0, 0 };
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
