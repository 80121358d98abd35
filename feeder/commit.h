/* commit.h - the listings the rules made, written at the next commit: rules.c decides (pending_add),
 * this module writes (listings_flush, in the commit's transaction, feeder.c). */
#ifndef FEEDER_COMMIT_H
#define FEEDER_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "table.h"

struct feeder;

/* A listing waiting for the next commit: one per zone, key, code and offence, flushed in the order
 * they were made, so that the stored result never depends on when commits happen. */
struct pending {
    struct hnode node;
    struct pending *next_in_order;
    int zone;
    uint32_t code, expires, since;
    uint8_t text_len;
    char text[REASON_TEXT_MAX];
    uint16_t keylen;
    uint8_t key[12 + STORE_KEY_MAX];        /* zone index, code, offence number (4 bytes each), store key */
};

/* Queues a listing of the store key skey in zone zi (code, the offence number of its rule, and its
 * reason text) from since until until; a second one for the same zone, key, code and offence
 * replaces the first's end and text. Without memory the listing is dropped. */
void pending_add(struct feeder *f, int zi, uint32_t code, uint32_t offence, const uint8_t *skey, size_t sklen,
                 uint32_t since, uint32_t until, const char *text);
/* Writes the pending listings into w in the order they were made, and empties the list (also when
 * a write failed: 0, or -1); the caller commits. */
int listings_flush(struct feeder *f, struct store_txn *w);
/* The earliest end of a pending listing per zone index, into first[] (ZONESET_MAX, zeroed by the
 * caller; 0 stays where no listing ends): what the commit will write, for the expiry timer. */
void pending_first_expiry(const struct feeder *f, uint32_t *first);
/* Frees the pending listings (the feeder closes). */
void pending_free(struct feeder *f);

#endif
