/* commit.c - see commit.h. */
#include "commit.h"

#include <stdlib.h>
#include <string.h>

#include "feeder.h"

void pending_add(struct feeder *f, int zi, uint32_t code, uint32_t offence, const uint8_t *skey, size_t sklen,
                 uint32_t since, uint32_t until, const char *text)
{
    uint8_t key[sizeof ((struct pending *)0)->key];
    uint32_t zone = (uint32_t)zi;
    memcpy(key, &zone, 4);
    memcpy(key + 4, &code, 4);
    memcpy(key + 8, &offence, 4);
    memcpy(key + 12, skey, sklen);
    size_t klen = 12 + sklen;
    uint64_t h = table_hash(&f->pending, key, klen);
    struct pending *p = (struct pending *)table_get(&f->pending, key, klen, h);
    if (!p) {
        if (!(p = calloc(1, sizeof *p))) {
            f->stats.listings_lost++;
            return;
        }
        memcpy(p->key, key, klen);
        p->keylen = (uint16_t)klen;
        p->node.hash = h;
        p->node.key = p->key;
        p->node.keylen = klen;
        p->zone = zi;
        p->code = code;
        p->since = since;
        if (table_put(&f->pending, &p->node) < 0) {
            free(p);
            f->stats.listings_lost++;
            return;
        }
        if (!f->pending_last)
            f->pending_last = &f->pending_first;
        *f->pending_last = p;
        f->pending_last = &p->next_in_order;
    }
    p->expires = until;
    size_t n = strlen(text);
    p->text_len = (uint8_t)(n > REASON_TEXT_MAX ? REASON_TEXT_MAX : n);
    memcpy(p->text, text, p->text_len);
}

/* Writes one pending listing: merged with the feeder's other reasons, never over a live manual entry
 * and never inside (or over) a live allow entry that an operator wrote into the store with dnsblctl,
 * at any prefix length: as with the zone file's [allow], the listing is dropped and counted. An
 * expired entry of either kind shields nothing: the feeder's listing replaces it. Liveness is judged
 * at the listing's own time (p->since), not at commit time, so that the result never depends on when
 * commits happen. */
static int flush_one(struct feeder *f, struct store_txn *w, const struct pending *p)
{
    const struct zone *z = &f->zones.zones[p->zone];
    const uint8_t *skey = p->key + 12;
    size_t sklen = p->keylen - 12u;
    struct listing old, l = { .since = p->since };
    char texts[LISTING_MAX_REASONS][REASON_TEXT_MAX];
    int allow = store_allowed_key(w->txn, z->dbi, skey, sklen, p->since);
    if (allow < 0)
        return -1;
    if (allow) {
        f->stats.allowed++;
        return 0;
    }
    int found = store_get(w->txn, z->dbi, skey, sklen, &old);
    if (found < 0)
        return -1;
    int live = found && listing_live(&old, p->since);
    if (live && (old.flags & LISTING_MANUAL)) {
        f->stats.manual_kept++;
        return 0;
    }
    if (live) {
        l.since = old.since < p->since ? old.since : p->since;
        for (int i = 0; i < old.nreasons; i++) {    /* copy out of the map before writing */
            const struct reason *r = &old.reasons[i];
            if (r->code == p->code || (r->expires && r->expires <= p->since))
                continue;
            memcpy(texts[l.nreasons], r->text, r->text_len);
            l.reasons[l.nreasons] = *r;
            l.reasons[l.nreasons].text = texts[l.nreasons];
            l.nreasons++;
        }
    }
    struct reason r = { p->code, p->expires, p->text_len, p->text };
    if (listing_set_reason(&l, &r) < 0)
        return 0;
    return store_put(w, z->dbi, skey, sklen, &l, 0) == 0 ? 0 : -1;
}

int listings_flush(struct feeder *f, struct store_txn *w)
{
    int rc = 0;
    for (struct pending *p = f->pending_first, *next; p; p = next) {
        next = p->next_in_order;
        if (rc == 0 && flush_one(f, w, p) < 0)
            rc = -1;
        free(p);
    }
    table_clear(&f->pending);
    f->pending_first = NULL;
    f->pending_last = &f->pending_first;
    return rc;
}

void pending_first_expiry(const struct feeder *f, uint32_t *first)
{
    for (const struct pending *p = f->pending_first; p; p = p->next_in_order)
        if (p->expires && (!first[p->zone] || p->expires < first[p->zone]))
            first[p->zone] = p->expires;
}

void pending_free(struct feeder *f)
{
    for (struct pending *p = f->pending_first, *next; p; p = next) {
        next = p->next_in_order;
        free(p);
    }
    table_free(&f->pending);
}
