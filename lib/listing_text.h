/* listing_text.h - what a listed name answers with: its TXT text and its TTL. One definition for the
 * DNS answer (dnsbl-server/answer.c), the policy endpoints' reason (policy.c), and the records of a
 * zone transfer or `dnsblctl export` (xfr_records.c), so that all say the same. */
#ifndef DNSBL_LISTING_TEXT_H
#define DNSBL_LISTING_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "zone.h"

/* The zone's TXT template expanded for l at time now ({reason}: the live reasons' texts joined by
 * "; ", whole reasons only; {addr}: subject; {zone}; {code}: the first live code). Returns the
 * length, at most cap - 1 (cap at least 1); out is not NUL-terminated. */
size_t listing_txt(const struct zone *z, const struct listing *l, uint32_t now, const char *subject,
                   char *out, size_t cap);
/* The zone TTL, cut so that no cache keeps the answer past the first expiry of a reason in it (after
 * that the answer changes: a code fewer, or not listed). */
uint32_t listing_ttl(const struct zone *z, const struct listing *l, uint32_t now);

#endif
