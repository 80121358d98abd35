/* listen.c - sockets, worker threads and the packet loops.
 *
 * Every --threads thread has, on every listen address, a UDP worker with its own socket
 * (SO_REUSEPORT lets the kernel spread the load), and one TCP worker with an event loop over a
 * listening socket per address. A UDP worker blocks in recvmmsg(MSG_WAITFORONE): waiting and reading
 * a batch is one system call, answering it one sendmmsg; no event loop sits in between. Each worker
 * renews its own LMDB read transaction at the start of a batch and resets it at the end. Workers
 * share nothing on the hot path. TCP uses RFC 7766 length framing, pipelining, an idle timeout and a
 * connection cap. */
#include "server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "query.h"
#include "xfr.h"

#define TCP_OUTPUT_HIGH (256 * 1024) /* stop reading a pipelining client whose answers pile up */

static int open_socket(const struct sockaddr_storage *ss, int type, char *err, size_t errlen)
{
    socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    /* UDP sockets block (recvmmsg waits in the kernel); TCP ones are libevent's and do not */
    int one = 1, fd = socket(ss->ss_family, type | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        goto fail;
    if (type == SOCK_DGRAM) {
        int size = 4 << 20;     /* absorb bursts; the kernel caps it at rmem_max */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        goto fail;
    if (type == SOCK_STREAM && listen(fd, 256) < 0)
        goto fail;
    return fd;
fail:;
    char host[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
    }
    snprintf(err, errlen, "%s %s port %d: %s", type == SOCK_DGRAM ? "udp" : "tcp", host, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Is the address already served by another process? Our own sockets share a port through
 * SO_REUSEPORT, and so would a second dnsbl-server's: the kernel would then split the queries between
 * two stores. A probe bound without SO_REUSEPORT (and, for UDP, without SO_REUSEADDR, which lets UDP
 * sockets share a port too) fails with EADDRINUSE if anything holds the port. TCP keeps SO_REUSEADDR,
 * which does not share a listening port but lets a restart bind past its old connections' TIME_WAIT. */
static int probe_in_use(const struct sockaddr_storage *ss, int type, char *err, size_t errlen)
{
    socklen_t len = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int one = 1, fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0), rc = 0;
    if (fd < 0)
        return 0;       /* open_socket reports why */
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 && errno == EADDRINUSE) {
        char host[64] = "?";
        const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                                                 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
        int port = ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                                  : ((const struct sockaddr_in6 *)ss)->sin6_port);
        evutil_inet_ntop(ss->ss_family, a, host, sizeof host);
        snprintf(err, errlen, "%s %s port %d is already in use (another dnsbl-server?): refusing to share it, "
                 "which would split the queries between two stores", type == SOCK_DGRAM ? "udp" : "tcp", host, port);
        rc = -1;
    }
    close(fd);
    return rc;
}

static struct worker *add_worker(struct server *srv, enum worker_kind kind)
{
    struct worker *w = &srv->workers[srv->nworkers];
    *w = (struct worker){ .srv = srv, .kind = kind, .index = srv->nworkers, .udp_fd = -1 };
    for (int i = 0; i < SERVER_MAX_LISTEN; i++)
        w->tcp_fd[i] = -1;
    srv->nworkers++;
    return (w->metrics = calloc(1, sizeof *w->metrics)) ? w : NULL;
}

int server_open_sockets(struct server *srv, char *err, size_t errlen)
{
    srv->workers = calloc((size_t)srv->nthreads * (size_t)(srv->nlisten + 1), sizeof *srv->workers);
    if (!srv->workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (tcp_sources_init(&srv->tcp_sources, srv->tcp_max_conns + srv->nthreads, srv->tcp_per_source) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < srv->nlisten; i++)
        if (probe_in_use(&srv->listen[i], SOCK_DGRAM, err, errlen) < 0 ||
            probe_in_use(&srv->listen[i], SOCK_STREAM, err, errlen) < 0)
            return -1;
    for (int t = 0; t < srv->nthreads; t++) {
        struct worker *w = add_worker(srv, WORKER_TCP);
        if (!w) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (int i = 0; i < srv->nlisten; i++)
            if ((w->tcp_fd[i] = open_socket(&srv->listen[i], SOCK_STREAM, err, errlen)) < 0)
                return -1;
        for (int i = 0; i < srv->nlisten; i++) {
            if (!(w = add_worker(srv, WORKER_UDP))) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            if ((w->udp_fd = open_socket(&srv->listen[i], SOCK_DGRAM, err, errlen)) < 0)
                return -1;
        }
    }
    return 0;
}

/* A batch sees one zone set and one store snapshot. The store-then-recheck of `zones` pairs with the
 * swap-then-check in server_quiesce, so a reload can never free a set that a batch is using. */
static void batch_begin(struct worker *w)
{
    struct zoneset *zs;
    atomic_fetch_add(&w->batches, 1);       /* before any index pointer is loaded (indexer.c) */
    do {
        zs = atomic_load(&w->srv->zones);
        atomic_store(&w->in_use, zs);
    } while (atomic_load(&w->srv->zones) != zs);
    if (w->actx.zones != zs) {
        w->actx.zones = zs;
        answer_ctx_invalidate(&w->actx);
    }
    int rc = mdb_txn_renew(w->txn);
    if (rc != 0)
        log_err("worker %d: cannot renew the read transaction: %s", w->index, mdb_strerror(rc));
    w->actx.txn = w->txn;
    w->actx.now = (uint32_t)time(NULL);
}

static void batch_end(struct worker *w)
{
    mdb_txn_reset(w->txn);
    atomic_store(&w->in_use, NULL);
    atomic_fetch_add(&w->batches, 1);
}

static void log_query(const struct sockaddr_storage *peer, const struct dns_query *q,
                      const struct answer_info *info, int tcp)
{
    char host[INET6_ADDRSTRLEN] = "?", name[1024];
    size_t pos = 0;
    if (peer->ss_family == AF_INET)
        evutil_inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, host, sizeof host);
    else if (peer->ss_family == AF_INET6)
        evutil_inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, host, sizeof host);
    if (q->status == QUERY_DROP || !q->question_end) {
        log_info("query %s %s: unparsable", tcp ? "tcp" : "udp", host);
        return;
    }
    for (int i = 0; i < q->nlabels; i++) {
        const uint8_t *l = q->name + q->label_off[i];
        for (int j = 1; j <= l[0] && pos + 5 < sizeof name; j++)
            pos += (size_t)snprintf(name + pos, sizeof name - pos,
                                    l[j] > 32 && l[j] < 127 && l[j] != '.' ? "%c" : "\\%03u", l[j]);
        if (pos + 2 < sizeof name)
            name[pos++] = '.';
    }
    name[pos ? pos : (name[0] = '.', 1)] = '\0';
    log_info("query %s %s: %s type %u -> rcode %u%s", tcp ? "tcp" : "udp", host, name, q->qtype,
             info->rcode, info->listed ? " listed" : "");
}

