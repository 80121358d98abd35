/* store_index.c - see store_index.h. */
#include "store_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "store.h"

#define HUGE_PAGE ((size_t)2 << 20)
#define ARENA_MAX ((size_t)UINT32_MAX * 8)  /* what a slot's offset can address */

size_t store_index_slot_bytes(size_t nkeys)
{
    size_t slots = 16;
    while (slots / 4 * 3 < nkeys) {     /* at most 3/4 full: a miss ends after a few probes */
        if (slots > SIZE_MAX / 4 / sizeof(struct store_index_slot))
            return 0;
        slots *= 2;
    }
    return slots * sizeof(struct store_index_slot);
}

/* Zero pages of address space, on huge pages where the kernel grants them (a probe is a random
 * access over tens of MB: with 4 KiB pages, a TLB miss each). Only pages written take memory. */
static void *space_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);   /* a hint: without it, ordinary pages */
#endif
    return p;
}

/* Appends an entry to the arena and its slot to the table: 0, 1 when the arena is full, or 2 when the
 * slot is more than STORE_INDEX_BUILD_PROBE_MAX away from its place (keys with colliding hashes). */
static int insert(struct store_index *ix, const MDB_val *k, const MDB_val *v)
{
    size_t need = (4 + k->mv_size + v->mv_size + 7) & ~(size_t)7;
    if (ix->arena_used + need > ix->arena_bytes)
        return 1;
    uint8_t *e = ix->arena + ix->arena_used;
    e[0] = (uint8_t)k->mv_size, e[1] = (uint8_t)(k->mv_size >> 8);
    e[2] = (uint8_t)v->mv_size, e[3] = (uint8_t)(v->mv_size >> 8);
    memcpy(e + 4, k->mv_data, k->mv_size);
    memcpy(e + 4 + k->mv_size, v->mv_data, v->mv_size);
    uint64_t h = store_key_hash(k->mv_data, k->mv_size);
    size_t i = store_index_pos(ix, h);
    for (int n = 0; ix->slots[i].off; n++, i = (i + 1) & ix->mask)
        if (n == STORE_INDEX_BUILD_PROBE_MAX)
            return 2;
    ix->slots[i] = (struct store_index_slot){ store_index_tag(h), (uint32_t)(ix->arena_used / 8) };
    ix->arena_used += need;
    ix->nkeys++;
    return 0;
}

/* Every entry key: those after the 0x00 keys (meta, maps, journal). 0, 1 too big, or an LMDB error. */
static int fill(struct store_index *ix, MDB_txn *txn, size_t max_keys)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ix->dbi, &cur);
    if (rc != 0)
        return rc;
    uint8_t first = 0x01;
    MDB_val k = { 1, &first }, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (ix->nkeys >= max_keys || k.mv_size > UINT16_MAX || v.mv_size > UINT16_MAX) {
            rc = MDB_CORRUPTED;     /* more than mdb_stat counted, or an entry no writer makes */
            break;
        }
        if ((rc = insert(ix, &k, &v)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;     /* or insert's 1 or 2 */
}

/* Sizes and maps the table and the arena's address space: 0, 1 too big, -1 no memory. */
static int reserve(struct store_index *ix, size_t nkeys, size_t max_bytes)
{
    ix->slot_bytes = store_index_slot_bytes(nkeys);
    if (ix->slot_bytes == 0 || ix->slot_bytes >= max_bytes)
        return 1;
    ix->mask = ix->slot_bytes / sizeof(struct store_index_slot) - 1;
    ix->arena_bytes = max_bytes - ix->slot_bytes < ARENA_MAX ? max_bytes - ix->slot_bytes : ARENA_MAX;
    if (!(ix->slots = space_alloc(ix->slot_bytes)) || !(ix->arena = space_alloc(ix->arena_bytes)))
        return -1;
    ix->arena_used = 8;     /* offset 0 marks an empty slot */
    return 0;
}

/* Gives back the arena's address space past what it holds. */
static void trim(struct store_index *ix)
{
    size_t keep = (ix->arena_used + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (keep < ix->arena_bytes) {
        munmap(ix->arena + keep, ix->arena_bytes - keep);
        ix->arena_bytes = keep;
    }
    ix->bytes = ix->slot_bytes + ix->arena_used;
}

int store_index_build(MDB_env *env, MDB_dbi dbi, size_t max_bytes, struct store_index **out, char *err,
                      size_t errlen)
{
    struct store_index *ix = calloc(1, sizeof *ix);
    struct zone_meta meta;
    MDB_txn *txn = NULL;
    MDB_stat st;
    int rc;
    *out = NULL;
    if (!ix) {
        snprintf(err, errlen, "no memory");
        return -1;
    }
    ix->dbi = dbi;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 || (rc = mdb_stat(txn, dbi, &st)) != 0)
        goto fail;
    if (store_read_meta(txn, dbi, &meta) < 0) {
        rc = MDB_CORRUPTED;
        goto fail;
    }
    ix->serial = meta.serial;
    if ((rc = reserve(ix, st.ms_entries, max_bytes)) == 0)
        rc = fill(ix, txn, st.ms_entries);
    mdb_txn_abort(txn);
    if (rc == 0) {
        trim(ix);
        *out = ix;
        return 0;
    }
    store_index_free(ix);
    if (rc == -1)
        snprintf(err, errlen, "no memory");
    else if (rc == 2)
        snprintf(err, errlen, "its keys cluster in the hash table (more than %d colliding hashes: crafted "
                 "names?)", STORE_INDEX_BUILD_PROBE_MAX);
    else if (rc != 1)
        snprintf(err, errlen, "%s", mdb_strerror(rc));
    return rc == 1 || rc == 2 ? rc : -1;
fail:
    snprintf(err, errlen, "%s", mdb_strerror(rc));
    if (txn)
        mdb_txn_abort(txn);
    store_index_free(ix);
    return -1;
}

void store_index_free(struct store_index *ix)
{
    if (!ix)
        return;
    if (ix->slots)
        munmap(ix->slots, ix->slot_bytes);
    if (ix->arena)
        munmap(ix->arena, ix->arena_bytes);
    free(ix);
}
