/* test_store_index.c - the in-memory index of a zone: it holds exactly the snapshot's entry keys
 * with their values byte for byte (no 0x00 key: meta, maps, journal, descendant index), finds no
 * absent key, records the snapshot's serial, and refuses to grow past its memory bound. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_index.h"
#include "testutil.h"

#define NOW 1700000000u

static struct zoneset zs;
static struct store st;
static char dir[64];

static void setup(void)
{
    shipped_store_open(&zs, &st, dir, sizeof dir, "test_store_index");
}

static void teardown(void)
{
    shipped_store_close(&zs, &st, dir);
}

TestSuite(store_index, .init = setup, .fini = teardown);

static uint32_t rnd_state = 99;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* n random entries of every key kind, texts of random length (values of many sizes). */
static void fill_zone(MDB_dbi dbi, int n)
{
    static const char text[] = "a reason text long enough to make values of very different sizes, "
                               "up to well past one cache line of the arena";
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (int i = 0; i < n; i++) {
        uint8_t key[STORE_KEY_MAX];
        size_t klen;
        struct ipnet net = { 0 };
        char name[64];
        switch (rnd() % 3) {
        case 0:
            net.addr.family = ADDR_V4;
            for (int b = 0; b < 4; b++)
                net.addr.bytes[b] = (uint8_t)rnd();
            net.plen = (uint8_t)(rnd() % 2 ? 32 : 24);
            net_clear_host_bits(&net);
            klen = store_key_net(&net, key);
            break;
        case 1:
            net.addr.family = ADDR_V6;
            for (int b = 0; b < 16; b++)
                net.addr.bytes[b] = (uint8_t)rnd();
            net.plen = 64;
            net_clear_host_bits(&net);
            klen = store_key_net(&net, key);
            break;
        default:
            snprintf(name, sizeof name, "h%u.d%u.example", rnd() % 100000, rnd() % 50);
            klen = store_key_domain(name, strlen(name), key);
        }
        struct listing l = { .nreasons = 1, .since = NOW };
        l.reasons[0] = (struct reason){ 0x7f000002u, rnd() % 2 ? 0 : NOW + 100, (uint8_t)(rnd() % sizeof text), text };
        cr_assert_eq(store_put(&w, dbi, key, klen, &l, 0), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

/* Every entry of the snapshot is found with its exact value; the count matches. */
static void expect_exact_copy(const struct store_index *ix, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v, found = { 0, NULL };
    size_t entries = 0, zero_keys = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t h = store_key_hash(k.mv_data, k.mv_size);
        int hit = store_index_find(ix, h, k.mv_data, k.mv_size, &found);
        if (((const uint8_t *)k.mv_data)[0] == 0) {
            zero_keys++;
            cr_assert_neq(hit, 1, "a 0x00 key (meta, map, journal) is no entry");
            continue;
        }
        entries++;
        cr_assert_eq(hit, 1, "entry %zu missing", entries);
        cr_assert_eq(found.mv_size, v.mv_size);
        cr_assert(!memcmp(found.mv_data, v.mv_data, v.mv_size));
    }
    cr_assert_gt(zero_keys, 0, "the zone has meta keys the index must skip");
    cr_assert_eq(ix->nkeys, entries);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

Test(store_index, holds_exactly_the_entries)
{
    struct zone *z = zoneset_find(&zs, "bl.example");
    fill_zone(z->dbi, 3000);
    struct store_index *ix;
    char err[256];
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)64 << 20, &ix, err, sizeof err), 0, "%s", err);
    expect_exact_copy(ix, z->dbi);
    for (int i = 0; i < 5000; i++) {        /* absent keys, of every length up to a long name */
        uint8_t key[STORE_KEY_MAX];
        size_t klen = 1 + rnd() % 200;
        key[0] = (uint8_t[]){ 4, 6, 'D' }[rnd() % 3];
        for (size_t b = 1; b < klen; b++)
            key[b] = (uint8_t)('0' + rnd() % 10);      /* no fill_zone name has only digits */
        MDB_val v;      /* absent (0), or too far to tell (-1: the caller asks the store); never found */
        cr_assert_leq(store_index_find(ix, store_key_hash(key, klen), key, klen, &v), 0);
    }
    cr_assert_leq(ix->bytes, (size_t)64 << 20);
    cr_assert_geq(ix->bytes, ix->nkeys * (sizeof(struct store_index_slot) + 4));
    store_index_free(ix);
}

Test(store_index, records_the_serial_of_its_snapshot)
{
    struct zone *z = zoneset_find(&zs, "dbl.example");
    fill_zone(z->dbi, 10);
    struct store_index *before, *after;
    char err[256];
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)8 << 20, &before, err, sizeof err), 0, "%s", err);
    fill_zone(z->dbi, 10);
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)8 << 20, &after, err, sizeof err), 0, "%s", err);
    MDB_txn *txn;
    struct zone_meta meta;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(store_read_meta(txn, z->dbi, &meta), 0);
    cr_assert_eq(after->serial, meta.serial);
    cr_assert_neq(before->serial, meta.serial, "a commit raised the serial: the first index is stale");
    cr_assert_lt(before->nkeys, after->nkeys);
    mdb_txn_abort(txn);
    expect_exact_copy(after, z->dbi);
    store_index_free(before);
    store_index_free(after);
}

Test(store_index, an_empty_zone_finds_nothing)
{
    struct zone *z = zoneset_find(&zs, "dbl.example");
    struct store_index *ix;
    char err[256];
    uint8_t key[STORE_KEY_MAX];
    MDB_val v;
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)1 << 20, &ix, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ix->nkeys, 0);
    size_t klen = store_key_domain("example", 7, key);
    cr_assert_eq(store_index_find(ix, store_key_hash(key, klen), key, klen, &v), 0);
    store_index_free(ix);
}

