/* test_xfr_journal.c - the change journal behind IXFR: the zone rebuilt at an older serial from the
 * journal gives exactly the records the AXFR at that serial gave; every record that differs between
 * the two AXFRs belongs to the names the changes touch (so the IXFR difference is the AXFR
 * difference); condensing, trimming by size and age, and the cases that must fall back to AXFR (a
 * serial older than the journal, a cleared zone, a transaction bigger than the journal). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "testutil.h"
#include "xfr_records.h"

#define NOW 1700000000u
#define CODE(d) (0x7f000000u | (d))

static struct zoneset zs;
static struct store st;
static char dir[64];

static void setup(void)
{
    shipped_store_open(&zs, &st, dir, sizeof dir, "test_xfr_journal");
}

static void teardown(void)
{
    shipped_store_close(&zs, &st, dir);
}

TestSuite(journal, .init = setup, .fini = teardown);

static uint32_t rnd_state = 4242;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static size_t entry_key(struct zone *z, const char *entry, uint8_t *key)
{
    if (z->kind != ZONE_IP)
        return store_key_domain(entry, strlen(entry), key);
    struct ipnet net;
    cr_assert_geq(net_parse(entry, &net), 0, "%s", entry);
    net_clear_host_bits(&net);
    return store_key_net(&net, key);
}

static void put(struct store_txn *w, const char *zname, const char *entry, uint8_t flags, uint32_t code,
                uint32_t expires)
{
    struct zone *z = zoneset_find(&zs, zname);
    uint8_t key[STORE_KEY_MAX];
    size_t klen = entry_key(z, entry, key);
    struct listing l = { .flags = flags, .nreasons = 1, .since = NOW - 10 };
    l.reasons[0] = (struct reason){ code, expires, 4, "spam" };
    cr_assert_eq(store_put(w, z->dbi, key, klen, &l, 0), 0);
}

static void del(struct store_txn *w, const char *zname, const char *entry)
{
    struct zone *z = zoneset_find(&zs, zname);
    uint8_t key[STORE_KEY_MAX];
    int rc = store_del(w, z->dbi, key, entry_key(z, entry, key));
    cr_assert(rc == 0 || rc == MDB_NOTFOUND);
}

/* ---- record sets: each record as one string "owner type rdata-hex" ---- */

struct set {
    char **s;
    size_t n, cap;
};

static int set_add(void *ud, const struct xfr_rr *rr)
{
    struct set *v = ud;
    char buf[2048];
    size_t o = 0;
    for (size_t i = 0; i < rr->rel_len; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x", rr->rel[i]);
    o += (size_t)snprintf(buf + o, sizeof buf - o, " %u ", rr->type);
    for (size_t i = 0; i < rr->rdlen && o < sizeof buf - 3; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x", rr->rdata[i]);
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->s = realloc(v->s, v->cap * sizeof *v->s);
    }
    v->s[v->n++] = strdup(buf);
    return 0;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void set_free(struct set *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->s[i]);
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* The AXFR records of the zone now (ch NULL) or as it was before ch, at time t. */
static void records(const char *zname, const struct store_changes *ch, MDB_txn *txn, uint32_t t, struct set *out)
{
    struct xfr_stats stats;
    memset(out, 0, sizeof *out);
    cr_assert_eq(xfr_records_at(zoneset_find(&zs, zname), txn, ch, t, set_add, out, &stats), 0);
    qsort(out->s, out->n, sizeof *out->s, str_cmp);
}

static void snapshot(const char *zname, uint32_t t, struct set *out, uint32_t *serial)
{
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    records(zname, NULL, txn, t, out);
    *serial = xfr_serial(zoneset_find(&zs, zname), txn);
    mdb_txn_abort(txn);
}

static void assert_same(const struct set *a, const struct set *b, const char *what)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->s[i], b->s[j]);
        cr_assert_eq(c, 0, "%s: %s only on one side", what, c < 0 ? a->s[i] : b->s[j]);
        i++, j++;
    }
}

/* Hex owner of a record string back to wire form. */
static size_t owner_of(const char *rec, uint8_t *wire)
{
    size_t n = 0;
    for (const char *p = rec; *p && *p != ' '; p += 2) {
        unsigned b;
        sscanf(p, "%2x", &b);
        wire[n++] = (uint8_t)b;
    }
    return n;
}

