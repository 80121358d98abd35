/* test_feeder_window.c - the 64-minute ring of one-minute buckets behind every sliding window. */
#include <criterion/criterion.h>
#include <string.h>

#include "window.h"

#define M0 29000000u    /* a minute in 2025 (unix time / 60) */

static struct ring fresh(void)
{
    struct ring r;
    memset(&r, 0, sizeof r);
    return r;
}

Test(window, empty_ring_sums_to_zero)
{
    struct ring r = fresh();
    cr_assert_eq(ring_sum(&r, M0, 10), 0);
    cr_assert_eq(ring_sum(NULL, M0, 10), 0);
    cr_assert(ring_empty(&r, M0));
    cr_assert(ring_empty(NULL, M0));
}

Test(window, sums_over_1_10_and_64_minutes)
{
    struct ring r = fresh();
    /* n events at minute M0 - k for k = 0..63: 1 at M0, 2 at M0-1, ... 64 at M0-63 */
    for (uint32_t k = 63; k != UINT32_MAX; k--)
        ring_add(&r, M0 - k, k + 1);
    cr_assert_eq(ring_sum(&r, M0, 1), 1);
    cr_assert_eq(ring_sum(&r, M0, 10), 55);             /* 1 + ... + 10 */
    cr_assert_eq(ring_sum(&r, M0, 64), 64 * 65 / 2);    /* 2080 */
    cr_assert_eq(ring_sum(&r, M0, 100), 64 * 65 / 2);   /* no further back than the ring */
    cr_assert_eq(ring_sum(&r, M0, 0), 0);
    /* a window ending earlier */
    cr_assert_eq(ring_sum(&r, M0 - 1, 1), 2);
    cr_assert_eq(ring_sum(&r, M0 - 5, 10), 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15);
    cr_assert_eq(ring_sum(&r, M0 - 63, 1), 64);
}

Test(window, window_ending_in_the_future_skips_what_fell_out)
{
    struct ring r = fresh();
    ring_add(&r, M0, 5);
    ring_add(&r, M0 - 9, 3);
    cr_assert_eq(ring_sum(&r, M0, 10), 8);
    cr_assert_eq(ring_sum(&r, M0 + 1, 10), 5);      /* M0-9 is out of the window M0-8..M0+1 */
    cr_assert_eq(ring_sum(&r, M0 + 9, 10), 5);
    cr_assert_eq(ring_sum(&r, M0 + 10, 10), 0);
}

Test(window, events_too_old_are_ignored)
{
    struct ring r = fresh();
    ring_add(&r, M0, 1);
    ring_add(&r, M0 - 64, 100);     /* just out of reach */
    ring_add(&r, M0 - 1000, 100);
    cr_assert_eq(ring_sum(&r, M0, 64), 1);
    ring_add(&r, M0 - 63, 7);       /* the oldest minute the ring keeps */
    cr_assert_eq(ring_sum(&r, M0, 64), 8);
    cr_assert_eq(ring_sum(&r, M0 - 63, 1), 7);
    /* the ignored events did not land in a bucket they share with a kept minute */
    cr_assert_eq(ring_sum(&r, M0, 1), 1);
}

Test(window, jump_forward_clears)
{
    struct ring r = fresh();
    for (uint32_t k = 0; k < 64; k++)
        ring_add(&r, M0 - k, 1);
    cr_assert_eq(ring_sum(&r, M0, 64), 64);
    ring_add(&r, M0 + 64, 2);       /* every old minute is now out of reach */
    cr_assert_eq(ring_sum(&r, M0 + 64, 64), 2);
    cr_assert_eq(ring_sum(&r, M0 + 64, 1), 2);
    ring_add(&r, M0 + 64 + 1000, 3);
    cr_assert_eq(ring_sum(&r, M0 + 64 + 1000, 64), 3);
}

