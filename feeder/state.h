/* state.h - everything the feeder remembers: per-subject counters, rule state and login history,
 * and the queue-ID table that joins a message's lines. All of it lives in memory while the feeder
 * runs and is written to LMDB (dirty entries only) in the same transaction as the input positions,
 * so a restart continues exactly where the last commit left off.
 *
 *   sub-database "feeder:subjects"  key: kind byte + address/name     value: see state.c encode_subject
 *   sub-database "feeder:queue"     key: host NUL queue-ID            value: see state.c encode_qentry
 *   sub-database "feeder:meta"      key: "source:PATH", "replay-offset", "sweep"                       */
#ifndef FEEDER_STATE_H
#define FEEDER_STATE_H

#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "table.h"
#include "window.h"
#include "zone.h"

enum subject_kind { SUBJ_IP = 'i', SUBJ_DOMAIN = 'd', SUBJ_ACCOUNT = 'a' };

enum metric {
    M_RCPT,         /* RCPT commands (from disconnect lines) */
    M_UNKNOWN,      /* RCPTs rejected as unknown users */
    M_NDR_IN,       /* accepted messages with the null sender */
    M_NDR_OUT,      /* NDRs this MTA sent because of a message from the subject */
    M_AUTH_FAIL,    /* failed logins (weighted by Dovecot's attempt count) */
    M_MSGS,         /* accepted messages */
    M_ABNORMAL,     /* lost connections, too many errors, postscreen pregreet/hangup */
    METRICS
};

#define ACCT_FAIL_IPS 16
#define ACCT_LOGINS 32

struct fail_ip { struct ipaddr ip; uint32_t last; };
struct login { uint32_t time; struct ipaddr ip; char cc[2]; };

struct account_state {
    uint8_t nfail, nlogin;
    struct fail_ip fail[ACCT_FAIL_IPS];     /* addresses that failed for the account, most recent kept */
    struct login login[ACCT_LOGINS];        /* successful logins, oldest first */
};

struct offence {
    uint32_t until;     /* the current (or last) listing under this rule ends then */
    uint32_t count;     /* listings so far: each new one lasts twice as long */
    uint32_t last;      /* the offending event that last set until */
};

struct subject {
    struct hnode node;
    struct subject *dirty_next;
    uint8_t dirty, stored, kind;
    uint8_t dead;                       /* swept while dirty: freed at the next save */
    uint8_t geo_done;
    char cc[2];                         /* country (GeoIP cache, not stored); "--" unknown */
    struct ring *ring[METRICS];
    struct offence offence[RULE_KINDS];
    struct account_state *acct;
    uint32_t last_unknown;              /* time of the newest unknown-recipient RCPT (dha) */
    uint16_t keylen;
    uint8_t key[];                      /* kind byte, then 4 or 8 (IPv6 /64) bytes, or a name */
};

struct qentry {
    struct hnode node;
    struct qentry *dirty_next;
    uint8_t dirty, stored, has_ip, null_sender, has_sender, dead;
    uint8_t counted;                    /* qmgr logs from= again on every retry: count once */
    struct ipaddr ip;
    uint32_t seen, removed;             /* event times; removed 0 = still queued */
    uint8_t domain_len;
    char domain[DOMAIN_MAX + 1];
    uint16_t keylen;
    uint8_t key[];                      /* host NUL qid */
};

struct state {
    struct table subjects, queue;
    struct subject *dirty_subjects;
    struct qentry *dirty_queue;
    uint8_t **deleted_keys;             /* stored subjects/queue entries pruned since the last commit */
    size_t *deleted_lens;
    uint8_t *deleted_db;                /* 's' or 'q' */
    size_t ndeleted, deleted_cap;
    uint32_t latest;                    /* the newest event time seen */
    uint32_t last_sweep;
    MDB_dbi subjects_dbi, queue_dbi, meta_dbi;
};

int state_init(struct state *s);
void state_free(struct state *s);
/* Opens the sub-databases and loads everything into memory. */
int state_load(struct state *s, MDB_env *env, char *err, size_t errlen);
/* Writes every dirty entry and every deletion into txn. */
int state_save(struct state *s, MDB_txn *txn);

/* Subject keys */
size_t subject_key_ip(const struct ipaddr *a, uint8_t *key);        /* IPv6: its /64 */
size_t subject_key_name(int kind, const char *name, size_t len, uint8_t *key);
struct subject *subject_get(struct state *s, const uint8_t *key, size_t len, int create);
void subject_touch(struct state *s, struct subject *sub);
void subject_count(struct state *s, struct subject *sub, enum metric m, uint32_t t, uint32_t n);
uint32_t subject_sum(const struct subject *sub, enum metric m, uint32_t t, uint32_t window);
struct account_state *subject_account(struct subject *sub);
/* The subject's address as a network (IPv4 /32 or IPv6 /64); 0, or -1 for non-IP subjects. */
int subject_net(const struct subject *sub, struct ipnet *net);
const char *subject_name(const struct subject *sub, char *buf, size_t n);

struct qentry *queue_get(struct state *s, const char *host, size_t hlen, const char *qid, size_t qlen, int create);
void queue_touch(struct state *s, struct qentry *q);

/* Drops what no window, rule or join can need any more, as of event time t. */
void state_sweep(struct state *s, uint32_t t, uint32_t repeat_memory, uint32_t login_window);

/* One stored subject, decoded into a fresh struct (free it with subject_release); NULL if absent or
 * damaged. For readers such as dnsblctl that do not load the whole state. */
struct subject *state_read_subject(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len);
void subject_release(struct subject *sub);

/* Text dump of the stored state, sorted: for comparing two runs (feeder --dump). */
int state_dump(MDB_env *env, FILE *out, char *err, size_t errlen);

#endif
