/* feeder.c - opening the feeder's world, feeding it one line, and committing. */
#include "feeder.h"
#include "correlate.h"
#include "metrics.h"
#include "rules.h"

#include <errno.h>
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

/* A store written by a feeder that trusted a future time stamp (a wrong clock) would never sweep
 * again and would date everything after that stamp: bring its clocks back to the present. */
static void clamp_stored_clocks(struct feeder *f, time_t wall)
{
    uint32_t limit = (uint32_t)wall + f->max_skew;
    if (f->replay)
        return;     /* a replay's clock legitimately runs ahead of the wall clock */
    if (f->state.last_sweep > limit) {
        log_warn("stored sweep time is %lds ahead of the clock: reset to now", (long)(f->state.last_sweep - wall));
        f->state.last_sweep = (uint32_t)wall;
    }
    if (f->state.latest > limit)
        f->state.latest = (uint32_t)wall;
}

int feeder_open(struct feeder *f, const char *db, const char *zones, const char *geoip, int replay,
                char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->replay = replay;
    f->max_skew = FEEDER_MAX_SKEW;
    logtime_init(&f->logtime, time(NULL));
    struct hash_key pending_key;   /* the pending listings keep their own order: any secret serves */
    hash_key_random(&pending_key);
    /* the hosts are capped (FEEDER_MAX_HOSTS): their table needs no secret, and renders alike */
    if (state_init(&f->state) < 0 || table_init(&f->pending, 1024, &pending_key) < 0 ||
        table_init(&f->stats.hosts, 64, NULL) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (zoneset_load(zones, &f->zones, err, errlen) < 0)
        return -1;
    if (store_open(&f->store, db, STORE_NOMETASYNC, err, errlen) < 0 ||
        zoneset_bind(&f->zones, &f->store, err, errlen) < 0 ||
        state_load(&f->state, f->store.env, err, errlen) < 0 || load_replay_offset(f, err, errlen) < 0)
        return -1;
    clamp_stored_clocks(f, time(NULL));
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
    pending_free(f);
    feeder_metrics_free(f);
    state_free(&f->state);
    geo_close(f->geo);
    zoneset_free(&f->zones);
    store_close(&f->store);
}

void feeder_set_max_skew(struct feeder *f, uint32_t seconds)
{
    f->max_skew = seconds;
    clamp_stored_clocks(f, time(NULL));
}

/* The present that event times are judged against: the wall clock or, in a replay, the newest
 * replayed event if that is later (a replayed log runs ahead of the clock by the span read so far). */
static int64_t trusted_now(const struct feeder *f, int64_t wall)
{
    return f->replay && (int64_t)f->state.latest > wall ? (int64_t)f->state.latest : wall;
}

static uint64_t host_hash(const char *host, size_t len)
{
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)host[i]) * 1099511628211ull;
    return h | 1;                           /* 0 marks a free slot */
}

/* Logs, once per host, that its time stamps run ahead of our clock (after 64 hosts, once for all). */
static void note_skew(struct feeder *f, const char *host, size_t hlen, int64_t ahead)
{
    const size_t n = sizeof f->skew_hosts / sizeof *f->skew_hosts;
    uint64_t h = host_hash(host, hlen);
    for (size_t i = 0; i < n; i++) {
        uint64_t *slot = &f->skew_hosts[(h + i) % n];
        if (*slot == h)
            return;
        if (*slot)
            continue;
        *slot = h;
        char name[65];
        size_t k = 0;
        for (; k < hlen && k < sizeof name - 1; k++)    /* the host name comes from the line */
            name[k] = host[k] > 0x20 && host[k] < 0x7f ? host[k] : '?';
        name[k] = '\0';
        log_warn("host %s: events dated %lldh%02lldm%02llds ahead of the clock (max-skew %us): counted at the "
                 "clock's time; fix the host's clock or time zone", name, (long long)(ahead / 3600),
                 (long long)(ahead / 60 % 60), (long long)(ahead % 60), f->max_skew);
        return;
    }
    if (!f->skew_hosts_full) {
        f->skew_hosts_full = 1;
        log_warn("more than %zu hosts with clocks ahead: no more are named (feeder_events_skewed_total counts all)", n);
    }
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
    int64_t now = trusted_now(f, ts.tv_sec);
    if (t > now + f->max_skew) {   /* a wrong clock: trusting it would date everything after it */
        f->stats.skewed++;
        note_skew(f, l.host, l.host_len, t - now);
        t = now;
    }
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

/* ---- expiries ---- */

static struct store_expiry *watch_of(struct feeder *f, int zi)
{
    struct store_expiry *x = &f->expiry[zi];
    if (x->dbi != f->zones.zones[zi].dbi)
        *x = (struct store_expiry){ .dbi = f->zones.zones[zi].dbi };
    return x;
}

int feeder_expire(struct feeder *f, uint32_t now)
{
    int raised;
    if (now == f->last_expiry_pass)
        return 0;
    f->last_expiry_pass = now;
    for (int i = 0; i < f->zones.n; i++)
        watch_of(f, i);
    int rc = store_expire_pass(&f->store, f->expiry, f->zones.n, now, &raised);
    if (rc != 0) {
        log_err("expiries: %s", mdb_strerror(rc));
        return -1;
    }
    if (raised)
        log_debug("expiries: serial raised in %d zone%s", raised, raised > 1 ? "s" : "");
    return 0;
}

/* After our own commit: the zones we wrote moved on by our hand only if their serial was the one we
 * knew; then the expiries we wrote are all that is new. */
static void expiry_after_commit(struct feeder *f, const struct store_txn *w, const uint32_t *written_next)
{
    for (int j = 0; j < w->nzones; j++)
        for (int i = 0; i < f->zones.n; i++) {
            struct store_expiry *x = watch_of(f, i);
            if (x->dbi != w->zones[j].dbi || !x->valid)
                continue;
            if (x->serial != w->zones[j].old_serial) {
                x->valid = 0;
                continue;
            }
            x->serial = w->zones[j].new_serial;
            if (written_next[i] && (!x->next || written_next[i] < x->next))
                x->next = written_next[i];
        }
}

static int commit_txn(struct feeder *f, int (*save_positions)(void *, MDB_txn *, MDB_dbi), void *arg)
{
    uint32_t written_next[ZONESET_MAX] = { 0 };
    pending_first_expiry(f, written_next);
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
    rc = store_write_commit(&w, (uint32_t)time(NULL));     /* the serial follows the clock, not the log */
    if (rc) {
        log_err("commit: %s", mdb_strerror(rc));
        return -1;
    }
    expiry_after_commit(f, &w, written_next);
    f->stats.commits++;
    return 0;
}