static int qtype_bucket(uint16_t t)
{
    switch (t) {
    case DNS_TYPE_A: return 0;
    case DNS_TYPE_TXT: return 1;
    case DNS_TYPE_ANY: return 2;
    case DNS_TYPE_SOA: return 3;
    case DNS_TYPE_NS: return 4;
    case 28: return 5;              /* AAAA */
    case 251: case 252: return 6;   /* IXFR, AXFR */
    }
    return 7;
}

static void count(struct worker *w, const struct answer_info *info, size_t len)
{
    struct worker_metrics *m = w->metrics;
    if (!len) {
        counter_add(&m->dropped, 1);
        return;
    }
    int slot = info->zone >= 0 ? w->actx.zones->zones[info->zone].slot : 0;
    counter_add(&m->queries[slot][qtype_bucket(info->qtype)][info->rcode < 6 ? info->rcode : 6], 1);
    if (info->listed)
        counter_add(&m->listed, 1);
}

/* Receipt to send, per query: the server's own share of the latency. */
static void observe_batch(struct worker *w, const struct timespec *t0, int n)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t ns = (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0->tv_nsec);
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < HIST_BUCKETS - 1 && s > histogram_bounds[i])
        i++;
    counter_add(&w->metrics->latency[i], (uint64_t)n);
    counter_add(&w->metrics->latency_count, (uint64_t)n);
    counter_add(&w->metrics->latency_ns, ns * (uint64_t)n);
}

static void udp_send(int fd, struct mmsghdr *tx, int n)
{
    for (int sent = 0, tries = 0; sent < n && tries < 4; tries++) {
        int rc = sendmmsg(fd, tx + sent, (unsigned)(n - sent), MSG_DONTWAIT);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return;     /* EAGAIN: the socket buffer is full; UDP clients retry */
        }
        sent += rc;
    }
}

