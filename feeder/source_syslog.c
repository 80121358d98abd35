/* source_syslog.c - syslog from many MTAs: UDP (one or more newline-separated messages per datagram,
 * RFC 3164 or RFC 5424) and TCP (RFC 6587: octet counting "LEN SP <PRI>...", or one message per
 * line). Each message goes to feed_line() as one line.
 *
 * Senders outside the --allow-from networks are dropped and counted. TCP has SYSLOG_MAX_CONNS slots;
 * so that no sender can hold them all (idle or not), a connection is closed when it has been silent
 * for the idle timeout, a sender's new connection past its cap replaces its own longest-idle one, and
 * when every slot is taken the newcomer replaces the longest-idle connection of the sender with the
 * most connections (if that sender has more than the newcomer). An allowed relay therefore always
 * gets a slot. Refusals and evictions are counted by reason and logged at most once a minute per
 * sender. UDP datagrams the kernel dropped (SO_RXQ_OVFL) are counted: the kernel reports its count
 * with the next datagram it delivers. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "source.h"

#define SYSLOG_MSG_MAX 65536
#define SYSLOG_LOG_EVERY_MS 60000   /* per sender */
#define SYSLOG_LOG_BUDGET 30        /* lines about refusals a minute, all senders together */
#define SYSLOG_FRESH_MS 1000        /* evicted last: connections younger than this */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int same_addr(const struct ipaddr *a, const struct ipaddr *b)
{
    return a->family == b->family && !memcmp(a->bytes, b->bytes, addr_len(a->family));
}

static uint32_t addr_hash(const struct ipaddr *a)
{
    uint32_t h = 2166136261u;       /* FNV-1a */
    for (int i = 0; i < addr_len(a->family); i++)
        h = (h ^ a->bytes[i]) * 16777619u;
    return h;
}

static int peer_allowed(const struct syslog_source *s, const struct ipaddr *a)
{
    for (int i = 0; i < s->nallow; i++)
        if (net_contains(&s->allow[i], a))
            return 1;
    return 0;
}

/* A warning about `peer`, unless one was logged for it in the last minute or the minute's budget for
 * all senders is spent: refusals can come as fast as a sender can connect. */
static void log_gated(struct syslog_source *s, const struct ipaddr *peer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_gated(struct syslog_source *s, const struct ipaddr *peer, const char *fmt, ...)
{
    int64_t now = mono_ms();
    struct syslog_log_gate *g = &s->gates[addr_hash(peer) % SYSLOG_LOG_GATES];
    int known = g->last_ms && same_addr(&g->peer, peer);
    if (known && now - g->last_ms < SYSLOG_LOG_EVERY_MS) {
        g->quiet++;
        return;
    }
    if (now - s->log_window_ms >= SYSLOG_LOG_EVERY_MS) {
        s->log_window_ms = now;
        s->log_lines = 0;
    }
    if (s->log_lines == SYSLOG_LOG_BUDGET) {
        s->log_lines++;     /* once; and no further counting, which could overflow in a flood */
        log_warn("syslog: more than %d refused or evicted connections a minute: not logging them until "
                 "the next minute (the metrics count them all)", SYSLOG_LOG_BUDGET);
    }
    if (s->log_lines > SYSLOG_LOG_BUDGET)
        return;
    s->log_lines++;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (known && g->quiet)
        log_warn("%s (and %llu more times from it since the last such line)", msg, (unsigned long long)g->quiet);
    else
        log_warn("%s", msg);
    g->peer = *peer;
    g->last_ms = now;
    g->quiet = 0;
}

static void feed_message(struct syslog_source *s, const char *p, size_t n)
{
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\0'))
        n--;
    if (!n)
        return;
    s->received++;
    feed_line(s->f, p, n);
    *s->dirty = 1;
}

/* A datagram may hold several messages, one a line (a relay batching, or `logger` with newlines). */
static void feed_datagram(struct syslog_source *s, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        feed_message(s, p, len);
        if (!nl)
            break;
        p += len + 1;
        n -= len + 1;
    }
}

