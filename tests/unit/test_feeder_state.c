/* test_feeder_state.c - the feeder's state in memory: inline windows that turn into rings, the caps
 * on sources and queue entries (least recently seen evicted first, counted), and queue IDs whose
 * `removed` line never comes. */
#include <criterion/criterion.h>
#include <string.h>

#include "state.h"
#include "testutil.h"

#define T0 1764000000u

static struct subject *ip_subject(struct state *s, uint32_t n)
{
    struct ipaddr a = { .family = ADDR_V4, .bytes = { 198, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n } };
    uint8_t key[16];
    return subject_get(s, key, subject_key_ip(&a, key), 1);
}

/* One event for source n at time t, as correlate.c counts it. */
static void event(struct state *s, uint32_t n, uint32_t t)
{
    if (t > s->latest)
        s->latest = t;
    state_limit(s);
    struct subject *sub = ip_subject(s, n);
    cr_assert_not_null(sub);
    subject_count(s, sub, M_AUTH_FAIL, t, 1);
}

static int present(struct state *s, uint32_t n)
{
    struct ipaddr a = { .family = ADDR_V4, .bytes = { 198, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n } };
    uint8_t key[16];
    return subject_get(s, key, subject_key_ip(&a, key), 0) != NULL;
}

Test(state, inline_window_grows_into_a_ring_with_the_same_sums)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    struct subject *sub = ip_subject(&s, 1);
    for (uint32_t i = 0; i < 40; i++)       /* 40 distinct minutes: more than fit inline */
        subject_count(&s, sub, M_AUTH_FAIL, T0 + i * 60, i + 1);
    subject_count(&s, sub, M_RCPT, T0, 3);
    cr_assert_eq(subject_sum(sub, M_AUTH_FAIL, T0 + 39 * 60, 3600), 40 * 41 / 2);
    cr_assert_eq(subject_sum(sub, M_AUTH_FAIL, T0 + 39 * 60, 120), 40 + 39);
    cr_assert_eq(subject_sum(sub, M_RCPT, T0 + 39 * 60, 3600), 3);
    cr_assert_eq(subject_sum(sub, M_MSGS, T0, 3600), 0);
    state_free(&s);
}

/* Over the cap, the least recently seen go first, down to 7/8 of the cap; each is counted. */
Test(state, sources_cap_evicts_least_recently_seen)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    s.max_sources = 16;
    for (uint32_t i = 0; i < 16; i++)
        event(&s, i, T0 + i);
    event(&s, 0, T0 + 100);                 /* 0 is seen again: now the most recent */
    cr_assert_eq(s.subjects.count, 16);
    cr_assert_eq(s.stats.evicted_sources, 0);
    event(&s, 100, T0 + 101);               /* the 17th source */
    event(&s, 101, T0 + 102);               /* the next event finds 17: evicts down to 14 */
    cr_assert_eq(s.stats.evicted_sources, 3);
    cr_assert_eq(s.subjects.count, 15);     /* 14 kept and 101 */
    cr_assert_eq(s.sources_by_kind[0], 15);    /* the metrics' count by kind follows */
    cr_assert(present(&s, 0));
    cr_assert_not(present(&s, 1));
    cr_assert_not(present(&s, 2));
    cr_assert_not(present(&s, 3));
    for (uint32_t i = 4; i < 16; i++)
        cr_assert(present(&s, i), "source %u", i);
    cr_assert(present(&s, 100));
    cr_assert(present(&s, 101));
    state_free(&s);
}

/* Sources seen in the same second go in a fixed order (by key hash), so that two runs holding the same
 * state evict the same ones, whatever order they came in; and never more than the cap stay. */
Test(state, sources_cap_with_one_second_for_all)
{
    struct state a, b;
    cr_assert_eq(state_init(&a), 0);
    cr_assert_eq(state_init(&b), 0);
    a.max_sources = b.max_sources = 1000;
    for (uint32_t i = 0; i <= 1000; i++) {
        event(&a, i, T0);
        event(&b, 1000 - i, T0);            /* the same sources in the opposite order */
    }
    state_limit(&a);
    state_limit(&b);
    cr_assert_leq(a.subjects.count, 875 + 8);   /* 7/8 of the cap, and ties of one hash */
    cr_assert_geq(a.subjects.count, 875);
    cr_assert_eq(a.subjects.count, b.subjects.count);
    cr_assert_eq(a.stats.evicted_sources + a.subjects.count, 1001);
    for (uint32_t i = 0; i <= 1000; i++)
        cr_assert_eq(present(&a, i), present(&b, i), "source %u", i);
    for (uint32_t i = 2000; i < 7000; i++)
        event(&a, i, T0);
    state_limit(&a);
    cr_assert_leq(a.subjects.count, 1000);
    cr_assert_eq(a.stats.evicted_sources + a.subjects.count, 6001);
    state_free(&a);
    state_free(&b);
}

Test(state, no_cap_when_zero)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    s.max_sources = 0;
    for (uint32_t i = 0; i < 3000; i++)
        event(&s, i, T0 + i);
    state_limit(&s);
    cr_assert_eq(s.subjects.count, 3000);
    cr_assert_eq(s.stats.evicted_sources, 0);
    state_free(&s);
}