/* --rrl: the response as it may go out (truncated when it slips), or 0 when it is dropped. */
static size_t rate_limit(struct worker *w, int i, const struct dns_query *q, const struct answer_info *info,
                         uint8_t *out, size_t len)
{
    uint64_t key = rrl_key(&w->peer[i], q, info);
    switch (rrl_check(&w->rrl, key, w->actx.now)) {
    case RRL_PASS:
        return len;
    case RRL_SLIP:
        counter_add(&w->metrics->rrl_slipped, 1);
        return rrl_truncate(out, w->in[i], q->question_end);
    case RRL_DROP:
        break;
    }
    counter_add(&w->metrics->rrl_dropped, 1);
    return 0;
}

static void udp_answer_batch(struct worker *w, int n)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int nout = 0;
    struct dns_query q[UDP_BATCH];      /* each packet parsed once: the prefetch and the answer read it */
    struct answer_prep prep[UDP_BATCH]; /* and what the answer needs before any lookup, worked out once */
    batch_begin(w);
    for (int i = 0; i < n; i++) {
        query_parse(w->in[i], w->rx[i].msg_len, &q[i]);
        answer_prefetch(&w->actx, &q[i], &prep[i]);
    }
    for (int i = 0; i < n; i++)
        answer_prefetch_index(&w->actx, &prep[i]);
    for (int i = 0; i < n; i++) {
        struct answer_info info;
        size_t len = answer_parsed(&w->actx, &q[i], &prep[i], w->in[i], w->out[nout], UDP_RECV_MAX, 0, &info);
        count(w, &info, len);
        if (w->srv->query_log)
            log_query(&w->peer[i], &q[i], &info, 0);
        if (len && w->rrl.b && !(len = rate_limit(w, i, &q[i], &info, w->out[nout], len)))
            continue;
        if (!len)
            continue;
        w->tx_iov[nout] = (struct iovec){ w->out[nout], len };
        w->tx[nout].msg_hdr = (struct msghdr){ .msg_name = &w->peer[i], .msg_namelen = w->rx[i].msg_hdr.msg_namelen,
                                               .msg_iov = &w->tx_iov[nout], .msg_iovlen = 1 };
        nout++;
    }
    batch_end(w);
    udp_send(w->udp_fd, w->tx, nout);
    observe_batch(w, &t0, n);
}

/* Wait for at least one datagram, take up to a batch of those already queued, answer, repeat. No
 * receive timeout (it would arm a timer at every wait): server_stop_workers wakes the worker with
 * shutdown(SHUT_RD), after which recvmmsg returns at once. */
static void *udp_run(void *arg)
{
    struct worker *w = arg;
    int complained = 0;
    while (!atomic_load_explicit(&w->srv->stopping, memory_order_relaxed)) {
        for (int i = 0; i < UDP_BATCH; i++) {
            w->rx_iov[i] = (struct iovec){ w->in[i], UDP_RECV_MAX };
            w->rx[i].msg_hdr = (struct msghdr){ .msg_name = &w->peer[i], .msg_namelen = sizeof w->peer[i],
                                                .msg_iov = &w->rx_iov[i], .msg_iovlen = 1 };
        }
        int n = recvmmsg(w->udp_fd, w->rx, UDP_BATCH, MSG_WAITFORONE, NULL);
        if (atomic_load_explicit(&w->srv->stopping, memory_order_relaxed))
            break;
        if (n > 0) {
            udp_answer_batch(w, n);
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            if (!complained++)
                log_err("worker %d: recvmmsg: %s", w->index, strerror(errno));
            struct timespec ms = { 0, 1000000 };
            nanosleep(&ms, NULL);   /* a persistent error must not spin a core */
        }
    }
    return NULL;
}

/* One TCP connection. A worker keeps its connections in order of their last progress (accept or a
 * complete query), so that when its slots are full the one that has done nothing for longest makes
 * room: a client trickling bytes on many connections cannot lock everyone else out. */
struct tcp_conn {
    struct tcp_conn *prev, *next;
    struct worker *w;
    struct bufferevent *bev;
    struct event *timer;        /* the idle timeout, or the deadline of a message under way */
    struct ipaddr src;          /* the source it is counted under (tcp_sources.h) */
    uint8_t partial;            /* a message has begun: its deadline runs and new bytes do not extend it */
    uint8_t transfer;           /* the source is in a zone's allow-transfer: may use the reserved slots */
    uint8_t counted;            /* holds a slot of its source in srv->tcp_sources */
    struct xfr_stream *xfr;     /* a zone transfer under way: written as the output drains */
};

