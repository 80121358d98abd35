/* v4map.c - see v4map.h. */
#include "v4map.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "store.h"

#define BITS_SIZE ((size_t)V4MAP_WORDS * sizeof(uint64_t))     /* 2 MiB */

/* The words, on one 2 MiB-aligned huge page where the kernel grants one (madvise mode): a probe at a
 * random word then costs no TLB miss beside the B-tree's. Zero pages until a bit is set. */
static _Atomic uint64_t *bits_alloc(void)
{
    uint8_t *p = mmap(NULL, 2 * BITS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + BITS_SIZE - 1) & ~(uintptr_t)(BITS_SIZE - 1));
    if (aligned > p)
        munmap(p, (size_t)(aligned - p));
    if (aligned + BITS_SIZE < p + 2 * BITS_SIZE)
        munmap(aligned + BITS_SIZE, (size_t)(p + 2 * BITS_SIZE - (aligned + BITS_SIZE)));
#ifdef MADV_HUGEPAGE
    madvise(aligned, BITS_SIZE, MADV_HUGEPAGE);     /* a hint: without it, ordinary pages */
#endif
    return (_Atomic uint64_t *)(void *)aligned;
}

struct v4map *v4map_new(void)
{
    struct v4map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (!(m->bits = bits_alloc()) || pthread_mutex_init(&m->merge_lock, NULL) != 0) {
        if (m->bits)
            munmap((void *)m->bits, BITS_SIZE);
        free(m);
        return NULL;
    }
    return m;
}

void v4map_free(struct v4map *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->merge_lock);
    munmap((void *)m->bits, BITS_SIZE);
    free(m);
}

/* Chunk c covers /24s c * 4096 .. + 4095, which are words c * 64 .. + 63; byte j bit k of the chunk
 * is /24 c * 4096 + 8 j + k, so eight bytes read little-endian are exactly one word. Only new bits
 * are stored: readers test words while this runs, and see each word either before or after. */
static int merge_chunk(void *arg, unsigned chunk, const uint8_t *bits)
{
    struct v4map *m = arg;
    for (unsigned w = 0; w < 64; w++) {
        const uint8_t *b = bits + 8 * w;
        uint64_t add = 0;
        for (int i = 7; i >= 0; i--)
            add = add << 8 | b[i];
        _Atomic uint64_t *word = &m->bits[chunk * 64 + w];
        uint64_t have = atomic_load_explicit(word, memory_order_relaxed);
        if ((have | add) != have)
            atomic_store_explicit(word, have | add, memory_order_relaxed);
    }
    return 0;
}

typedef int (*map_each_fn)(MDB_txn *txn, MDB_dbi dbi, store_v4map_fn fn, void *arg);

static int sync_map(struct v4map *m, MDB_txn *txn, MDB_dbi dbi, uint32_t gen, map_each_fn each)
{
    if (gen == 0)
        return 0;
    if (atomic_load_explicit(&m->gen, memory_order_acquire) >= gen)
        return 1;
    if (pthread_mutex_trylock(&m->merge_lock) != 0)
        return 0;
    int ok = 1;
    if (atomic_load_explicit(&m->gen, memory_order_relaxed) < gen) {
        ok = each(txn, dbi, merge_chunk, m) == 0;
        if (ok)     /* release: whoever sees this gen sees the bits merged before it */
            atomic_store_explicit(&m->gen, gen, memory_order_release);
    }
    pthread_mutex_unlock(&m->merge_lock);
    return ok;
}

int v4map_sync(struct v4map *m, MDB_txn *txn, MDB_dbi dbi, uint32_t gen)
{
    return sync_map(m, txn, dbi, gen, store_v4map_each);
}

int keymap_sync(struct v4map *m, MDB_txn *txn, MDB_dbi dbi, uint32_t gen)
{
    return sync_map(m, txn, dbi, gen, store_keymap_each);
}
