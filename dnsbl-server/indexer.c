/* indexer.c - see indexer.h. */
#include "indexer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"
#include "store_index.h"

struct indexed_zone {
    int slot;
    MDB_dbi dbi;
    char name[DOMAIN_MAX + 1];
};

struct indexer {
    struct server *srv;
    size_t max_bytes;
    pthread_t thread;
    pthread_mutex_t lock;           /* guards stop and zones */
    pthread_cond_t wake;
    int stop;
    int retry_too_big;              /* set by indexer_set_zones (a reload): try every zone again */
    int nzones;
    struct indexed_zone zones[ZONESET_MAX];
    /* the thread's own */
    uint64_t next_build_ms[METRIC_ZONES];   /* a zone's next build may not start before this */
    /* A zone that did not fit is not tried at every serial (each try copies up to the budget): only
     * when the budget grew, after a backoff from 1 minute doubling to an hour, or after a reload. */
    uint8_t too_big[METRIC_ZONES];
    size_t too_big_budget[METRIC_ZONES];
    uint64_t too_big_backoff_ms[METRIC_ZONES], too_big_until_ms[METRIC_ZONES];
};

#define TOO_BIG_BACKOFF_MIN_MS 60000
#define TOO_BIG_BACKOFF_MAX_MS 3600000

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Returns once no worker can still hold a pointer loaded before this call: each worker that was in
 * a batch has ended it. (batch_begin's increment precedes its loads, and the swap precedes this
 * read: a batch that starts later sees the new pointer.) */
static void grace(struct server *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        unsigned long seq = atomic_load(&w->batches);
        while ((seq & 1) && atomic_load(&w->batches) == seq)
            sleep_ms(1);
    }
}

/* Puts ix (or NULL) in place of slot's index and frees the old one after the grace period. */
static void publish(struct indexer *ixr, int slot, struct store_index *ix)
{
    struct server *srv = ixr->srv;
    struct store_index *old = atomic_exchange(&srv->indexes[slot], ix);
    atomic_store_explicit(&srv->index_keys[slot], ix ? ix->nkeys : 0, memory_order_relaxed);
    atomic_store_explicit(&srv->index_bytes[slot], ix ? ix->bytes : 0, memory_order_relaxed);
    if (old) {
        grace(srv);
        store_index_free(old);
    }
}

/* The bytes every index but slot's takes now. */
static size_t bytes_elsewhere(const struct server *srv, int slot)
{
    size_t sum = 0;
    for (int i = 1; i < METRIC_ZONES; i++)
        if (i != slot)
            sum += atomic_load_explicit(&srv->index_bytes[i], memory_order_relaxed);
    return sum;
}

