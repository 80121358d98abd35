/* window.h - sliding-window counters in one-minute buckets: the ring (lib/ring.h), and the same
 * counts kept inline for a subject with few events. */
#ifndef FEEDER_WINDOW_H
#define FEEDER_WINDOW_H

#include <stdint.h>

#include "ring.h"

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
