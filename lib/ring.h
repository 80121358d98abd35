/* ring.h - a sliding-window counter in one-minute buckets (or the slow metrics' half hours): the
 * feeder counts in it (feeder/window.c keeps the same counts inline for subjects with few events),
 * stores it (feeder_store.c) and dnsblctl sums it.
 *
 * A ring holds the last 64 minutes of one metric for one subject. A window of W minutes ending at
 * minute m sums the buckets of minutes m-W+1 .. m, so its precision is one minute: an event is
 * counted for between W-1 and W minutes. Events older than the ring are ignored; time running
 * backwards by less than that (two hosts' clocks, a reordered relay) is counted where it belongs. */
#ifndef DNSBL_RING_H
#define DNSBL_RING_H

#include <stdint.h>

#define RING_MINUTES 64

struct ring {
    uint32_t last;                  /* the newest minute (unix time / 60) with a bucket */
    uint16_t slot[RING_MINUTES];    /* saturating counts */
};

void ring_add(struct ring *r, uint32_t minute, uint32_t n);
uint32_t ring_sum(const struct ring *r, uint32_t minute, uint32_t window_minutes);
/* No count left within the ring's reach of minute. */
int ring_empty(const struct ring *r, uint32_t minute);

#endif