/* The socket's SO_RXQ_OVFL count: the datagrams dropped before this one was queued. */
static void count_kernel_drops(struct syslog_source *s, int sock, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
            continue;
        uint32_t total;
        memcpy(&total, CMSG_DATA(c), sizeof total);
        s->kernel_drops += (uint32_t)(total - s->udp_drops_seen[sock]);    /* wraps at 2^32 */
        s->udp_drops_seen[sock] = total;
    }
    if (s->kernel_drops == s->drops_logged)
        return;
    int64_t now = mono_ms();
    if (!s->drops_log_ms || now - s->drops_log_ms >= SYSLOG_LOG_EVERY_MS) {
        log_warn("syslog udp: the kernel dropped %llu datagrams, %llu since the last such line: the receive buffer "
                 "was full (raise net.core.rmem_max, or send over TCP)", (unsigned long long)s->kernel_drops,
                 (unsigned long long)(s->kernel_drops - s->drops_logged));
        s->drops_logged = s->kernel_drops;
        s->drops_log_ms = now;
    }
}

static void udp_readable(evutil_socket_t fd, short what, void *arg)
{
    struct syslog_source *s = arg;
    static char buf[SYSLOG_MSG_MAX];
    union { char space[CMSG_SPACE(sizeof(uint32_t))]; struct cmsghdr align; } ctl;
    int sock = 0;
    (void)what;
    while (sock < s->nudp - 1 && event_get_fd(s->udp[sock]) != fd)
        sock++;
    for (int i = 0; i < 1024; i++) {    /* bounded: other sources get their turn */
        struct sockaddr_storage peer;
        struct iovec iov = { buf, sizeof buf };
        struct msghdr mh = { .msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.space, .msg_controllen = sizeof ctl.space };
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (n < 0)
            return;
        count_kernel_drops(s, sock, &mh);
        struct ipaddr a;
        if (addr_from_sockaddr((struct sockaddr *)&peer, &a) < 0 || !peer_allowed(s, &a)) {
            char ip[64];
            s->dropped_peer++;
            log_gated(s, &a, "syslog udp: dropped a datagram from %s: not in --allow-from",
                      addr_format(&a, ip, sizeof ip));
            continue;
        }
        feed_datagram(s, buf, (size_t)n);
    }
}

/* RFC 6587 octet counting is "LEN SP MSG" with LEN from 1 to SYSLOG_MSG_MAX (no leading zero) and
 * MSG starting with "<PRI>"; anything else is a line (one that starts with a date or a number).
 * 1 with *hdr and *len set, 0 not an octet count, -1 too few bytes to tell yet. */
static int octet_count(const char *head, size_t hn, int more, size_t *hdr, size_t *len)
{
    size_t i = 0, v = 0;
    if (hn == 0 || head[0] < '1' || head[0] > '9')
        return hn == 0 && more ? -1 : 0;
    while (i < hn && head[i] >= '0' && head[i] <= '9') {
        v = v * 10 + (size_t)(head[i++] - '0');
        if (v > SYSLOG_MSG_MAX)
            return 0;
    }
    if (i + 2 > hn)     /* the SP and the '<' have not arrived yet */
        return more && (i == hn || head[i] == ' ') ? -1 : 0;
    if (head[i] != ' ' || head[i + 1] != '<')
        return 0;
    *hdr = i + 1;
    *len = v;
    return 1;
}

/* One frame from the stream: 1 fed, 0 need more bytes, -1 broken framing. */
static int tcp_frame(struct syslog_source *s, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    char head[8];       /* "65536 <" */
    size_t hn = evbuffer_copyout(in, head, avail < sizeof head ? avail : sizeof head);
    size_t hdr, len;
    int oc = octet_count(head, hn, hn == avail && hn < sizeof head, &hdr, &len);
    if (oc < 0)
        return 0;
    if (oc == 1) {
        if (avail < hdr + len)
            return 0;
        char *msg = (char *)evbuffer_pullup(in, (ev_ssize_t)(hdr + len));
        feed_message(s, msg + hdr, len);
        evbuffer_drain(in, hdr + len);
        return 1;
    }
    struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, NULL);
    if (nl.pos < 0)
        return avail > SYSLOG_MSG_MAX ? -1 : 0;
    char *msg = (char *)evbuffer_pullup(in, nl.pos + 1);
    feed_message(s, msg, (size_t)nl.pos);
    evbuffer_drain(in, (size_t)nl.pos + 1);
    return 1;
}

static void conn_free(struct syslog_conn *c)
{
    struct syslog_source *s = c->s;
    s->conns[c->slot] = s->conns[--s->nconns];
    s->conns[c->slot]->slot = c->slot;
    bufferevent_free(c->bev);
    free(c);
}