Test(window, small_jump_forward_keeps_the_rest)
{
    struct ring r = fresh();
    for (uint32_t k = 0; k < 64; k++)
        ring_add(&r, M0 - k, 1);
    ring_add(&r, M0 + 10, 5);       /* M0-63 .. M0-54 fall out; M0+1 .. M0+9 are empty */
    cr_assert_eq(ring_sum(&r, M0 + 10, 64), 54 + 5);
    cr_assert_eq(ring_sum(&r, M0 + 10, 10), 5);     /* M0+1 .. M0+10 */
    cr_assert_eq(ring_sum(&r, M0 + 10, 11), 6);
}

Test(window, small_step_back_counts_where_it_belongs)
{
    struct ring r = fresh();
    ring_add(&r, M0, 1);
    ring_add(&r, M0 - 2, 4);        /* a reordered line from two minutes ago */
    cr_assert_eq(ring_sum(&r, M0, 1), 1);
    cr_assert_eq(ring_sum(&r, M0 - 2, 1), 4);
    cr_assert_eq(ring_sum(&r, M0 - 1, 1), 0);
    cr_assert_eq(ring_sum(&r, M0, 2), 1);
    cr_assert_eq(ring_sum(&r, M0, 3), 5);
    ring_add(&r, M0 + 1, 2);        /* and time goes on from the newest */
    cr_assert_eq(ring_sum(&r, M0 + 1, 4), 7);
    cr_assert_eq(r.last, M0 + 1);
}

Test(window, saturates_at_65535)
{
    struct ring r = fresh();
    ring_add(&r, M0, 65000);
    ring_add(&r, M0, 1000);
    cr_assert_eq(ring_sum(&r, M0, 1), 65535);
    ring_add(&r, M0, 1);
    cr_assert_eq(ring_sum(&r, M0, 1), 65535);
    ring_add(&r, M0 - 1, 70000);
    cr_assert_eq(ring_sum(&r, M0 - 1, 1), 65535);
    cr_assert_eq(ring_sum(&r, M0, 2), 2 * 65535);  /* the sum itself is 32-bit */
}

Test(window, ring_empty)
{
    struct ring r = fresh();
    ring_add(&r, M0, 1);
    cr_assert_not(ring_empty(&r, M0));
    cr_assert_not(ring_empty(&r, M0 + 63));
    cr_assert(ring_empty(&r, M0 + 64));
    cr_assert(ring_empty(&r, M0 + 100000));
    /* a ring whose only counts were ignored as too old stays empty */
    struct ring e = fresh();
    ring_add(&e, M0, 0);
    ring_add(&e, M0 - 64, 5);
    cr_assert(ring_empty(&e, M0));
}

/* window.h: ring_empty means "no count left within the ring's reach of minute", i.e. ring_sum over
 * the full 64 minutes ending at minute is 0. */
Test(window, ring_empty_agrees_with_ring_sum)
{
    struct ring r = fresh();
    ring_add(&r, M0 - 60, 3);
    ring_add(&r, M0, 0);
    for (uint32_t m = M0; m < M0 + 70; m++) {
        if (ring_sum(&r, m, RING_MINUTES))
            cr_assert_not(ring_empty(&r, m), "minute +%u", m - M0);
    }
    cr_assert(ring_empty(&r, M0 + 64));
}

/* Guards: window.c ring_empty() judges a ring by every count still in reach, not by its newest bucket
 * alone: with the newest bucket at M0 and the only count at M0-60, ring_empty(r, M0+10) is 1, as
 * ring_sum(r, M0+10, 64) is 0 (M0-60 is 70 minutes before it, out of any window). Expected 1.
 * (Found by this test and fixed: ring_empty() once compared the minute with r->last only and returned
 * 0 here. It erred towards keeping state: state_sweep kept such a subject up to 63 minutes longer
 * than it needed to.) */
