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

/* Regression (found by this test, fixed): window.c ring_empty() only compares minute with r->last: with the newest bucket at M0 and
 * the only count at M0-60, ring_empty(r, M0+10) returns 0 although ring_sum(r, M0+10, 64) is 0 (M0-60
 * is 70 minutes before it, out of any window). It errs towards keeping state: state_sweep keeps such
 * a subject up to 63 minutes longer than it needs to. Expected 1. */
Test(window, ring_empty_ignores_counts_out_of_reach)
{
    struct ring r = fresh();
    ring_add(&r, M0 - 60, 3);
    ring_add(&r, M0, 0);
    cr_assert_eq(ring_sum(&r, M0 + 10, RING_MINUTES), 0);
    cr_assert(ring_empty(&r, M0 + 10));
}
