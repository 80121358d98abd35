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
#include "store.h"
#include "zone.h"

#define SERVER_MAX_LISTEN 16
#define UDP_BATCH 64
#define UDP_RECV_MAX 4096

struct worker_stats {
    uint64_t queries, answers, dropped, tcp_refused;
    uint64_t rcodes[6];     /* NOERROR .. REFUSED; BADVERS counts as FORMERR */
    uint64_t listed;
};

struct worker {
    struct server *srv;
    int index;
    pthread_t thread;
    struct event_base *base;
    int udp_fd[SERVER_MAX_LISTEN];
    int tcp_fd[SERVER_MAX_LISTEN];
    struct event *udp_ev[SERVER_MAX_LISTEN];
    struct evconnlistener *tcp_listener[SERVER_MAX_LISTEN];
    int tcp_conns;
    MDB_txn *txn;                           /* reset between batches, renewed at the next */
    struct answer_ctx actx;
    _Atomic(struct zoneset *) in_use;       /* the zone set of the batch in progress, or NULL */
    struct worker_stats stats;
    /* batch buffers for recvmmsg/sendmmsg: no allocation on the hot path */
    struct mmsghdr *rx, *tx;
    struct iovec *rx_iov, *tx_iov;
    struct sockaddr_storage *peer;
    uint8_t (*in)[UDP_RECV_MAX];
    uint8_t (*out)[UDP_RECV_MAX];
    uint8_t *tcp_out;                       /* 2 + 65535 bytes */
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
    /* state */
    struct store store;
    _Atomic(struct zoneset *) zones;
    struct worker *workers;
    struct event_base *base;                /* the main thread: signals */
};

/* listen.c */
int server_open_sockets(struct server *srv, char *err, size_t errlen);
int server_start_workers(struct server *srv, char *err, size_t errlen);
void server_stop_workers(struct server *srv);
/* Waits until no worker still answers from old; after that old may be freed. */
void server_quiesce(struct server *srv, struct zoneset *old);

#endif
