/* state.h - everything the feeder remembers: per-subject counters, rule state and login history,
 * and the queue-ID table that joins a message's lines. All of it lives in memory while the feeder
 * runs and is written to LMDB (dirty entries only) in the same transaction as the input positions,
 * so a restart continues exactly where the last commit left off.
 *
 * The sub-databases, their keys and the records' format: lib/feeder_store.h (the codec is there too,
 * shared with dnsblctl, which reads the stored state).
 *
 * Memory: see struct subject. The number of subjects and of queue entries is capped (max_sources,
 * max_queue); beyond a cap the least recently seen are dropped from memory and from the store. */
#ifndef FEEDER_STATE_H
#define FEEDER_STATE_H

#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "feeder_store.h"
#include "table.h"
#include "window.h"
#include "zone.h"

#define ABNORMAL_JOIN 300       /* seconds a postscreen slot or smtpd signal waits for its end */

#define SUBJECT_WINDOW_INLINE 3     /* (minute, metric, count) entries kept in the subject itself */

/* One source (an address, /64, sender domain or account), about 96 bytes with its key for the usual
 * source with a few events: counts live in the inline entries, and only a metric with more distinct
 * minutes than fit gets a full 64-minute ring; the offence records exist once it was ever listed.
 * node.seen is the last event time that changed it: the least recently seen are evicted first. */
struct subject {
    struct lnode node;
    struct ring **ring;                 /* NULL, or METRICS ring pointers (a NULL ring: none or inline) */
    struct offence *offence;            /* NULL (never listed), or RULE_KINDS records */
    union {     /* by kind: no subject needs both, and the common one stays small */
        struct account_state *acct;     /* SUBJ_ACCOUNT (and NULL for addresses and domains) */
        struct net_members *members;    /* SUBJ_NET */
        struct abnormal_state *abn;     /* SUBJ_IP with abnormal sessions */
    };
    uint32_t last_unknown;              /* time of the newest unknown-recipient RCPT (dha) */
    uint8_t kind, keylen, nwin;
    uint8_t dirty : 1, stored : 1;
    uint8_t dead : 1;                   /* evicted or swept while dirty: freed at the next save */
    uint8_t geo_done : 1;
    char cc[2];                         /* country (GeoIP cache, not stored); "--" unknown */
    /* RCPT rejects and the disconnects that count them, joined in either order (correlate.c; not
     * stored: a join lasts a minute): rejects no disconnect has claimed yet, and rejects that a
     * disconnect counted before their lines came */
    uint8_t rejects_open, rejects_owed;
    struct wentry win[SUBJECT_WINDOW_INLINE];
    uint8_t key[];                      /* kind byte, then 4 or 8 (IPv6 /64) bytes, or a name */
};

/* One queue ID on one host. node.seen is the newest event for it: idle entries expire, and the least
 * recently seen are evicted first. */
struct qentry {
    struct lnode node;
    uint32_t removed;                   /* event time; 0 = still queued */
    struct ipaddr ip;
    uint8_t dirty : 1, stored : 1, dead : 1, has_ip : 1, null_sender : 1, has_sender : 1;
    uint8_t counted : 1;                /* qmgr logs from= again on every retry: count once */
    uint8_t submitted : 1;              /* counted toward its SASL account's volume */
    uint8_t ndr_unjoined : 1;           /* an NDR sent before the client= line came: counted at it */
    uint8_t domain_len, account_len;
    uint16_t keylen;
    uint16_t nrcpt;                     /* qmgr's nrcpt= (for the account, whichever line comes last) */
    char *domain;                       /* the sender's domain (has_sender), then the SASL account
                                         * (account_len > 0) of an authenticated submission: one allocation */
    uint8_t key[];                      /* host NUL qid */
};

/* Defaults sized for a feeder in 1 GB: about 100 bytes per quiet source plus its share of the LMDB
 * map, and about 100 bytes per queue entry. */
#define STATE_MAX_SOURCES 4000000
#define STATE_MAX_QUEUE 1000000
#define STATE_QUEUE_IDLE 7200   /* a queue ID with no line for this long is dropped: longer than
                                 * Postfix's maximal_backoff_time (4000 s), so a deferred message
                                 * that is still retried keeps its entry */

struct state_stats {
    uint64_t evicted_sources, evicted_queue;   /* dropped at the caps, least recently seen first */
    uint64_t expired_queue;                     /* queue IDs dropped after STATE_QUEUE_IDLE without a line */
};

struct pvec { void **p; size_t n, cap; };

