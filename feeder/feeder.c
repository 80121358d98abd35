/* feeder.c - opening the feeder's world, feeding it one line, and committing. */
#include "feeder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "geo.h"
#include "log.h"

#define SWEEP_EVERY 600     /* seconds of event time between sweeps of stale state (windows are <= 64 min) */

static int load_replay_offset(struct feeder *f, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { 13, "replay-offset" }, v;
    int rc = mdb_txn_begin(f->store.env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        return -1;
    }
    if (mdb_get(txn, f->state.meta_dbi, &k, &v) == 0 && v.mv_size == sizeof f->replay_offset) {
        memcpy(&f->replay_offset, v.mv_data, sizeof f->replay_offset);
        f->replay_set = 1;
    }
    mdb_txn_abort(txn);
    return 0;
}

int feeder_open(struct feeder *f, const char *db, const char *zones, const char *geoip, int replay,
                char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->replay = replay;
    logtime_init(&f->logtime, time(NULL));
    if (state_init(&f->state) < 0 || table_init(&f->pending, 1024) < 0 || table_init(&f->stats.hosts, 64) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (zoneset_load(zones, &f->zones, err, errlen) < 0)
        return -1;
    if (store_open(&f->store, db, STORE_NOMETASYNC, err, errlen) < 0 ||
        zoneset_bind(&f->zones, &f->store, err, errlen) < 0 ||
        state_load(&f->state, f->store.env, err, errlen) < 0 || load_replay_offset(f, err, errlen) < 0)
        return -1;
    for (int i = 0; i < f->zones.n; i++) {
        const struct zone *z = &f->zones.zones[i];
        if (z->repeat_memory > f->repeat_memory)
            f->repeat_memory = z->repeat_memory;
        if (z->rules[RULE_COMPROMISED].enabled && z->rules[RULE_COMPROMISED].window > f->login_window)
            f->login_window = z->rules[RULE_COMPROMISED].window;
    }
    if (geoip && !(f->geo = geo_open(geoip, err, errlen)))
        return -1;
    return 0;
}

void feeder_close(struct feeder *f)
{
    for (struct pending *p = f->pending_first, *next; p; p = next) {
        next = p->next_in_order;
        free(p);
    }
    table_free(&f->pending);
    feeder_metrics_free(f);
    state_free(&f->state);
    geo_close(f->geo);
    zoneset_free(&f->zones);
    store_close(&f->store);
}

void feed_line(struct feeder *f, const char *line, size_t len)
{
    struct logline l;
    struct event ev;
    struct timespec ts;
    f->stats.lines++;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);     /* RFC 3164 years are judged against it */
    f->logtime.now = ts.tv_sec;
    if (logline_parse(line, len, &l, &f->logtime) < 0) {
        f->stats.unparsed++;
        return;
    }
    enum event_type type = parse_event(&l, &ev);
    f->stats.events[type]++;
    count_host_event(f, l.host, l.host_len, type);
    if (type == EV_NONE) {
        f->stats.skipped++;
        return;
    }
    if (f->replay && !f->replay_set) {      /* the first event maps onto the present */
        f->replay_offset = (int64_t)time(NULL) - l.time;
        f->replay_set = 1;
    }
    int64_t t = l.time + (f->replay ? f->replay_offset : 0);
    if (t <= 0 || t > UINT32_MAX)
        return;
    if ((uint32_t)t >= f->state.last_sweep + SWEEP_EVERY)
        state_sweep(&f->state, (uint32_t)t, f->repeat_memory, f->login_window);
    feed_event(f, l.host, l.host_len, &ev, (uint32_t)t);
}

static int commit_txn(struct feeder *f, int (*save_positions)(void *, MDB_txn *, MDB_dbi), void *arg);

int feeder_commit(struct feeder *f, int (*save_positions)(void *, MDB_txn *, MDB_dbi), void *arg)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = commit_txn(f, save_positions, arg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    histogram_observe(&f->stats.commit_seconds, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (rc < 0)
        f->stats.commit_failures++;
    return rc;
}

static int commit_txn(struct feeder *f, int (*save_positions)(void *, MDB_txn *, MDB_dbi), void *arg)
{
    struct store_txn w;
    int rc = store_write_begin(&f->store, &w);
    if (rc) {
        log_err("commit: %s", mdb_strerror(rc));
        return -1;
    }
    if (listings_flush(f, &w) < 0 || (rc = state_save(&f->state, w.txn)) != 0 ||
        (save_positions && save_positions(arg, w.txn, f->state.meta_dbi) < 0)) {
        store_write_abort(&w);
        log_err("commit: %s", rc ? mdb_strerror(rc) : "cannot write");
        return -1;
    }
    if (f->replay && f->replay_set) {
        MDB_val k = { 13, "replay-offset" }, v = { sizeof f->replay_offset, &f->replay_offset };
        if ((rc = mdb_put(w.txn, f->state.meta_dbi, &k, &v, 0)) != 0) {
            store_write_abort(&w);
            log_err("commit: %s", mdb_strerror(rc));
            return -1;
        }
    }
    rc = store_write_commit(&w, f->state.latest ? f->state.latest : (uint32_t)time(NULL));
    if (rc) {
        log_err("commit: %s", mdb_strerror(rc));
        return -1;
    }
    f->stats.commits++;
    return 0;
}
