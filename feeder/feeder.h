/* feeder.h - the feeder's state: options, zones, store, counters, pending listings, statistics.
 * A log line's path: source (file or syslog) -> logline_parse -> parse_event -> feed_event
 * (correlate.c: joins and counters) -> rules_eval (rules.c: thresholds, listings) -> commit. */
#ifndef FEEDER_FEEDER_H
#define FEEDER_FEEDER_H

#include <stdint.h>

#include "commit.h"
#include "event.h"
#include "metrics_http.h"
#include "logline.h"
#include "state.h"
#include "store.h"
#include "table.h"
#include "zone.h"

struct geo;

#define FEEDER_MAX_SKEW 300      /* default: an event may be dated this far ahead of the clock */
#define FEEDER_MAX_HOSTS 1024     /* per-host event counters; more hosts count as "other" */

struct host_stats {
    struct hnode node;
    uint64_t events[EV_TYPES];
    char name[];
};

struct feeder_stats {
    uint64_t lines, unparsed, skipped, events[EV_TYPES];
    uint64_t listings, manual_kept, allowed, commits, commit_failures;
    uint64_t listings_lost;         /* listings a rule made that could not be queued: no memory */
    uint64_t skewed;                /* events dated more than max-skew ahead of the clock */
    uint64_t listings_by[ZONESET_MAX][RULE_KINDS];
    struct table hosts;             /* host name -> struct host_stats */
    struct host_stats *other_hosts;
    struct histogram commit_seconds;
};

struct feeder {
    struct store store;
    struct zoneset zones;
    struct state state;
    struct geo *geo;
    struct logtime logtime;
    struct table pending;
    struct pending *pending_first, **pending_last;
    int64_t replay_offset;          /* seconds added to every event time (--replay) */
    int replay, replay_set;
    uint32_t max_skew;              /* seconds an event may be ahead of the clock (default 300) */
    uint64_t skew_hosts[64];        /* hashes of the hosts whose skew was logged (0 = free slot) */
    int skew_hosts_full;
    struct store_expiry expiry[ZONESET_MAX];     /* what feeder_expire knows, per zone */
    uint32_t last_expiry_pass;
    uint32_t repeat_memory;         /* the longest of the zones' */
    uint32_t login_window;          /* the longest compromised-rule window */
    struct feeder_stats stats;
};

int feeder_open(struct feeder *f, const char *db, const char *zones, const char *geoip, int replay,
                char *err, size_t errlen);
void feeder_close(struct feeder *f);
/* Raises the serial of zones in which a listing expired (store.h, "Expiries"), at most once a second:
 * so secondaries drop expired listings although dnsbl-server never writes. 0, or -1 on a store error. */
int feeder_expire(struct feeder *f, uint32_t now);
/* How far ahead of the clock an event may be dated before it is counted at the clock's time. */
void feeder_set_max_skew(struct feeder *f, uint32_t seconds);
/* One log line (no newline). */
void feed_line(struct feeder *f, const char *line, size_t len);
/* One transaction: pending listings, dirty state and (through the callback) the input positions. */
int feeder_commit(struct feeder *f, int (*save_positions)(void *, MDB_txn *, MDB_dbi), void *arg);

#endif
