/* feeder_store.h - the feeder's stored state: the contract between the feeder (which keeps the model
 * in memory, feeder/state.c, and writes it here) and the readers (dnsblctl show, top, stats; feeder
 * --dump). Three sub-databases of the store's LMDB environment, beside the zones (store.h):
 *
 *   "feeder:subjects"   key: kind byte + 4 bytes (IPv4) or 8 (an IPv6 /64), or kind + plen + 4/8
 *                       bytes (a network, host bits zero), or kind + lower-case name (a domain, an
 *                       account: at most DOMAIN_MAX bytes)          value: a subject record (below)
 *   "feeder:queue"      key: host NUL queue-ID                      value: a queue record (below)
 *   "feeder:meta"       "state-format" u32: the newest record format written (FEEDER_STATE_FORMAT);
 *                       a feeder refuses a store of a newer format rather than misread it
 *                       "sweep", "latest" u32: the last sweep and the newest event time
 *                       "hash-key" 16 bytes: the secret of the feeder's in-memory hash tables, made at
 *                       random when the state is first opened (feeder/table.h)
 *                       "replay-offset", "source:PATH", "file:...": input positions (feeder.c,
 *                       source_file.c); the meta values are in host byte order, read only by the
 *                       feeder that wrote them
 *
 * A subject record, packed (u16 and u32 little-endian):
 *   version u8 (3; 1 and 2 still read: 1 has no offence last nor last unknown, 2 no last-seen)
 *   nrings u8, per ring: metric u8, last u32 (the newest bucket: unix time / metric_unit), nz u8,
 *                        then nz (slot u8 < RING_MINUTES, count u16) for the non-zero slots
 *   noffences u8, per offence: rule u8 (< RULE_KINDS), until u32, count u32, last u32 (version >= 2)
 *   last_unknown u32 (version >= 2)
 *   extra u8: 0 none; 1 an account's record (not for addresses or networks): nfail u8 (<= 16), per
 *             fail (family u8, 16 address bytes, last u32); nlogin u8 (<= 32), per login (time u32,
 *             family u8, 16 bytes, country 2 bytes); 2 a network's members: n u16 (<= 256), per
 *             member (id u32, last u32, metric u8); 3 an address's abnormal sessions: nkinds u8, per
 *             kind (kind u8, count u32), max_hold u32, connect u32, signal u32, pending u8,
 *             pending_kind u8, nps u8 (<= 4), per slot (time u32, port u16, kind u8, hold u8)
 *   seen u32 (version 3): the last event time that changed the subject
 * A record must end exactly there: a longer or shorter one is damaged.
 *
 * A queue record: flags u8 (1 has_ip, 2 null sender, 4 has sender, 8 counted, 16 an account
 * follows, 32 submitted, 64 an NDR not yet joined), family u8 + 16 address bytes, seen u32, removed
 * u32, domain_len u8 + the sender's domain; when flag 16: account_len u8 (1..DOMAIN_MAX) + the SASL
 * account, nrcpt u16.
 *
 * Byte order: until now the records were written in host order by a memcpy of each number; the
 * codec now writes little-endian, as store.c does. On little-endian hosts (x86, arm64: every host
 * the feeder has run on) those are the same bytes, so existing stores read unchanged and the format
 * number stays 4. A store written on a big-endian host by an older feeder would read wrong: start
 * that feeder with a fresh --db. */
#ifndef DNSBL_FEEDER_STORE_H
#define DNSBL_FEEDER_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "ring.h"
#include "zone.h"

#define FEEDER_DB_SUBJECTS "feeder:subjects"
#define FEEDER_DB_QUEUE "feeder:queue"
#define FEEDER_DB_META "feeder:meta"
#define FEEDER_META_FORMAT "state-format"
#define FEEDER_META_SWEEP "sweep"
#define FEEDER_META_LATEST "latest"
#define FEEDER_META_HASH_KEY "hash-key"     /* 16 random bytes: the secret of the state's hash tables */
#define FEEDER_STATE_FORMAT 4       /* what this feeder writes (4: the slow metrics and queue entries
                                     * with an account, in version 3 records) */
#define FEEDER_SUBJECT_VALUE_MAX 4096

enum subject_kind { SUBJ_IP = 'i', SUBJ_DOMAIN = 'd', SUBJ_ACCOUNT = 'a',
                    SUBJ_NET = 'n' };   /* an IPv4 or IPv6 network aggregating its members (rules.c) */