/* Every record in one set and not the other has an owner in the region of the changes. */
static void assert_diff_in_region(const struct set *a, const struct set *b, const struct xfr_region *r, size_t *ndiff)
{
    for (int side = 0; side < 2; side++) {
        const struct set *x = side ? b : a, *y = side ? a : b;
        for (size_t i = 0; i < x->n; i++) {
            if (bsearch(&x->s[i], y->s, y->n, sizeof *y->s, str_cmp))
                continue;
            uint8_t wire[256];
            size_t len = owner_of(x->s[i], wire);
            cr_assert(xfr_region_has(r, wire, len), "%s differs outside the changed names", x->s[i]);
            (*ndiff)++;
        }
    }
}

static const char *rnd_entry(const char *zname, char *buf, size_t cap)
{
    static const int plens4[] = { 8, 16, 20, 24, 26, 30, 32, 32, 32, 32 };
    static const int plens6[] = { 32, 48, 56, 64, 120, 128 };
    static const char *const labels[] = { "a", "b", "c" };
    if (strcmp(zname, "bl.example")) {
        size_t o = 0;
        for (int d = 0, depth = 1 + (int)(rnd() % 3); d < depth; d++)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", d ? "." : "", labels[rnd() % 3]);
        return buf;
    }
    if (rnd() % 4 == 0)
        snprintf(buf, cap, "2001:db8:%x::%x/%d", rnd() % 4, rnd() % 3, plens6[rnd() % 6]);
    else
        snprintf(buf, cap, "10.%u.%u.%u/%d", rnd() % 3, rnd() % 4, rnd() % 256, plens4[rnd() % 10]);
    return buf;
}

/* Random writes in several commits; after each, the zone rebuilt from the journal at every earlier
 * serial equals that serial's AXFR, and the differences lie in the region. */
static void random_history(const char *zname)
{
    static const uint8_t dflags[] = { 0, LISTING_WILDCARD, LISTING_WILDCARD | LISTING_SUBDOMAINS, LISTING_ALLOW };
    enum { COMMITS = 8 };
    struct set past[COMMITS];
    uint32_t serials[COMMITS], times[COMMITS];
    char e[80];
    size_t diffs = 0;
    for (int c = 0; c < COMMITS; c++) {
        uint32_t t = NOW + (uint32_t)c * 100;
        struct store_txn w;
        cr_assert_eq(store_write_begin(&st, &w), 0);
        for (int i = 0; i < (c == 0 ? 150 : 12); i++) {
            int op = (int)(rnd() % 6);
            rnd_entry(zname, e, sizeof e);
            if (op == 0 && c > 0)
                del(&w, zname, e);
            else
                put(&w, zname, e, strcmp(zname, "bl.example") ? dflags[rnd() % 4] : (op == 1 ? LISTING_ALLOW : 0),
                    CODE(2 + rnd() % 3), op == 2 ? t + 150 : 0);     /* some expire before the next commits */
        }
        if (c > 0)      /* as the writer's expiry pass does: the serial reflects what expired */
            cr_assert_eq(store_mark_expired(&w, zoneset_find(&zs, zname)->dbi, t), 0);
        cr_assert_eq(store_write_commit(&w, t), 0);
        snapshot(zname, t, &past[c], &serials[c]);
        times[c] = t;
        MDB_txn *txn;
        cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
        for (int b = 0; b < c; b++) {
            struct store_changes ch;
            struct set was;
            struct xfr_region reg;
            cr_assert_eq(store_journal_changes(txn, zoneset_find(&zs, zname)->dbi, serials[b], serials[c], &ch), 1);
            cr_assert_eq(ch.from_time, times[b]);
            records(zname, &ch, txn, ch.from_time, &was);
            assert_same(&was, &past[b], "the zone rebuilt from the journal");
            cr_assert_eq(xfr_region_build(&ch, &reg), 0);
            assert_diff_in_region(&past[b], &past[c], &reg, &diffs);
            xfr_region_free(&reg);
            set_free(&was);
            store_changes_free(&ch);
        }
        mdb_txn_abort(txn);
    }
    for (int c = 0; c < COMMITS; c++)
        set_free(&past[c]);
    cr_assert_gt(diffs, 50, "the commits changed records");
}

Test(journal, ip_zone_at_an_older_serial_is_its_axfr)
{
    random_history("bl.example");
}

Test(journal, domain_zone_at_an_older_serial_is_its_axfr)
{
    random_history("dbl.example");
}

static uint32_t serial_now(const char *zname)
{
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    uint32_t s = xfr_serial(zoneset_find(&zs, zname), txn);
    mdb_txn_abort(txn);
    return s;
}

