/* rules.h - rules.c: decides whether a subject is listed under a rule, and queues the listing. */
#ifndef FEEDER_RULES_H
#define FEEDER_RULES_H

#include <stdint.h>

#include "state.h"
#include "zone.h"

struct feeder;

void rules_eval(struct feeder *f, struct subject *sub, enum rule_kind k, uint32_t t);

#endif