Test(store_index, refuses_to_pass_its_memory_bound)
{
    struct zone *z = zoneset_find(&zs, "bl.example");
    fill_zone(z->dbi, 2000);
    struct store_index *ix = (void *)1;
    char err[256];
    MDB_txn *txn;
    MDB_stat ms;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_stat(txn, z->dbi, &ms), 0);
    mdb_txn_abort(txn);
    size_t slots = store_index_slot_bytes(ms.ms_entries);
    /* the slots alone do not fit; then the slots fit but not the 2000 entries */
    cr_assert_eq(store_index_build(st.env, z->dbi, slots, &ix, err, sizeof err), 1);
    cr_assert_null(ix);
    cr_assert_eq(store_index_build(st.env, z->dbi, slots + 2000 * 8, &ix, err, sizeof err), 1);
    cr_assert_null(ix);
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)16 << 20, &ix, err, sizeof err), 0, "%s", err);
    cr_assert_eq(ix->nkeys, 2000);
    store_index_free(ix);
}

Test(store_index, slot_table_stays_at_most_three_quarters_full)
{
    cr_assert_eq(store_index_slot_bytes(0), 16 * sizeof(struct store_index_slot));
    for (size_t n = 1; n < 100000; n = n * 3 + 1) {
        size_t slots = store_index_slot_bytes(n) / sizeof(struct store_index_slot);
        cr_assert_leq(n * 4, slots * 3, "%zu keys in %zu slots", n, slots);
        cr_assert(slots == 16 || n * 8 > slots * 3, "%zu keys in %zu slots: needlessly large", n, slots);
        cr_assert_eq(slots & (slots - 1), 0, "a power of two");
    }
    cr_assert_eq(store_index_slot_bytes(SIZE_MAX / 2), 0, "absurd: refused, no overflow");
}

/* ---- colliding hashes: store_key_hash is public, names that crowd one place can be made ---- */

#define CROWD_BITS 0x1fff      /* the slot tables below have at most 8192 slots */

/* n names whose keys all have their place at the same slot of any table of up to 8192 slots, as
 * an attacker who can get names listed would pick them (a brute-force search, as theirs would be). */
static char (*crowded_names(int n))[32]
{
    char (*names)[32] = calloc((size_t)n, sizeof *names);
    cr_assert_not_null(names);
    uint32_t want = 0;
    for (uint32_t i = 0, found = 0; found < (uint32_t)n; i++) {
        uint8_t key[STORE_KEY_MAX];
        char name[32];
        snprintf(name, sizeof name, "c%08x.example", i);
        uint64_t h = store_key_hash(key, store_key_domain(name, strlen(name), key));
        uint32_t pos = (uint32_t)((h * 0x9e3779b97f4a7c15ULL) >> 32) & CROWD_BITS;
        if (found == 0)
            want = pos;
        if (pos == want)
            memcpy(names[found++], name, sizeof name);
    }
    return names;
}

static void put_names(MDB_dbi dbi, char (*names)[32], int n)
{
    struct store_txn w;
    struct listing l = { .nreasons = 1, .since = NOW };
    l.reasons[0] = (struct reason){ 0x7f000002u, 0, 4, "mass" };
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (int i = 0; i < n; i++) {
        uint8_t key[STORE_KEY_MAX];
        cr_assert_eq(store_put(&w, dbi, key, store_key_domain(names[i], strlen(names[i]), key), &l, 0), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

Test(store_index, keys_far_from_their_place_are_left_to_the_store)
{
    struct zone *z = zoneset_find(&zs, "dbl.example");
    enum { N = 200 };
    char (*names)[32] = crowded_names(N);
    put_names(z->dbi, names, N);
    struct store_index *ix;
    char err[256];
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)8 << 20, &ix, err, sizeof err), 0, "%s", err);
    cr_assert_leq(ix->mask, CROWD_BITS);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    int far = 0;
    for (int i = 0; i < N; i++) {
        uint8_t key[STORE_KEY_MAX];
        size_t klen = store_key_domain(names[i], strlen(names[i]), key);
        MDB_val v;
        int rc = store_index_find(ix, store_key_hash(key, klen), key, klen, &v);
        cr_assert(rc == 1 || rc == -1, "%s: found or left to the store, never absent", names[i]);
        far += rc == -1;
        struct listing with, without;   /* the lookup answers alike either way */
        cr_assert_eq(store_lookup_domain_filtered(txn, z->dbi, names[i], strlen(names[i]), NOW, NULL, NULL, ix,
                                                  &with), 1, "%s", names[i]);
        cr_assert_eq(store_lookup_domain(txn, z->dbi, names[i], strlen(names[i]), NOW, &without, NULL), 1);
        cr_assert_eq(with.nreasons, without.nreasons);
    }
    cr_assert_geq(far, N / 2, "most of the crowd is past the probe limit (%d of %d)", far, N);
    mdb_txn_abort(txn);
    store_index_free(ix);
    free(names);
}

Test(store_index, refuses_keys_that_crowd_one_place)
{
    struct zone *z = zoneset_find(&zs, "dbl.example");
    enum { N = STORE_INDEX_BUILD_PROBE_MAX + 10 };
    char (*names)[32] = crowded_names(N);
    put_names(z->dbi, names, N);
    struct store_index *ix = (void *)1;
    char err[256] = "";
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)64 << 20, &ix, err, sizeof err), 2);
    cr_assert_null(ix);
    cr_assert(strstr(err, "cluster"), "%s", err);
    free(names);
}
