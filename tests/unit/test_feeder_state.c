/* test_feeder_state.c - the feeder's state in memory: inline windows that turn into rings, the caps
 * on sources and queue entries (least recently seen evicted first, counted), and queue IDs whose
 * `removed` line never comes. */
#include <criterion/criterion.h>
#include <string.h>

#include "state.h"

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

/* Regression: a queue ID whose `removed` line never comes stayed a day (QUEUE_MAX_AGE 86400); 300k of
 * them held 124 MB. Now it goes after STATE_QUEUE_IDLE without a line; a message still being retried
 * (qmgr logs it again) stays. */
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