static void lru_unlink(struct worker *w, struct tcp_conn *c)
{
    *(c->prev ? &c->prev->next : &w->lru_head) = c->next;
    *(c->next ? &c->next->prev : &w->lru_tail) = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push(struct worker *w, struct tcp_conn *c)
{
    c->prev = w->lru_tail;
    c->next = NULL;
    *(w->lru_tail ? &w->lru_tail->next : &w->lru_head) = c;
    w->lru_tail = c;
}

static void tcp_close(struct tcp_conn *c)
{
    struct worker *w = c->w;
    lru_unlink(w, c);
    event_free(c->timer);
    xfr_stream_free(c->xfr);    /* and its read transaction */
    bufferevent_free(c->bev);
    if (c->counted)
        tcp_source_release(&w->srv->tcp_sources, &c->src);
    free(c);
    atomic_fetch_sub(&w->metrics->tcp_conns, 1);
}

static void arm(struct tcp_conn *c, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(c->timer, &tv);
}

static void tcp_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tcp_conn *c = arg;
    (void)fd, (void)what;
    if (!c->partial && (evbuffer_get_length(bufferevent_get_output(c->bev)) || c->xfr)) {
        arm(c, c->w->srv->tcp_idle_seconds * 1000);     /* still sending: the write timeout watches that */
        return;
    }
    counter_add(&c->w->metrics->tcp_timeouts, 1);
    tcp_close(c);
}

/* After reading: a complete query resets the clock; bytes of the next one start its deadline once. */
static void tcp_rearm(struct tcp_conn *c, int progressed)
{
    struct worker *w = c->w;
    if (progressed) {
        c->partial = 0;
        lru_unlink(w, c);
        lru_push(w, c);
    }
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
        if (progressed || c->partial)
            arm(c, w->srv->tcp_idle_seconds * 1000);
        c->partial = 0;
    } else if (!c->partial) {
        c->partial = 1;
        arm(c, w->srv->tcp_timeout_ms);
    }
}

static void tcp_readable(struct bufferevent *bev, void *arg)
{
    struct tcp_conn *c = arg;
    struct worker *w = c->w;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    int bad = 0, progressed = 0;
    batch_begin(w);
    while (!bad && !c->xfr && evbuffer_get_length(out) < TCP_OUTPUT_HIGH) {
        uint8_t lenbuf[2];
        if (evbuffer_copyout(in, lenbuf, 2) < 2)
            break;
        size_t msglen = (size_t)lenbuf[0] << 8 | lenbuf[1];
        if (evbuffer_get_length(in) < 2 + msglen)
            break;
        progressed = 1;
        const uint8_t *msg = evbuffer_pullup(in, (ev_ssize_t)(2 + msglen)) + 2;
        struct dns_query q;
        query_parse(msg, msglen, &q);
        if (xfr_tcp(w->actx.zones, w->txn, w->actx.now, bufferevent_getfd(bev), &q, msg, out, &c->xfr)) {
            evbuffer_drain(in, 2 + msglen);     /* a zone transfer: xfr.c answered it */
            continue;
        }
        struct answer_info info;
        size_t len = answer_parsed(&w->actx, &q, NULL, msg, w->tcp_out + 2, 65535, 1, &info);
        count(w, &info, len);
        if (w->srv->query_log) {
            struct sockaddr_storage peer;
            socklen_t plen = sizeof peer;
            memset(&peer, 0, sizeof peer);
            getpeername(bufferevent_getfd(bev), (struct sockaddr *)&peer, &plen);
            log_query(&peer, &q, &info, 1);
        }
        evbuffer_drain(in, 2 + msglen);
        if (!len) {
            bad = 1;    /* a stream that is not DNS: close it */
            break;
        }
        w->tcp_out[0] = (uint8_t)(len >> 8);
        w->tcp_out[1] = (uint8_t)len;
        evbuffer_add(out, w->tcp_out, len + 2);
    }
    batch_end(w);
    if (bad) {
        tcp_close(c);
        return;
    }
    tcp_rearm(c, progressed);
    if (evbuffer_get_length(out) >= TCP_OUTPUT_HIGH || c->xfr)
        bufferevent_disable(bev, EV_READ);  /* resumed by tcp_writable once the client reads */
}