/* store_journal_changes between two serials: its return, and the number of keys in *n. */
static int changes(const char *zname, uint32_t from, uint32_t to, size_t *n, int *had_old)
{
    MDB_txn *txn;
    struct store_changes ch;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    int rc = store_journal_changes(txn, zoneset_find(&zs, zname)->dbi, from, to, &ch);
    *n = ch.n;
    if (had_old)
        *had_old = ch.n ? ch.c[0].old != NULL : -1;
    store_changes_free(&ch);
    mdb_txn_abort(txn);
    return rc;
}

static void commit1(const char *entry, int remove, uint32_t t, uint32_t max_size)
{
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    if (max_size)
        cr_assert_eq(store_journal_limits(&w, zoneset_find(&zs, "bl.example")->dbi, 0, max_size), 0);
    if (remove)
        del(&w, "bl.example", entry);
    else
        put(&w, "bl.example", entry, 0, CODE(2), 0);
    cr_assert_eq(store_write_commit(&w, t), 0);
}

Test(journal, added_then_removed_condenses_to_its_old_state)
{
    size_t n;
    int had;
    commit1("192.0.2.1", 0, NOW, 0);
    uint32_t s0 = serial_now("bl.example");
    commit1("192.0.2.9", 0, NOW + 1, 0);
    commit1("192.0.2.9", 1, NOW + 2, 0);
    commit1("192.0.2.1", 1, NOW + 3, 0);
    commit1("192.0.2.1", 0, NOW + 4, 0);
    cr_assert_eq(changes("bl.example", s0, serial_now("bl.example"), &n, &had), 1);
    cr_assert_eq(n, 2, "one change per key, however many writes");
    MDB_txn *txn;
    struct store_changes ch;
    struct set was, cur;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(store_journal_changes(txn, zoneset_find(&zs, "bl.example")->dbi, s0, serial_now("bl.example"), &ch), 1);
    records("bl.example", &ch, txn, NOW, &was);
    records("bl.example", NULL, txn, NOW, &cur);
    assert_same(&was, &cur, "nothing changed in the end");
    set_free(&was), set_free(&cur), store_changes_free(&ch);
    mdb_txn_abort(txn);
}

Test(journal, serial_up_to_date_or_unknown)
{
    size_t n;
    commit1("192.0.2.1", 0, NOW, 0);
    uint32_t s = serial_now("bl.example");
    cr_assert_eq(changes("bl.example", s, s, &n, NULL), 1);
    cr_assert_eq(n, 0);
    cr_assert_eq(changes("bl.example", s - 1000, s, &n, NULL), 0, "a serial the journal never saw");
}

Test(journal, trimmed_by_size_falls_back)
{
    size_t n;
    char e[40];
    commit1("192.0.2.1", 0, NOW, 10);
    uint32_t first = serial_now("bl.example"), mid = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(e, sizeof e, "198.51.100.%d", i);
        commit1(e, 0, NOW + 1 + (uint32_t)i, 10);
        if (i == 25)
            mid = serial_now("bl.example");
    }
    uint32_t last = serial_now("bl.example");
    cr_assert_eq(changes("bl.example", first, last, &n, NULL), 0, "trimmed away: the whole zone");
    cr_assert_eq(changes("bl.example", mid, last, &n, NULL), 1);
    cr_assert_eq(n, 4);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t prefix[2] = { 0, 'J' };
    size_t entries = 0;
    cr_assert_eq(mdb_cursor_open(txn, zoneset_find(&zs, "bl.example")->dbi, &cur), 0);
    k = (MDB_val){ 2, prefix };
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && ((uint8_t *)k.mv_data)[1] == 'J';
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        entries++;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    cr_assert_leq(entries, 11, "the journal holds about max_size entries, not %zu", entries);
}

Test(journal, trimmed_by_age_falls_back)
{
    size_t n;
    commit1("192.0.2.1", 0, NOW, 0);
    uint32_t old = serial_now("bl.example");
    commit1("192.0.2.2", 0, NOW + 100, 0);
    uint32_t recent = serial_now("bl.example");
    commit1("192.0.2.3", 0, NOW + STORE_JOURNAL_AGE + 50, 0);
    uint32_t last = serial_now("bl.example");
    cr_assert_eq(changes("bl.example", old, last, &n, NULL), 0, "older than a day");
    cr_assert_eq(changes("bl.example", recent, last, &n, NULL), 1);
}