static struct qentry *qid(struct state *s, const char *id, uint32_t t)
{
    if (t > s->latest)
        s->latest = t;
    struct qentry *q = queue_get(s, "mx1", 3, id, strlen(id), 1);
    cr_assert_not_null(q);
    queue_touch(s, q);
    return q;
}

Test(state, queue_cap_evicts_least_recently_seen)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    s.max_queue = 8;
    char id[16];
    for (int i = 0; i < 9; i++) {
        snprintf(id, sizeof id, "Q%02d", i);
        qid(&s, id, T0 + (uint32_t)i);
    }
    qid(&s, "Q00", T0 + 50);                /* a line for the oldest: it stays */
    state_limit(&s);
    cr_assert_eq(s.queue.count, 7);
    cr_assert_eq(s.stats.evicted_queue, 2);
    cr_assert_not_null(queue_get(&s, "mx1", 3, "Q00", 3, 0));
    cr_assert_null(queue_get(&s, "mx1", 3, "Q01", 3, 0));
    cr_assert_null(queue_get(&s, "mx1", 3, "Q02", 3, 0));
    cr_assert_not_null(queue_get(&s, "mx1", 3, "Q08", 3, 0));
    state_free(&s);
}

/* Guards: a queue ID whose `removed` line never comes goes after STATE_QUEUE_IDLE without a line; a
 * message still being retried (qmgr logs it again) stays. (Such an entry once stayed a day
 * (QUEUE_MAX_AGE 86400); 300k of them held 124 MB.) */
Test(state, queue_entry_without_removed_expires_when_idle)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    qid(&s, "LOST", T0);
    qid(&s, "RETRIED", T0);
    qid(&s, "DONE", T0)->removed = T0;
    qid(&s, "RETRIED", T0 + 3600);          /* deferred: qmgr retries it within its backoff */
    uint32_t later = T0 + STATE_QUEUE_IDLE + 60;
    s.latest = later;
    state_sweep(&s, later, 0, 0);
    cr_assert_null(queue_get(&s, "mx1", 3, "LOST", 4, 0));
    cr_assert_null(queue_get(&s, "mx1", 3, "DONE", 4, 0));
    cr_assert_not_null(queue_get(&s, "mx1", 3, "RETRIED", 7, 0));
    cr_assert_eq(s.stats.expired_queue, 1);
    cr_assert_leq(STATE_QUEUE_IDLE, 3 * 3600);
    state_free(&s);
}

/* ---- the store: what is saved comes back the same, and readers get full rings ---- */

static MDB_env *open_env(const char *dir)
{
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, 64 << 20);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    return env;
}