/* The output has drained: the next part of a transfer under way, else read queries again. */
static void tcp_writable(struct bufferevent *bev, void *arg)
{
    struct tcp_conn *c = arg;
    if (c->xfr) {
        struct worker *w = c->w;
        batch_begin(w);     /* pins the zone set the transfer checks against */
        int rc = xfr_stream_fill(c->xfr, w->actx.zones, bufferevent_get_output(bev), XFR_STREAM_CHUNK);
        batch_end(w);
        if (rc < 0) {
            tcp_close(c);
            return;
        }
        if (rc > 0)
            return;
        xfr_stream_free(c->xfr);
        c->xfr = NULL;
    }
    bufferevent_enable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(bev)) >= 2)
        tcp_readable(bev, arg);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        tcp_close(arg);
}

/* May the peer transfer a zone? Then it may also use the slots kept free for secondaries. */
static int transfer_source(struct worker *w, const struct ipaddr *peer)
{
    int ok = 0;
    batch_begin(w);
    for (int i = 0; i < w->actx.zones->n && !ok; i++)
        ok = zone_xfr_allowed(&w->actx.zones->zones[i], peer);
    batch_end(w);
    return ok;
}

/* Room for one more connection in this worker: evicts the connection that has made no progress for
 * longest (never a secondary's for an ordinary client). 0, or -1 when nothing may be evicted. */
static int make_room(struct worker *w, int transfer)
{
    struct server *srv = w->srv;
    int cap = (srv->tcp_max_conns + srv->nthreads - 1) / srv->nthreads;
    int reserved = cap >= 16 ? cap / 16 : 0;    /* kept for allow-transfer sources */
    int limit = transfer ? cap : cap - reserved;
    if (atomic_load(&w->metrics->tcp_conns) < limit)
        return 0;
    for (struct tcp_conn *c = w->lru_head; c; c = c->next) {
        if (c->transfer && !transfer)
            continue;
        counter_add(&w->metrics->tcp_evicted, 1);
        tcp_close(c);
        return atomic_load(&w->metrics->tcp_conns) < limit ? 0 : -1;
    }
    return -1;
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct worker *w = arg;
    struct server *srv = w->srv;
    struct ipaddr src, peer;
    (void)l, (void)salen;
    if (tcp_source_of(sa, &src, &peer) < 0) {
        evutil_closesocket(fd);
        return;
    }
    int transfer = transfer_source(w, &peer);
    int counted = tcp_source_acquire(&srv->tcp_sources, &src) == 0;   /* a secondary is never refused */
    if (!counted && !transfer) {
        counter_add(&w->metrics->tcp_per_source, 1);
        evutil_closesocket(fd);
        return;
    }
    struct tcp_conn *c = NULL;
    if (make_room(w, transfer) < 0 || !(c = calloc(1, sizeof *c)) ||
        !(c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE)) ||
        !(c->timer = evtimer_new(w->base, tcp_timer, c))) {
        counter_add(&w->metrics->tcp_refused, 1);
        if (counted)
            tcp_source_release(&srv->tcp_sources, &src);
        if (c && c->bev)
            bufferevent_free(c->bev);
        else
            evutil_closesocket(fd);
        free(c);
        return;
    }
    c->w = w;
    c->src = src;
    c->transfer = (uint8_t)transfer;
    c->counted = (uint8_t)counted;
    struct timeval idle = { srv->tcp_idle_seconds, 0 };
    bufferevent_setcb(c->bev, tcp_readable, tcp_writable, tcp_event, c);
    bufferevent_set_timeouts(c->bev, NULL, &idle);      /* reads: tcp_timer, which bytes cannot extend */
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    lru_push(w, c);
    arm(c, srv->tcp_idle_seconds * 1000);
    atomic_fetch_add(&w->metrics->tcp_conns, 1);
}