struct state {
    struct ltable subjects, queue;
    struct pvec dirty_subjects, dirty_queue;    /* written at the next save */
    uint8_t **deleted_keys;             /* stored subjects/queue entries pruned since the last commit */
    size_t *deleted_lens;
    uint8_t *deleted_db;                /* 's' or 'q' */
    size_t ndeleted, deleted_cap;
    uint32_t latest;                    /* the newest event time seen */
    uint32_t last_sweep;
    size_t max_sources, max_queue;      /* 0: no cap */
    size_t sources_by_kind[4];          /* in the table: IP, domain, account, network (for the metrics) */
    uint32_t queue_idle;
    struct state_stats stats;
    size_t map_writes;                  /* records written since the store's map was last released */
    void *map_addr;                     /* LMDB's map of the store, once found (state.c locate_map) */
    size_t map_len;
    MDB_dbi subjects_dbi, queue_dbi, meta_dbi;
};

int state_init(struct state *s);
void state_free(struct state *s);
/* Opens the sub-databases and loads everything into memory. */
int state_load(struct state *s, MDB_env *env, char *err, size_t errlen);
/* Writes every dirty entry and every deletion into txn. */
int state_save(struct state *s, MDB_txn *txn);

/* Notes that the member a contributed to metric m of network sub at t. 0, or -1 without memory. */
int net_member_add(struct subject *sub, const struct ipaddr *a, uint8_t m, uint32_t t);
/* Distinct members that contributed to metric m within the window up to t, in the one-minute steps of
 * subject_sum (at most NET_MEMBERS_MAX). */
uint32_t net_member_count(const struct subject *sub, uint8_t m, uint32_t t, uint32_t window);
/* The sum of metric `sum` over the member subjects (addresses, /64s) that contributed to metric m of
 * network sub within the window; members no longer in memory count 0. */
uint32_t net_members_sum(struct state *s, const struct subject *sub, uint8_t m, enum metric sum, uint32_t t,
                         uint32_t window);
struct subject *subject_get(struct state *s, const uint8_t *key, size_t len, int create);
/* Marks sub to be written at the next save, as seen at the newest event time. */
void subject_touch(struct state *s, struct subject *sub);
void subject_count(struct state *s, struct subject *sub, enum metric m, uint32_t t, uint32_t n);
uint32_t subject_sum(const struct subject *sub, enum metric m, uint32_t t, uint32_t window);
/* The newest bucket with a count of metric m (unix time / the metric's unit: minutes for the rules'
 * windows, half hours for the slow ones); 0 if none. */
uint32_t subject_newest_minute(const struct subject *sub, enum metric m);
/* No count of metric m within its ring's reach of t. */
int subject_window_empty(const struct subject *sub, enum metric m, uint32_t t);
struct account_state *subject_account(struct subject *sub);
/* The abnormal-session record of an address, created (zeroed) if need be; NULL without memory or for
 * other kinds of subject. */
struct abnormal_state *subject_abnormal(struct subject *sub);
/* The offence record for rule k, created (zeroed) if need be; NULL without memory. */
struct offence *subject_offence(struct subject *sub, int k);
/* 0, 1, 2, 3 for SUBJ_IP, SUBJ_DOMAIN, SUBJ_ACCOUNT, SUBJ_NET: the index of state.sources_by_kind. */
static inline int subject_kind_index(int kind)
{
    return kind == SUBJ_IP ? 0 : kind == SUBJ_DOMAIN ? 1 : kind == SUBJ_NET ? 3 : 2;
}
/* The subject's address as a network (IPv4 /32 or IPv6 /64, or a SUBJ_NET's network); 0, or -1 for
 * subjects that are not addresses. */
int subject_net(const struct subject *sub, struct ipnet *net);
const char *subject_name(const struct subject *sub, char *buf, size_t n);

struct qentry *queue_get(struct state *s, const char *host, size_t hlen, const char *qid, size_t qlen, int create);
/* Marks q to be written at the next save, as seen at the newest event time. */
void queue_touch(struct state *s, struct qentry *q);
/* The sender's domain of q's message (lower case, at most DOMAIN_MAX). 0 or -1 (no memory). */
int queue_set_domain(struct qentry *q, const char *domain, size_t len);
/* The SASL account that submitted q's message (at most DOMAIN_MAX bytes, as logged). 0 or -1. */
int queue_set_account(struct qentry *q, const char *account, size_t len);
static inline const char *queue_account(const struct qentry *q)
{
    return q->domain + q->domain_len + 1;     /* only when account_len > 0 */
}

/* Drops what no window, rule or join can need any more, as of event time t. */
void state_sweep(struct state *s, uint32_t t, uint32_t repeat_memory, uint32_t login_window);
/* Evicts the least recently seen subjects and queue entries beyond the caps (down to 7/8 of a cap,
 * so that the passes over the table are rare). Call it only where no subject or queue pointer is
 * held (feed_event's start, state_save). */
void state_limit(struct state *s);

/* Text dump of the stored state, sorted: for comparing two runs (feeder --dump). */
int state_dump(MDB_env *env, FILE *out, char *err, size_t errlen);

#endif