enum metric {
    M_RCPT,         /* RCPT commands (from disconnect lines) */
    M_UNKNOWN,      /* RCPTs rejected as unknown users */
    M_NDR_IN,       /* accepted messages with the null sender */
    M_NDR_OUT,      /* NDRs this MTA sent because of a message from the subject */
    M_AUTH_FAIL,    /* failed logins (weighted by Dovecot's attempt count) */
    M_MSGS,         /* accepted messages */
    M_ABNORMAL,     /* lost connections, too many errors, postscreen pregreet/hangup */
    /* The slow windows (dha and auth over a day): the same counts in SLOW_BUCKET steps */
    M_UNKNOWN_SLOW,
    M_RCPT_SLOW,    /* RCPTs, counted only from the subject's first unknown one in the slow window on */
    M_AUTH_FAIL_SLOW,
    METRICS
};

/* A ring holds 64 buckets: a minute each for the ordinary metrics (64 minutes), SLOW_BUCKET seconds
 * for the slow ones (32 hours, enough for a 24 h window in half-hour steps). */
#define SLOW_BUCKET 1800
static inline uint32_t metric_unit(int m)
{
    return m >= M_UNKNOWN_SLOW ? SLOW_BUCKET : 60;
}

#define ACCT_FAIL_IPS 16
#define ACCT_LOGINS 32

struct fail_ip { struct ipaddr ip; uint32_t last; };
struct login { uint32_t time; struct ipaddr ip; char cc[2]; };

struct account_state {
    uint8_t nfail, nlogin;
    struct fail_ip fail[ACCT_FAIL_IPS];     /* addresses that failed for the account, most recent kept */
    struct login login[ACCT_LOGINS];        /* successful logins, oldest first */
};

/* A network's distinct members (IPv4 addresses, IPv6 /64s) per metric, newest contribution each:
 * exact up to NET_MEMBERS_MAX, then the member seen longest ago is replaced. The id is the member's
 * low 32 bits (the IPv4 address; bytes 4-7 of the /64): exact for networks of /32 (IPv6) or longer. */
#define NET_MEMBERS_MAX 256
struct net_member { uint32_t id, last; uint8_t metric; };
struct net_members { uint16_t n, cap; struct net_member m[]; };

/* Abnormal sessions of one address (issue 9 rule 1; correlate.c), kept only for addresses that had one.
 * A connection counts once, at its end, whichever daemons logged it. postscreen names a connection by
 * its client port: its first signal opens a slot in ps[], and the connection is counted at postscreen's
 * DISCONNECT for that port (it ended there) or at smtpd's next disconnect from the address (postscreen
 * handed it on, as its "ignore" actions do). smtpd's signals (lost connection, timeout, too many errors,
 * improper pipelining) wait for the disconnect that Postfix logs right after them, whose counters say
 * whether a message was accepted: then the session is not abnormal. */
enum abnormal_kind {
    AB_LOST, AB_TIMEOUT, AB_ERRORS, AB_PIPELINING,     /* smtpd */
    AB_PREGREET, AB_HANGUP, AB_PS_PIPELINING, AB_NON_SMTP, AB_BARE_NEWLINE, AB_TIME_LIMIT, AB_COUNT_LIMIT,
    AB_KINDS
};
#define ABNORMAL_PS_SLOTS 4     /* postscreen connections of one address open at once, signalled */
struct abnormal_ps { uint32_t time; uint16_t port; uint8_t kind, hold; };
struct abnormal_state {
    uint32_t sessions[AB_KINDS];        /* counted so far, by the first signal of each */
    uint32_t max_hold;                  /* the longest connection seen, connect to end, in seconds */
    uint32_t connect;                   /* the newest smtpd connect from the address */
    uint32_t signal;                    /* the newest smtpd signal still waiting (pending > 0) */
    uint8_t pending, pending_kind;      /* smtpd signals waiting for their disconnect */
    uint8_t nps;
    struct abnormal_ps ps[ABNORMAL_PS_SLOTS];
};
/* "lost connection", "pregreet", ...: for dnsblctl show and the feeder's dump */
const char *abnormal_kind_name(int kind);

struct offence {
    uint32_t until;     /* the current (or last) listing under this rule ends then */
    uint32_t count;     /* listings so far: each new one lasts twice as long */
    uint32_t last;      /* the offending event that last set until */
};

/* Subject keys */
size_t subject_key_ip(const struct ipaddr *a, uint8_t *key);        /* IPv6: its /64 */
size_t subject_key_name(int kind, const char *name, size_t len, uint8_t *key);
/* The key of the network of a's source (IPv4 address, IPv6 /64) at plen (IPv4 < 32, IPv6 < 64):
 * kind, plen, then 4 or 8 bytes with the host bits cleared. 0 if plen does not fit. */
size_t subject_key_net(const struct ipaddr *a, int plen, uint8_t *key);

