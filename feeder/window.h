/* window.h - sliding-window counters in one-minute buckets.
 *
 * A ring holds the last 64 minutes of one metric for one subject. A window of W minutes ending at
 * minute m sums the buckets of minutes m-W+1 .. m, so its precision is one minute: an event is
 * counted for between W-1 and W minutes. Events older than the ring are ignored; time running
 * backwards by less than that (two hosts' clocks, a reordered relay) is counted where it belongs. */
#ifndef FEEDER_WINDOW_H
#define FEEDER_WINDOW_H

#include <stdint.h>

#define RING_MINUTES 64

struct ring {
    uint32_t last;                  /* the newest minute (unix time / 60) with a bucket */
    uint16_t slot[RING_MINUTES];    /* saturating counts */
};

/* The same counts for a subject with few events: (minute, metric, count) entries kept inline, no ring.
 * Per metric, the newest minute with an entry plays the ring's `last`: entries more than 63 minutes
 * older than it are dropped, adds older than that are ignored, so every sum equals the ring's.
 * A count-0 entry marks `last` only (ring_add with n = 0 moves the ring on too). */
struct wentry {
    uint32_t minute;
    uint8_t metric;
    uint8_t unused;
    uint16_t count;                 /* saturating, as a ring slot */
};

void ring_add(struct ring *r, uint32_t minute, uint32_t n);
uint32_t ring_sum(const struct ring *r, uint32_t minute, uint32_t window_minutes);
/* No count left within the ring's reach of minute. */
int ring_empty(const struct ring *r, uint32_t minute);

/* Adds to w (n entries, room for cap): 0, or -1 when a new entry is needed and there is no room. */
int sparse_add(struct wentry *w, uint8_t *n, uint8_t cap, uint8_t metric, uint32_t minute, uint32_t count);
uint32_t sparse_sum(const struct wentry *w, uint8_t n, uint8_t metric, uint32_t minute, uint32_t window_minutes);
int sparse_empty(const struct wentry *w, uint8_t n, uint8_t metric, uint32_t minute);
/* Entries of metric (0 if none). */
int sparse_count(const struct wentry *w, uint8_t n, uint8_t metric);
/* Moves metric's entries out of w into r (zeroed first); 0, or -1 if metric has none. */
int sparse_to_ring(struct wentry *w, uint8_t *n, uint8_t metric, struct ring *r);
/* Adds r's counts to w as entries of metric: 0, or -1 (nothing added) if they do not fit. */
int sparse_from_ring(struct wentry *w, uint8_t *n, uint8_t cap, uint8_t metric, const struct ring *r);

#endif
