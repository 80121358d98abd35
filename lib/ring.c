/* ring.c - see ring.h. */
#include "ring.h"

#include <string.h>

void ring_add(struct ring *r, uint32_t minute, uint32_t n)
{
    if (minute > r->last) {
        uint32_t gap = minute - r->last;
        if (gap >= RING_MINUTES || r->last == 0) {
            memset(r->slot, 0, sizeof r->slot);
        } else {
            for (uint32_t m = r->last + 1; m <= minute; m++)
                r->slot[m % RING_MINUTES] = 0;
        }
        r->last = minute;
    } else if (r->last - minute >= RING_MINUTES) {
        return;     /* older than anything the ring keeps */
    }
    uint32_t v = r->slot[minute % RING_MINUTES] + n;
    r->slot[minute % RING_MINUTES] = (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v);
}

uint32_t ring_sum(const struct ring *r, uint32_t minute, uint32_t window_minutes)
{
    if (!r || window_minutes == 0)
        return 0;
    if (window_minutes > RING_MINUTES)
        window_minutes = RING_MINUTES;
    uint32_t first = minute >= window_minutes - 1 ? minute - (window_minutes - 1) : 0;
    uint32_t oldest = r->last >= RING_MINUTES - 1 ? r->last - (RING_MINUTES - 1) : 0;
    uint32_t from = first > oldest ? first : oldest, to = minute < r->last ? minute : r->last;
    uint32_t sum = 0;
    for (uint32_t m = from; m <= to && from <= to; m++)
        sum += r->slot[m % RING_MINUTES];
    return sum;
}

int ring_empty(const struct ring *r, uint32_t minute)
{
    if (!r || minute >= r->last + RING_MINUTES)
        return 1;   /* the common case for a stale subject: one comparison */
    return ring_sum(r, minute, RING_MINUTES) == 0;
}
