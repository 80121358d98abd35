/* rules.h - rules.c: decides whether a subject is listed under a rule, and queues the listing. */
#ifndef FEEDER_RULES_H
#define FEEDER_RULES_H

#include <stdint.h>

#include "state.h"
#include "zone.h"

struct feeder;
struct store_txn;

void rules_eval(struct feeder *f, struct subject *sub, enum rule_kind k, uint32_t t);
/* Writes the pending listings into w; the caller commits. */
int listings_flush(struct feeder *f, struct store_txn *w);

#endif