static int worker_init(struct worker *w, char *err, size_t errlen)
{
    struct server *srv = w->srv;
    int ok;
    if (w->kind == WORKER_UDP) {
        w->rx = calloc(UDP_BATCH, sizeof *w->rx);
        w->tx = calloc(UDP_BATCH, sizeof *w->tx);
        w->rx_iov = calloc(UDP_BATCH, sizeof *w->rx_iov);
        w->tx_iov = calloc(UDP_BATCH, sizeof *w->tx_iov);
        w->peer = calloc(UDP_BATCH, sizeof *w->peer);
        w->in = calloc(UDP_BATCH, sizeof *w->in);
        w->out = calloc(UDP_BATCH, sizeof *w->out);
        ok = w->rx && w->tx && w->rx_iov && w->tx_iov && w->peer && w->in && w->out &&
             (!srv->rrl_rate || rrl_init(&w->rrl, (uint32_t)srv->rrl_rate, (uint32_t)srv->rrl_slip) == 0);
    } else {
        w->tcp_out = malloc(2 + 65535);
        w->base = event_base_new();
        ok = w->tcp_out && w->base;
    }
    if (!ok) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mdb_txn_begin(srv->store.env, NULL, MDB_RDONLY, &w->txn);
    if (rc != 0) {
        snprintf(err, errlen, "read transaction: %s", mdb_strerror(rc));
        return -1;
    }
    mdb_txn_reset(w->txn);
    w->actx.v4maps = srv->v4maps;
    w->actx.keymaps = srv->keymaps;
    w->actx.indexes = srv->indexes;
    for (int i = 0; w->kind == WORKER_TCP && i < srv->nlisten; i++) {
        w->tcp_listener[i] = evconnlistener_new(w->base, tcp_accept, w, LEV_OPT_CLOSE_ON_FREE, -1, w->tcp_fd[i]);
        if (!w->tcp_listener[i]) {
            snprintf(err, errlen, "cannot register listeners");
            return -1;
        }
        w->tcp_fd[i] = -1;  /* owned by the listener now */
    }
    return 0;
}

static void *tcp_run(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int server_start_workers(struct server *srv, char *err, size_t errlen)
{
    evthread_use_pthreads();
    for (int t = 0; t < srv->nworkers; t++) {
        if (worker_init(&srv->workers[t], err, errlen) < 0)
            return -1;
    }
    /* signals belong to the main thread's event loop: workers start with all of them blocked */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (int t = 0; t < srv->nworkers && rc == 0; t++) {
        struct worker *w = &srv->workers[t];
        rc = pthread_create(&w->thread, NULL, w->kind == WORKER_UDP ? udp_run : tcp_run, w);
        w->running = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        return -1;
    }
    return 0;
}

static void worker_free(struct worker *w)
{
    while (w->lru_head)
        tcp_close(w->lru_head);
    for (int i = 0; i < w->srv->nlisten; i++) {
        if (w->tcp_listener[i])
            evconnlistener_free(w->tcp_listener[i]);
        if (w->tcp_fd[i] >= 0)
            close(w->tcp_fd[i]);
    }
    if (w->udp_fd >= 0)
        close(w->udp_fd);
    if (w->txn)
        mdb_txn_abort(w->txn);
    if (w->base)
        event_base_free(w->base);
    free(w->rx), free(w->tx), free(w->rx_iov), free(w->tx_iov);
    free(w->peer), free(w->in), free(w->out), free(w->tcp_out);
    rrl_free(&w->rrl);
    free(w->metrics);
}

void server_stop_workers(struct server *srv)
{
    if (!srv->workers)
        return;
    atomic_store(&srv->stopping, 1);
    for (int t = 0; t < srv->nworkers; t++) {
        struct worker *w = &srv->workers[t];
        if (!w->running)
            continue;
        if (w->kind == WORKER_TCP)
            event_base_loopbreak(w->base);
        else
            shutdown(w->udp_fd, SHUT_RD);   /* wakes a blocked recvmmsg at once on Linux */
    }
    uint64_t q = 0, listed = 0, dropped = 0;
    for (int t = 0; t < srv->nworkers; t++) {
        struct worker *w = &srv->workers[t];
        if (w->running)
            pthread_join(w->thread, NULL);
        if (!w->metrics)
            continue;
        q += w->metrics->latency_count;
        listed += w->metrics->listed;
        dropped += w->metrics->dropped;
    }
    log_info("answered %llu UDP queries (%llu listed, %llu dropped)", (unsigned long long)q,
             (unsigned long long)listed, (unsigned long long)dropped);
    for (int t = 0; t < srv->nworkers; t++)
        worker_free(&srv->workers[t]);
    free(srv->workers);
    srv->workers = NULL;
    tcp_sources_free(&srv->tcp_sources);
    srv->nworkers = 0;
}

void server_quiesce(struct server *srv, struct zoneset *old)
{
    struct timespec ms = { 0, 1000000 };
    for (int t = 0; t < srv->nworkers; t++)
        while (atomic_load(&srv->workers[t].in_use) == old)
            nanosleep(&ms, NULL);
}
