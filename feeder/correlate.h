/* correlate.h - correlate.c: an event to the subjects it counts for (address, network, domain,
 * account), then the rules of each. */
#ifndef FEEDER_CORRELATE_H
#define FEEDER_CORRELATE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct feeder;

void feed_event(struct feeder *f, const char *host, size_t hlen, const struct event *ev, uint32_t t);

#endif