Test(journal, a_cleared_zone_or_a_big_write_falls_back)
{
    size_t n;
    char e[40];
    commit1("192.0.2.1", 0, NOW, 0);
    uint32_t s0 = serial_now("bl.example");
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_clear_zone(&w, zoneset_find(&zs, "bl.example")->dbi), 0);
    put(&w, "bl.example", "192.0.2.7", 0, CODE(2), 0);
    cr_assert_eq(store_write_commit(&w, NOW + 1), 0);
    uint32_t s1 = serial_now("bl.example");
    commit1("192.0.2.8", 0, NOW + 2, 0);
    cr_assert_eq(changes("bl.example", s0, serial_now("bl.example"), &n, NULL), 0, "across a clear");
    cr_assert_eq(changes("bl.example", s1, serial_now("bl.example"), &n, NULL), 1, "after it");
    uint32_t s2 = serial_now("bl.example");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_journal_limits(&w, zoneset_find(&zs, "bl.example")->dbi, 0, 20), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(e, sizeof e, "203.0.113.%d", i);
        put(&w, "bl.example", e, 0, CODE(2), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW + 3), 0);
    cr_assert_eq(changes("bl.example", s2, serial_now("bl.example"), &n, NULL), 0, "more changes than the journal holds");
}

Test(journal, expiries_enter_the_journal_when_the_serial_is_raised)
{
    size_t n;
    int had;
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    put(&w, "bl.example", "192.0.2.5", 0, CODE(2), NOW + 50);
    put(&w, "bl.example", "192.0.2.6", 0, CODE(2), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    uint32_t s0 = serial_now("bl.example"), serial_then = s0;
    struct store_expiry x = { .dbi = zoneset_find(&zs, "bl.example")->dbi };
    int raised;
    cr_assert_eq(store_expire_pass(&st, &x, 1, NOW + 100, &raised), 0);
    cr_assert_eq(raised, 1);
    cr_assert_neq(serial_now("bl.example"), serial_then);
    cr_assert_eq(changes("bl.example", s0, serial_now("bl.example"), &n, &had), 1);
    cr_assert_eq(n, 1, "the expired listing, and only it");
    cr_assert_eq(had, 1);
    MDB_txn *txn;
    struct store_changes ch;
    struct set was, cur;
    struct xfr_region reg;
    size_t diffs = 0;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(store_journal_changes(txn, x.dbi, s0, serial_now("bl.example"), &ch), 1);
    records("bl.example", &ch, txn, ch.from_time, &was);
    records("bl.example", NULL, txn, NOW + 100, &cur);
    cr_assert_eq(xfr_region_build(&ch, &reg), 0);
    assert_diff_in_region(&was, &cur, &reg, &diffs);
    cr_assert_geq(diffs, 2, "its A and TXT go");
    xfr_region_free(&reg);
    set_free(&was), set_free(&cur), store_changes_free(&ch);
    mdb_txn_abort(txn);
}

Test(journal, zone_file_bounds_reach_the_writers)
{
    struct zone *z = zoneset_find(&zs, "bl.example");
    char err[256], e[40];
    int rc;
    size_t n;
    cr_assert(zone_xfr_key(z, "ixfr-journal-size", "5", &rc, err, sizeof err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(zone_xfr_key(z, "ixfr-journal-age", "2h", &rc, err, sizeof err));
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(z->xfr.journal_size, 5);
    cr_assert_eq(z->xfr.journal_age, 7200);
    cr_assert(zone_xfr_key(z, "ixfr-journal-size", "0", &rc, err, sizeof err));
    cr_assert_eq(rc, -1);
    cr_assert(zone_xfr_key(z, "ixfr-journal-age", "5s", &rc, err, sizeof err));
    cr_assert_eq(rc, -1);
    cr_assert_eq(zoneset_bind(&zs, &st, err, sizeof err), 0, "%s", err);    /* as a writer starts */
    uint32_t serials[10];
    for (int i = 0; i < 10; i++) {
        snprintf(e, sizeof e, "198.51.100.%d", i);
        commit1(e, 0, NOW + (uint32_t)i, 0);
        serials[i] = serial_now("bl.example");
    }
    cr_assert_eq(changes("bl.example", serials[2], serials[9], &n, NULL), 0, "beyond 5 entries: trimmed");
    cr_assert_eq(changes("bl.example", serials[6], serials[9], &n, NULL), 1);
    commit1("198.51.100.99", 0, NOW + 7300, 0);
    cr_assert_eq(changes("bl.example", serials[9], serial_now("bl.example"), &n, NULL), 0, "older than 2h");
}