static int zone_serial(struct server *srv, MDB_dbi dbi, uint32_t *serial)
{
    MDB_txn *txn;
    struct zone_meta meta;
    if (mdb_txn_begin(srv->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    int rc = store_read_meta(txn, dbi, &meta);
    mdb_txn_abort(txn);
    *serial = meta.serial;
    return rc;
}

/* Records that z's index would pass budget, or cannot be built for its keys (why): logged the first
 * time, tried again after the backoff. */
static void put_off(struct indexer *ixr, const struct indexed_zone *z, size_t budget, const char *why)
{
    uint64_t *backoff = &ixr->too_big_backoff_ms[z->slot];
    if (!ixr->too_big[z->slot])
        log_warn("zone %s: %s; answering from the store", z->name, why);
    *backoff = !*backoff ? TOO_BIG_BACKOFF_MIN_MS
             : *backoff * 2 < TOO_BIG_BACKOFF_MAX_MS ? *backoff * 2 : TOO_BIG_BACKOFF_MAX_MS;
    ixr->too_big[z->slot] = 1;
    ixr->too_big_budget[z->slot] = budget;
    ixr->too_big_until_ms[z->slot] = now_ms() + *backoff;
}

/* Brings one zone's index to the zone's current serial, if it is time to. */
static void refresh(struct indexer *ixr, const struct indexed_zone *z)
{
    struct server *srv = ixr->srv;
    const struct store_index *cur = atomic_load(&srv->indexes[z->slot]);
    uint32_t serial;
    uint64_t start = now_ms();
    if (zone_serial(srv, z->dbi, &serial) < 0 ||
        (cur && cur->dbi == z->dbi && cur->serial == serial) || start < ixr->next_build_ms[z->slot])
        return;
    size_t budget = bytes_elsewhere(srv, z->slot);
    budget = budget < ixr->max_bytes ? ixr->max_bytes - budget : 0;
    if (ixr->too_big[z->slot] && start < ixr->too_big_until_ms[z->slot] &&
        budget <= ixr->too_big_budget[z->slot])
        return;
    log_debug("zone %s: indexing serial %u", z->name, serial);
    struct store_index *ix;
    char err[256];
    int rc = store_index_build(srv->store.env, z->dbi, budget, &ix, err, sizeof err);
    uint64_t took = now_ms() - start;
    ixr->next_build_ms[z->slot] = now_ms() + 9 * took;     /* builds: at most a tenth of a core */
    if (rc < 0) {
        atomic_fetch_add(&srv->index_failures, 1);
        log_warn("zone %s: cannot index: %s; answering from the store", z->name, err);
        ixr->next_build_ms[z->slot] += 10000;
    } else if (rc == 1) {
        put_off(ixr, z, budget, "its index would pass --index-memory");
    } else if (rc == 2) {   /* the same backoff: the keys will not change their hashes */
        atomic_fetch_add(&srv->index_failures, 1);
        char why[300];
        snprintf(why, sizeof why, "cannot index: %s", err);
        put_off(ixr, z, budget, why);
    } else {
        atomic_fetch_add(&srv->index_builds, 1);
        ixr->too_big[z->slot] = 0;
        ixr->too_big_backoff_ms[z->slot] = 0;
        log_debug("zone %s: indexed %zu keys at serial %u in %llu ms", z->name, ix->nkeys, ix->serial,
                  (unsigned long long)took);
    }
    publish(ixr, z->slot, rc == 0 ? ix : NULL);     /* a stale index answers nothing: free it */
}

/* Frees the indexes of slots no longer configured. */
static void drop_unlisted(struct indexer *ixr, const struct indexed_zone *zones, int n)
{
    for (int slot = 1; slot < METRIC_ZONES; slot++) {
        int listed = 0;
        for (int i = 0; i < n && !listed; i++)
            listed = zones[i].slot == slot;
        if (!listed && atomic_load(&ixr->srv->indexes[slot]))
            publish(ixr, slot, NULL);
    }
}

static void *indexer_main(void *arg)
{
    struct indexer *ixr = arg;
    struct indexed_zone zones[ZONESET_MAX];
    pthread_mutex_lock(&ixr->lock);
    while (!ixr->stop) {
        int n = ixr->nzones;
        memcpy(zones, ixr->zones, sizeof zones[0] * (size_t)n);
        if (ixr->retry_too_big) {
            memset(ixr->too_big, 0, sizeof ixr->too_big);
            memset(ixr->too_big_backoff_ms, 0, sizeof ixr->too_big_backoff_ms);
            ixr->retry_too_big = 0;
        }
        pthread_mutex_unlock(&ixr->lock);
        drop_unlisted(ixr, zones, n);
        for (int i = 0; i < n; i++)
            refresh(ixr, &zones[i]);
        pthread_mutex_lock(&ixr->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += INDEXER_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (!ixr->stop)
            pthread_cond_timedwait(&ixr->wake, &ixr->lock, &until);
    }
    pthread_mutex_unlock(&ixr->lock);
    return NULL;
}

void indexer_set_zones(struct indexer *ixr, const struct zoneset *zs)
{
    if (!ixr)
        return;
    pthread_mutex_lock(&ixr->lock);
    ixr->retry_too_big = 1;
    ixr->nzones = 0;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        if (!z->slot)
            continue;
        struct indexed_zone *iz = &ixr->zones[ixr->nzones++];
        iz->slot = z->slot;
        iz->dbi = z->dbi;
        snprintf(iz->name, sizeof iz->name, "%s", z->name);
    }
    pthread_cond_signal(&ixr->wake);
    pthread_mutex_unlock(&ixr->lock);
}

struct indexer *indexer_start(struct server *srv, size_t max_bytes, char *err, size_t errlen)
{
    if (max_bytes == 0)
        return NULL;
    struct indexer *ixr = calloc(1, sizeof *ixr);
    if (!ixr) {
        snprintf(err, errlen, "indexer: no memory");
        return NULL;
    }
    ixr->srv = srv;
    ixr->max_bytes = max_bytes;
    pthread_mutex_init(&ixr->lock, NULL);
    pthread_cond_init(&ixr->wake, NULL);
    indexer_set_zones(ixr, atomic_load(&srv->zones));
    int rc = pthread_create(&ixr->thread, NULL, indexer_main, ixr);
    if (rc != 0) {
        snprintf(err, errlen, "indexer: cannot start a thread: %s", strerror(rc));
        pthread_cond_destroy(&ixr->wake);
        pthread_mutex_destroy(&ixr->lock);
        free(ixr);
        return NULL;
    }
    pthread_setname_np(ixr->thread, "dnsbl-index");
    return ixr;
}

void indexer_stop(struct indexer *ixr)
{
    if (!ixr)
        return;
    pthread_mutex_lock(&ixr->lock);
    ixr->stop = 1;
    pthread_cond_signal(&ixr->wake);
    pthread_mutex_unlock(&ixr->lock);
    pthread_join(ixr->thread, NULL);
    for (int slot = 1; slot < METRIC_ZONES; slot++)
        publish(ixr, slot, NULL);
    pthread_cond_destroy(&ixr->wake);
    pthread_mutex_destroy(&ixr->lock);
    free(ixr);
}
