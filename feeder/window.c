/* window.c - see window.h. */
#include "window.h"

#include <string.h>

/* ---- sparse windows ---- */

static int sparse_last(const struct wentry *w, uint8_t n, uint8_t metric, uint32_t *last)
{
    int found = 0;
    for (uint8_t i = 0; i < n; i++)
        if (w[i].metric == metric && (!found || w[i].minute > *last)) {
            *last = w[i].minute;
            found = 1;
        }
    return found;
}

/* Removes metric's entries that the ring ending at last would have cleared, and count-0 markers
 * that no longer mark last. */
static void sparse_prune(struct wentry *w, uint8_t *n, uint8_t metric, uint32_t last)
{
    uint8_t k = 0;
    for (uint8_t i = 0; i < *n; i++) {
        const struct wentry *e = &w[i];
        int drop = e->metric == metric && (last - e->minute >= RING_MINUTES || (!e->count && e->minute != last));
        if (!drop)
            w[k++] = *e;
    }
    *n = k;
}

int sparse_add(struct wentry *w, uint8_t *n, uint8_t cap, uint8_t metric, uint32_t minute, uint32_t count)
{
    uint32_t last = 0;
    if (sparse_last(w, *n, metric, &last)) {
        if (minute > last)
            sparse_prune(w, n, metric, minute);
        else if (last - minute >= RING_MINUTES)
            return 0;       /* older than anything the ring keeps */
    }
    for (uint8_t i = 0; i < *n; i++)
        if (w[i].metric == metric && w[i].minute == minute) {
            uint32_t v = w[i].count + count;
            w[i].count = (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v);
            return 0;
        }
    if (*n == cap)
        return -1;
    w[*n] = (struct wentry){ minute, metric, 0, (uint16_t)(count > UINT16_MAX ? UINT16_MAX : count) };
    (*n)++;
    return 0;
}

uint32_t sparse_sum(const struct wentry *w, uint8_t n, uint8_t metric, uint32_t minute, uint32_t window_minutes)
{
    uint32_t last = 0;
    if (window_minutes == 0 || !sparse_last(w, n, metric, &last))
        return 0;
    if (window_minutes > RING_MINUTES)
        window_minutes = RING_MINUTES;
    uint32_t first = minute >= window_minutes - 1 ? minute - (window_minutes - 1) : 0;
    uint32_t oldest = last >= RING_MINUTES - 1 ? last - (RING_MINUTES - 1) : 0;
    uint32_t from = first > oldest ? first : oldest, to = minute < last ? minute : last;
    uint32_t sum = 0;
    for (uint8_t i = 0; i < n; i++)
        if (w[i].metric == metric && w[i].minute >= from && w[i].minute <= to)
            sum += w[i].count;
    return sum;
}

int sparse_empty(const struct wentry *w, uint8_t n, uint8_t metric, uint32_t minute)
{
    uint32_t last = 0;
    if (!sparse_last(w, n, metric, &last) || minute >= last + RING_MINUTES)
        return 1;
    return sparse_sum(w, n, metric, minute, RING_MINUTES) == 0;
}

int sparse_count(const struct wentry *w, uint8_t n, uint8_t metric)
{
    int c = 0;
    for (uint8_t i = 0; i < n; i++)
        c += w[i].metric == metric;
    return c;
}

int sparse_to_ring(struct wentry *w, uint8_t *n, uint8_t metric, struct ring *r)
{
    uint32_t last = 0;
    if (!sparse_last(w, *n, metric, &last))
        return -1;
    memset(r, 0, sizeof *r);
    r->last = last;
    uint8_t k = 0;
    for (uint8_t i = 0; i < *n; i++) {
        if (w[i].metric != metric)
            w[k++] = w[i];
        else
            r->slot[w[i].minute % RING_MINUTES] = w[i].count;
    }
    *n = k;
    return 0;
}

int sparse_from_ring(struct wentry *w, uint8_t *n, uint8_t cap, uint8_t metric, const struct ring *r)
{
    int nz = 0, last_zero = !r->slot[r->last % RING_MINUTES];
    for (int i = 0; i < RING_MINUTES; i++)
        nz += r->slot[i] != 0;
    if (*n + nz + last_zero > cap)
        return -1;
    if (last_zero)      /* the marker that keeps the ring's last */
        w[(*n)++] = (struct wentry){ r->last, metric, 0, 0 };
    for (uint32_t back = 0; back < RING_MINUTES && back <= r->last; back++) {
        uint32_t minute = r->last - back;
        uint16_t c = r->slot[minute % RING_MINUTES];
        if (c)
            w[(*n)++] = (struct wentry){ minute, metric, 0, c };
    }
    return 0;
}