static void conn_close(struct syslog_conn *c, enum syslog_closing why)
{
    c->s->tcp_closed[why]++;
    conn_free(c);
}

/* Feeds the whole frames that have reached the socket but not the read callback yet, before a
 * connection is evicted: what the sender already sent is not lost (a partial frame is). Bounded. */
static void conn_drain(struct syslog_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    for (int i = 0; i < 16 && evbuffer_read(in, fd, SYSLOG_MSG_MAX) > 0; i++)
        ;
    while (tcp_frame(c->s, in) == 1)
        ;
}

static void tcp_readable(struct bufferevent *bev, void *arg)
{
    struct syslog_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int rc;
    c->active_ms = mono_ms();
    while ((rc = tcp_frame(c->s, in)) == 1)
        ;
    if (rc < 0) {
        char ip[64];
        log_gated(c->s, &c->peer, "syslog tcp: %s: bad framing or a message over %d bytes: closing the connection",
                  addr_format(&c->peer, ip, sizeof ip), SYSLOG_MSG_MAX);
        conn_close(c, SYSLOG_CLOSED_BAD_FRAMING);
    }
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
    struct syslog_conn *c = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        conn_close(c, SYSLOG_CLOSED_IDLE);
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t left = evbuffer_get_length(in);
        if (left && left <= SYSLOG_MSG_MAX)     /* a last line without its newline */
            feed_message(c->s, (char *)evbuffer_pullup(in, -1), left);
        conn_free(c);
    }
}

struct src_count {
    const struct ipaddr *peer;
    int n;
};

static int *src_count(struct src_count *t, const struct ipaddr *a)
{
    for (uint32_t i = addr_hash(a) % (2 * SYSLOG_MAX_CONNS);; i = (i + 1) % (2 * SYSLOG_MAX_CONNS)) {
        if (!t[i].peer)
            t[i].peer = a;
        if (same_addr(t[i].peer, a))
            return &t[i].n;
    }
}

/* Whether c is a better victim than best (NULL: none yet), n and most their senders' counts: the
 * sender with the most first; among equals, a connection accepted more than SYSLOG_FRESH_MS ago (a
 * new one may not have sent its first bytes yet), then the longest idle. */
static int better_victim(const struct syslog_conn *c, int n, const struct syslog_conn *best, int most, int64_t now)
{
    if (!best || n != most)
        return !best || n > most;
    int fresh = now - c->opened_ms < SYSLOG_FRESH_MS, best_fresh = now - best->opened_ms < SYSLOG_FRESH_MS;
    if (fresh != best_fresh)
        return best_fresh;
    return c->active_ms < best->active_ms;
}

/* The best victim (above) among all connections, and its sender's count. */
static struct syslog_conn *busiest_idlest(const struct syslog_source *s, int *most, int64_t now)
{
    struct src_count counts[2 * SYSLOG_MAX_CONNS];      /* twice the slots: never fills */
    struct syslog_conn *best = NULL;
    memset(counts, 0, sizeof counts);
    for (int i = 0; i < s->nconns; i++)
        (*src_count(counts, &s->conns[i]->peer))++;
    *most = 0;
    for (int i = 0; i < s->nconns; i++) {
        struct syslog_conn *c = s->conns[i];
        int n = *src_count(counts, &c->peer);
        if (better_victim(c, n, best, *most, now)) {
            *most = n;
            best = c;
        }
    }
    return best;
}

/* The connection to close so that one from `peer` fits, with the reason; NULL when there is room. */
static struct syslog_conn *tcp_victim(struct syslog_source *s, const struct ipaddr *peer, enum syslog_closing *why)
{
    struct syslog_conn *own = NULL;
    int mine = 0, most;
    int64_t now = mono_ms();
    for (int i = 0; i < s->nconns; i++) {
        struct syslog_conn *c = s->conns[i];
        if (same_addr(&c->peer, peer)) {
            mine++;
            if (better_victim(c, 0, own, 0, now))
                own = c;
        }
    }
    if (s->max_per_source > 0 && mine >= s->max_per_source) {
        *why = SYSLOG_CLOSED_PER_SOURCE_CAP;
        return own;
    }
    if (s->nconns < SYSLOG_MAX_CONNS)
        return NULL;
    struct syslog_conn *other = busiest_idlest(s, &most, now);
    *why = SYSLOG_CLOSED_EVICTED;
    return most > mine ? other : own;
}

