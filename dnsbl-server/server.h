/* server.h - the state of a running dnsbl-server: options, the store, the current zone set, and one
 * worker per thread. This is the one place where the server keeps mutable shared state. */
#ifndef DNSBL_SERVER_H
#define DNSBL_SERVER_H

#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "answer.h"
#include "rrl.h"
#include "tcp_sources.h"
#include "metrics_http.h"
#include "policy_server.h"
#include "store.h"
#include "zone.h"

#define SERVER_MAX_LISTEN 16
#define UDP_BATCH 64
#define UDP_RECV_MAX 4096

/* Counters a worker writes and the main thread reads for /metrics. Each has one writer, so an
 * increment is a relaxed load and store: no lock prefix on the hot path. */
#define METRIC_ZONES (ZONESET_MAX + 1)  /* slot 0: out of every zone */
#define METRIC_QTYPES 8                 /* A TXT ANY SOA NS AAAA AXFR/IXFR other */
#define METRIC_RCODES 7                 /* NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED other */
typedef _Atomic uint64_t counter_t;

struct worker_metrics {
    counter_t queries[METRIC_ZONES][METRIC_QTYPES][METRIC_RCODES];
    counter_t dropped, tcp_refused, listed;
    counter_t tcp_per_source, tcp_evicted, tcp_timeouts;
    counter_t rrl_dropped, rrl_slipped;
    counter_t latency[HIST_BUCKETS], latency_count, latency_ns;
    _Atomic int tcp_conns;
};

static inline void counter_add(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* A worker is one thread. A UDP worker owns one socket (SO_REUSEPORT spreads the load over the UDP
 * workers of an address) and blocks in recvmmsg: one system call to wait and read a batch, one to
 * send it. A TCP worker runs an event loop over a listening socket on every address. Both renew their
 * own LMDB read transaction per batch. */
enum worker_kind { WORKER_UDP, WORKER_TCP };

struct worker {
    struct server *srv;
    enum worker_kind kind;
    int index;
    int running;                            /* the thread was created and needs joining */
    pthread_t thread;
    MDB_txn *txn;                           /* reset between batches, renewed at the next */
    struct answer_ctx actx;
    _Atomic(struct zoneset *) in_use;       /* the zone set of the batch in progress, or NULL */
    _Atomic unsigned long batches;          /* odd while in a batch: the indexer's grace periods */
    struct worker_metrics *metrics;
    /* WORKER_UDP: the socket and the batch buffers for recvmmsg/sendmmsg (no allocation per packet) */
    int udp_fd;
    struct mmsghdr *rx, *tx;
    struct iovec *rx_iov, *tx_iov;
    struct sockaddr_storage *peer;
    uint8_t (*in)[UDP_RECV_MAX];
    uint8_t (*out)[UDP_RECV_MAX];
    struct rrl rrl;                         /* when --rrl is on */
    /* WORKER_TCP */
    struct event_base *base;
    int tcp_fd[SERVER_MAX_LISTEN];
    struct evconnlistener *tcp_listener[SERVER_MAX_LISTEN];
    uint8_t *tcp_out;                       /* 2 + 65535 bytes */
    struct tcp_conn *lru_head, *lru_tail;   /* open connections, least recent progress first */
};

struct server {
    /* options */
    const char *db_dir, *zones_dir, *user, *pidfile;
    struct sockaddr_storage listen[SERVER_MAX_LISTEN];
    int nlisten;
    int nthreads;
    int foreground, use_syslog, query_log, verbose;
    int tcp_max_conns;                      /* per server, shared out among workers */
    int tcp_idle_seconds;
    int tcp_timeout_ms;                     /* a whole query message must arrive within this */
    int tcp_per_source;                     /* connections one address (IPv6: /64) may hold */
    int rrl_rate, rrl_slip;                 /* --rrl responses/s per bucket (0: off), --rrl-slip */
    const char *metrics_addr;               /* --metrics ADDR:PORT */
    size_t index_memory;                    /* --index-memory, in bytes (0: no indexes) */
    struct policy_options policy_opts;      /* --policy-postfix, --policy-dovecot, --geoip, ... */
    /* state */
    struct store store;
    _Atomic(struct zoneset *) zones;
    struct v4map *v4maps[METRIC_ZONES];     /* IP zones' /24 maps by zone slot, kept across reloads */
    struct v4map *keymaps[METRIC_ZONES];    /* every zone's key filter (IPv6, domains), the same way */
    _Atomic(struct store_index *) indexes[METRIC_ZONES];   /* by zone slot: the indexer's (indexer.h) */
    _Atomic size_t index_keys[METRIC_ZONES], index_bytes[METRIC_ZONES];
    _Atomic uint64_t index_builds, index_failures;
    struct indexer *indexer;
    struct tcp_sources tcp_sources;
    struct worker *workers;                 /* per thread of --threads: one TCP worker, one UDP
                                               worker per listen address */
    int nworkers;
    atomic_int stopping;                    /* set once, before the UDP workers are woken */
    struct event_base *base;                /* the main thread: signals, reload, /metrics */
    struct metrics_http *metrics;
    struct policy_server *policy;           /* the policy endpoints' thread, when configured */
    char metric_zone[METRIC_ZONES][DOMAIN_MAX + 1];    /* slot -> zone name; slot 0 is "" */
    int metric_zones;
    uint64_t reloads_ok, reloads_failed;
};

/* listen.c */
int server_open_sockets(struct server *srv, char *err, size_t errlen);
int server_start_workers(struct server *srv, char *err, size_t errlen);
void server_stop_workers(struct server *srv);
/* Waits until no worker still answers from old; after that old may be freed. */
void server_quiesce(struct server *srv, struct zoneset *old);

/* metrics.c */
void metrics_assign_slots(struct server *srv, struct zoneset *zs);
void metrics_render(struct evbuffer *out, void *srv);

#endif