static void save(struct state *s, MDB_env *env)
{
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(state_save(s, txn), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

Test(state, saved_and_loaded_alike_and_read_in_full)
{
    char dir[64], err[256] = "";
    tmpdir_make(dir, sizeof dir, "feeder-state");
    MDB_env *env = open_env(dir);
    struct state a, b;
    cr_assert_eq(state_init(&a), 0);
    cr_assert_eq(state_load(&a, env, err, sizeof err), 0, "%s", err);
    a.latest = T0 + 3000;
    struct subject *few = ip_subject(&a, 1), *many = ip_subject(&a, 2);
    subject_count(&a, few, M_AUTH_FAIL, T0, 2);
    subject_count(&a, few, M_RCPT, T0 + 60, 1);
    for (uint32_t i = 0; i < 30; i++)      /* a ring */
        subject_count(&a, many, M_MSGS, T0 + i * 60, 1);
    subject_offence(many, RULE_VOLUME)->count = 1;
    save(&a, env);

    cr_assert_eq(state_init(&b), 0);
    cr_assert_eq(state_load(&b, env, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.latest, T0 + 3000);
    struct subject *f2 = ip_subject(&b, 1), *m2 = ip_subject(&b, 2);
    cr_assert_eq(subject_sum(f2, M_AUTH_FAIL, T0 + 60, 600), 2);
    cr_assert_eq(subject_sum(f2, M_RCPT, T0 + 60, 600), 1);
    cr_assert_eq(subject_sum(m2, M_MSGS, T0 + 29 * 60, 3600), 30);
    cr_assert_eq(f2->node.seen, T0 + 3000);
    cr_assert_null(f2->offence);            /* never listed: no offence records */
    cr_assert_eq(m2->offence[RULE_VOLUME].count, 1);

    /* dnsblctl's reader: every counted metric as a ring, offence records always there */
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    struct feeder_subject *r = feeder_subject_read(txn, b.subjects_dbi, f2->key, f2->keylen);
    cr_assert_not_null(r);
    cr_assert_not_null(r->ring[M_AUTH_FAIL]);
    cr_assert_eq(r->ring[M_AUTH_FAIL]->last, T0 / 60);
    cr_assert_null(r->ring[M_MSGS]);
    cr_assert_eq(r->offence[RULE_DHA].count, 0);
    cr_assert_eq(feeder_subject_sum(r, M_AUTH_FAIL, T0, 60), 2);
    feeder_subject_free(r);
    mdb_txn_abort(txn);
    state_free(&a);
    state_free(&b);
    mdb_env_close(env);
    tmpdir_remove(dir);
}

/* A store written by a newer feeder (a higher state-format) is refused with a clear error. */
Test(state, newer_format_refused)
{
    char dir[64], err[256] = "";
    tmpdir_make(dir, sizeof dir, "feeder-state");
    MDB_env *env = open_env(dir);
    MDB_txn *txn;
    MDB_dbi meta;
    uint32_t format = 99;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "feeder:meta", MDB_CREATE, &meta), 0);
    MDB_val k = { 12, "state-format" }, v = { 4, &format };
    cr_assert_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    cr_assert_eq(state_load(&s, env, err, sizeof err), -1);
    cr_assert(strstr(err, "format 99"), "%s", err);
    state_free(&s);
    mdb_env_close(env);
    tmpdir_remove(dir);
}

/* ---- the tables' hash: SipHash under a secret the store keeps ---- */

Test(state, siphash_matches_the_reference_vectors)
{
    /* SipHash-2-4 of the paper's appendix (key 00..0f, message 00..0e) and of the empty message; the
     * tables use the same code with 1 and 3 rounds */
    struct hash_key k = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
    uint8_t m[15];
    for (int i = 0; i < 15; i++)
        m[i] = (uint8_t)i;
    cr_expect_eq(siphash(&k, m, 15, 2, 4), 0xa129ca6149be45e5ULL);
    cr_expect_eq(siphash(&k, m, 0, 2, 4), 0x726fdb47dd0e0e31ULL);
    cr_expect_eq(siphash(&k, m, 8, 2, 4), 0x93f5f5799a932462ULL);
}

/* Sender domains chosen so that, under a known hash key, they all share one chain of a 4096-bucket
 * table (what an attacker writes into MAIL FROM when the hash is public). */
static size_t crowd_domains(const struct ltable *t, char (*names)[40], size_t n)
{
    size_t found = 0;
    uint32_t want = 0;
    for (uint32_t i = 0; found < n && i < 50000000u; i++) {
        char name[40];
        uint8_t key[64];
        snprintf(name, sizeof name, "x%07x.example", i);
        uint32_t h = ltable_hash(t, key, subject_key_name(SUBJ_DOMAIN, name, strlen(name), key)) & 4095u;
        if (found == 0)
            want = h;
        if (h == want)
            memcpy(names[found++], name, sizeof name);
    }
    return found;
}

static size_t longest_chain(const struct ltable *t)
{
    size_t longest = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        size_t n = 0;
        for (const struct lnode *p = t->buckets[i]; p; p = p->next)
            n++;
        longest = n > longest ? n : longest;
    }
    return longest;
}

Test(state, the_store_keeps_a_secret_hash_key_that_spreads_crafted_names)
{
    char d1[64], d2[64], err[256] = "";
    tmpdir_make(d1, sizeof d1, "feeder-hashkey1");
    tmpdir_make(d2, sizeof d2, "feeder-hashkey2");
    MDB_env *e1 = open_env(d1), *e2 = open_env(d2);
    struct state known, a, again, other;
    cr_assert_eq(state_init(&known), 0);    /* no store: the zero key, which an attacker knows */
    static char names[300][40];
    cr_assert_eq(crowd_domains(&known.subjects, names, 300), 300);
    for (int i = 0; i < 300; i++) {
        uint8_t key[64];
        cr_assert_not_null(subject_get(&known, key, subject_key_name(SUBJ_DOMAIN, names[i], strlen(names[i]), key), 1));
    }
    cr_assert_geq(longest_chain(&known.subjects), 300, "under the known key they share one chain");

    cr_assert_eq(state_init(&a), 0);
    cr_assert_eq(state_load(&a, e1, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 300; i++) {
        uint8_t key[64];
        cr_assert_not_null(subject_get(&a, key, subject_key_name(SUBJ_DOMAIN, names[i], strlen(names[i]), key), 1));
    }
    cr_assert_leq(longest_chain(&a.subjects), 8, "under the store's secret they spread");
    save(&a, e1);

    cr_assert_eq(state_init(&again), 0);    /* the same store: the same secret */
    cr_assert_eq(state_load(&again, e1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(again.subjects.key.k0, a.subjects.key.k0);
    cr_assert_eq(again.subjects.key.k1, a.subjects.key.k1);
    cr_assert_eq(state_init(&other), 0);    /* another store: another secret */
    cr_assert_eq(state_load(&other, e2, err, sizeof err), 0, "%s", err);
    cr_assert(other.subjects.key.k0 != a.subjects.key.k0 || other.subjects.key.k1 != a.subjects.key.k1);
    cr_assert(a.subjects.key.k0 || a.subjects.key.k1, "not the zero key");
    state_free(&known);
    state_free(&a);
    state_free(&again);
    state_free(&other);
    mdb_env_close(e1);
    mdb_env_close(e2);
    tmpdir_remove(d1);
    tmpdir_remove(d2);
}