static void tcp_make_room(struct syslog_source *s, const struct ipaddr *peer)
{
    enum syslog_closing why;
    struct syslog_conn *v = tcp_victim(s, peer, &why);
    if (!v)
        return;
    char ip[64], vip[64];
    addr_format(peer, ip, sizeof ip);
    if (why == SYSLOG_CLOSED_PER_SOURCE_CAP)
        log_gated(s, peer, "syslog tcp: %s has %d connections (--syslog-max-per-source): closing its "
                  "longest-idle one for the new one", ip, s->max_per_source);
    else
        log_gated(s, peer, "syslog tcp: all %d connections in use: %s evicts the longest-idle connection of %s",
                  SYSLOG_MAX_CONNS, ip, addr_format(&v->peer, vip, sizeof vip));
    conn_drain(v);
    conn_close(v, why);
}

static void tcp_refuse(struct syslog_source *s, evutil_socket_t fd, const struct ipaddr *peer, enum syslog_refusal why)
{
    char ip[64];
    s->tcp_refused[why]++;
    log_gated(s, peer, "syslog tcp: refused %s: %s", addr_format(peer, ip, sizeof ip),
              why == SYSLOG_REFUSED_NOT_ALLOWED ? "not in --allow-from" : "no connection slot");
    evutil_closesocket(fd);
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct syslog_source *s = arg;
    struct ipaddr peer;
    (void)l, (void)salen;
    if (addr_from_sockaddr(sa, &peer) < 0 || !peer_allowed(s, &peer)) {
        tcp_refuse(s, fd, &peer, SYSLOG_REFUSED_NOT_ALLOWED);
        return;
    }
    tcp_make_room(s, &peer);
    struct syslog_conn *c = s->nconns < SYSLOG_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
    if (!c || !(c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(c);
        tcp_refuse(s, fd, &peer, SYSLOG_REFUSED_SLOTS_FULL);
        return;
    }
    c->s = s;
    c->peer = peer;
    c->active_ms = c->opened_ms = mono_ms();
    c->slot = s->nconns;
    s->conns[s->nconns++] = c;
    s->tcp_accepted++;
    bufferevent_setcb(c->bev, tcp_readable, NULL, tcp_event, c);
    if (s->idle_timeout_s > 0) {
        struct timeval idle = { s->idle_timeout_s, 0 };
        bufferevent_set_timeouts(c->bev, &idle, NULL);
    }
    bufferevent_enable(c->bev, EV_READ);
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
    int l = sizeof *ss;
    memset(ss, 0, sizeof *ss);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, &l) < 0) {
        snprintf(err, errlen, "'%s' is not ADDR:PORT ([::1]:5140 for IPv6)", addr);
        return -1;
    }
    *len = (socklen_t)l;
    return 0;
}

int syslog_listen_udp(struct syslog_source *s, const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    if (s->nudp == SYSLOG_MAX_LISTEN || parse_addr(addr, &ss, &len, err, errlen) < 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (fd >= 0) {
        int size = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0) {
        snprintf(err, errlen, "syslog udp %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    s->udp[s->nudp] = event_new(s->base, fd, EV_READ | EV_PERSIST, udp_readable, s);
    if (!s->udp[s->nudp] || event_add(s->udp[s->nudp], NULL) < 0) {
        close(fd);
        snprintf(err, errlen, "syslog udp %s: cannot register", addr);
        return -1;
    }
    s->udp_drops_seen[s->nudp] = 0;
    s->nudp++;
    return 0;
}

int syslog_listen_tcp(struct syslog_source *s, const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (s->ntcp == SYSLOG_MAX_LISTEN || parse_addr(addr, &ss, &len, err, errlen) < 0)
        return -1;
    s->tcp[s->ntcp] = evconnlistener_new_bind(s->base, tcp_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                              64, (struct sockaddr *)&ss, (int)len);
    if (!s->tcp[s->ntcp]) {
        snprintf(err, errlen, "syslog tcp %s: %s", addr, strerror(errno));
        return -1;
    }
    s->ntcp++;
    return 0;
}

void syslog_close(struct syslog_source *s)
{
    for (int i = 0; i < s->nudp; i++) {
        close(event_get_fd(s->udp[i]));
        event_free(s->udp[i]);
    }
    for (int i = 0; i < s->ntcp; i++)
        evconnlistener_free(s->tcp[i]);
    while (s->nconns)
        conn_free(s->conns[0]);
    s->nudp = s->ntcp = 0;
}