/* ---- the subject record ---- */

/* What to encode: pointers into the writer's model. */
struct feeder_subject_view {
    uint8_t kind;
    const struct ring *ring[METRICS];           /* NULL: no counts of that metric */
    const struct offence *offence;              /* NULL (never listed), or RULE_KINDS records */
    uint32_t last_unknown;
    const struct account_state *acct;          /* an account's record, or NULL */
    const struct net_members *members;          /* SUBJ_NET: its members, or NULL */
    const struct abnormal_state *abn;           /* SUBJ_IP: its abnormal sessions, or NULL */
    uint32_t seen;
};
/* The record's length, or 0 when it does not fit in cap. */
size_t feeder_subject_encode(const struct feeder_subject_view *v, uint8_t *out, size_t cap);

/* A decoded record, as stored (a few kB: decode into one and build from it). */
struct feeder_ring_rec {
    uint8_t metric, nz;
    uint32_t last;
    uint8_t slot[RING_MINUTES];                 /* nz (slot, count) pairs, in stored order */
    uint16_t count[RING_MINUTES];
};
enum feeder_extra { FEEDER_EXTRA_NONE, FEEDER_EXTRA_ACCOUNT, FEEDER_EXTRA_MEMBERS, FEEDER_EXTRA_ABNORMAL };
struct feeder_subject_rec {
    uint8_t version;
    uint8_t nrings;                             /* each metric at most once */
    struct feeder_ring_rec ring[METRICS];
    uint8_t noffences;                          /* offence entries stored (0: never listed) */
    struct offence offence[RULE_KINDS];         /* by rule, zero where none was stored */
    uint32_t last_unknown;
    uint8_t extra;                              /* enum feeder_extra: which of the three is valid */
    struct account_state acct;                  /* unused entries zero */
    struct abnormal_state abn;                  /* unused entries zero */
    uint16_t nmembers;
    struct net_member members[NET_MEMBERS_MAX];
    uint32_t seen;                              /* version < 3: the newest time the record holds */
};
/* 0, or -1 when the record of a subject of this kind (its key's first byte) is damaged. */
int feeder_subject_decode(uint8_t kind, const uint8_t *val, size_t len, struct feeder_subject_rec *rec);

/* A stored subject as a reader (dnsblctl) sees it: every stored metric as a ring. */
struct feeder_subject {
    uint8_t kind;
    struct ring *ring[METRICS];                 /* NULL: no counts of that metric */
    struct offence offence[RULE_KINDS];
    uint32_t last_unknown, seen;
    struct account_state *acct;                 /* an account's record, or NULL */
    struct abnormal_state *abn;                 /* an address's abnormal sessions, or NULL */
    size_t keylen;
    uint8_t key[];
};
/* One stored subject (free it with feeder_subject_free); NULL if absent, damaged, or no memory. */
struct feeder_subject *feeder_subject_read(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len);
void feeder_subject_free(struct feeder_subject *sub);
/* The count of metric m over the window (seconds) up to t, as the feeder's rules sum it. */
uint32_t feeder_subject_sum(const struct feeder_subject *sub, enum metric m, uint32_t t, uint32_t window);

/* A subject key's address as a network (IPv4 /32 or IPv6 /64, or a network key's network); 0, or -1
 * for keys that are not addresses. */
int subject_key_to_net(const uint8_t *key, size_t keylen, struct ipnet *net);
/* The key as text: the address or network, or the name. */
const char *subject_key_format(const uint8_t *key, size_t keylen, char *buf, size_t n);

/* ---- the queue record ---- */

struct feeder_queue_rec {
    uint8_t flags;                              /* FEEDER_Q_* */
    struct ipaddr ip;
    uint32_t seen, removed;
    const char *domain;                         /* points into the value (decode) or the model */
    uint8_t domain_len;
    const char *account;                        /* FEEDER_Q_ACCOUNT */
    uint8_t account_len;
    uint16_t nrcpt;
};
enum { FEEDER_Q_HAS_IP = 1, FEEDER_Q_NULL_SENDER = 2, FEEDER_Q_HAS_SENDER = 4, FEEDER_Q_COUNTED = 8,
       FEEDER_Q_ACCOUNT = 16, FEEDER_Q_SUBMITTED = 32, FEEDER_Q_NDR_UNJOINED = 64 };
/* The record's length, or 0 when it does not fit in cap. */
size_t feeder_queue_encode(const struct feeder_queue_rec *q, uint8_t *out, size_t cap);
/* 0, or -1 when damaged. */
int feeder_queue_decode(const uint8_t *val, size_t len, struct feeder_queue_rec *q);

#endif