Test(window, ring_empty_ignores_counts_out_of_reach)
{
    struct ring r = fresh();
    ring_add(&r, M0 - 60, 3);
    ring_add(&r, M0, 0);
    cr_assert_eq(ring_sum(&r, M0 + 10, RING_MINUTES), 0);
    cr_assert(ring_empty(&r, M0 + 10));
}

/* ---- the sparse window: every sum, emptiness and conversion equals the ring's ---- */

/* A small deterministic generator: the same sequence on every run. */
static uint32_t next_rand(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void check_same(const struct ring *r, const struct wentry *w, uint8_t n, uint8_t metric, uint32_t at)
{
    for (uint32_t minute = at - 70; minute <= at + 70; minute++) {
        for (uint32_t win = 0; win <= 65; win += (win < 3 ? 1 : 7))
            cr_assert_eq(sparse_sum(w, n, metric, minute, win), ring_sum(r, minute, win),
                         "sum at %+d over %u", (int)(minute - at), win);
        cr_assert_eq(sparse_empty(w, n, metric, minute), ring_empty(r, minute), "empty at %+d", (int)(minute - at));
    }
}

/* Random adds (forward, backward, far back, far ahead, zero counts, saturation) with room for them all:
 * the sparse window and a ring agree after every step. */
Test(window, sparse_equals_ring)
{
    uint32_t seed = 7;
    for (int round = 0; round < 200; round++) {
        struct ring r = fresh();
        struct wentry w[RING_MINUTES + 1];
        uint8_t n = 0;
        uint32_t at = M0;
        for (int step = 0; step < 12; step++) {
            uint32_t x = next_rand(&seed);
            uint32_t minute = at - 80 + x % 100, count = x % 7 ? x % 5 : (x % 11 ? 0 : 70000);
            if (x % 13 == 0)
                minute = at + 200;      /* a jump past the whole ring */
            ring_add(&r, minute, count);
            cr_assert_eq(sparse_add(w, &n, RING_MINUTES + 1, 2, minute, count), 0);
            if (minute > at)
                at = minute;
            check_same(&r, w, n, 2, at);
        }
        struct ring back;       /* and back into a ring, and inline again: the same counts */
        struct wentry copy[RING_MINUTES + 1];
        uint8_t cn = n;
        memcpy(copy, w, sizeof w);
        cr_assert_eq(sparse_to_ring(copy, &cn, 2, &back), 0);
        cr_assert_eq(cn, 0);
        check_same(&back, w, n, 2, at);
        uint8_t m = 0;
        cr_assert_eq(sparse_from_ring(copy, &m, RING_MINUTES + 1, 2, &back), 0);
        check_same(&r, copy, m, 2, at);
    }
}

Test(window, sparse_full_and_metrics_apart)
{
    struct wentry w[3];
    uint8_t n = 0;
    cr_assert_eq(sparse_add(w, &n, 3, 0, M0, 1), 0);
    cr_assert_eq(sparse_add(w, &n, 3, 1, M0, 2), 0);
    cr_assert_eq(sparse_add(w, &n, 3, 0, M0, 3), 0);           /* the same minute: no new entry */
    cr_assert_eq(n, 2);
    cr_assert_eq(sparse_add(w, &n, 3, 0, M0 + 1, 1), 0);
    cr_assert_eq(sparse_add(w, &n, 3, 0, M0 + 2, 1), -1);      /* no room: the caller makes a ring */
    cr_assert_eq(sparse_sum(w, n, 0, M0 + 1, 2), 5);
    cr_assert_eq(sparse_sum(w, n, 1, M0 + 1, 2), 2);
    cr_assert_eq(sparse_count(w, n, 0), 2);
    cr_assert_eq(sparse_add(w, &n, 3, 0, M0 + 70, 1), 0);      /* moving on frees the old minutes */
    cr_assert_eq(sparse_count(w, n, 0), 1);
    cr_assert_eq(sparse_sum(w, n, 1, M0, 1), 2);               /* another metric keeps its own reach */
}
