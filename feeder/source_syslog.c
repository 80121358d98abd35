/* source_syslog.c - syslog from many MTAs: UDP (one message per datagram, RFC 3164 or RFC 5424) and
 * TCP (RFC 6587: octet counting "LEN SP MSG", or one message per line). Senders outside the
 * --allow-from networks are dropped and counted. Each message goes to feed_line() as one line. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "source.h"

#define SYSLOG_MSG_MAX 65536

static int peer_allowed(const struct syslog_source *s, const struct sockaddr *sa)
{
    struct ipaddr a;
    memset(&a, 0, sizeof a);
    if (sa->sa_family == AF_INET) {
        a.family = ADDR_V4;
        memcpy(a.bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        a.family = ADDR_V6;
        memcpy(a.bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        addr_unmap_v4(&a);
    } else {
        return 0;
    }
    for (int i = 0; i < s->nallow; i++)
        if (net_contains(&s->allow[i], &a))
            return 1;
    return 0;
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

static void udp_readable(evutil_socket_t fd, short what, void *arg)
{
    struct syslog_source *s = arg;
    static char buf[SYSLOG_MSG_MAX];
    (void)what;
    for (int i = 0; i < 1024; i++) {    /* bounded: other sources get their turn */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
        if (n < 0)
            return;
        if (!peer_allowed(s, (struct sockaddr *)&peer)) {
            s->dropped_peer++;
            continue;
        }
        feed_message(s, buf, (size_t)n);
    }
}

/* One frame from the stream: 1 fed, 0 need more bytes, -1 broken framing. */
static int tcp_frame(struct syslog_source *s, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    char head[12];
    size_t hn = evbuffer_copyout(in, head, avail < sizeof head ? avail : sizeof head);
    if (hn == 0)
        return 0;
    if (head[0] >= '1' && head[0] <= '9') {     /* octet counting */
        size_t len = 0, i = 0;
        while (i < hn && head[i] >= '0' && head[i] <= '9')
            len = len * 10 + (size_t)(head[i++] - '0');
        if (i == hn)
            return hn < sizeof head ? 0 : -1;
        if (head[i] != ' ' || len == 0 || len > SYSLOG_MSG_MAX)
            return -1;
        if (avail < i + 1 + len)
            return 0;
        char *msg = (char *)evbuffer_pullup(in, (ev_ssize_t)(i + 1 + len));
        feed_message(s, msg + i + 1, len);
        evbuffer_drain(in, i + 1 + len);
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

static void conn_free(struct syslog_source *s, struct bufferevent *bev)
{
    for (int i = 0; i < s->nconns; i++)
        if (s->conns[i] == bev) {
            s->conns[i] = s->conns[--s->nconns];
            break;
        }
    bufferevent_free(bev);
}

static void tcp_readable(struct bufferevent *bev, void *arg)
{
    struct syslog_source *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int rc;
    while ((rc = tcp_frame(s, in)) == 1)
        ;
    if (rc < 0) {
        s->oversized++;
        log_warn("syslog tcp: bad framing or a message over %d bytes: closing the connection", SYSLOG_MSG_MAX);
        conn_free(s, bev);
    }
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
    struct syslog_source *s = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t left = evbuffer_get_length(in);
        if (left && left <= SYSLOG_MSG_MAX)     /* a last line without its newline */
            feed_message(s, (char *)evbuffer_pullup(in, -1), left);
        conn_free(s, bev);
    }
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct syslog_source *s = arg;
    (void)l, (void)salen;
    if (!peer_allowed(s, sa) || s->nconns == (int)(sizeof s->conns / sizeof *s->conns)) {
        s->dropped_peer++;
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    s->tcp_conns++;
    s->conns[s->nconns++] = bev;
    bufferevent_setcb(bev, tcp_readable, NULL, tcp_event, s);
    bufferevent_enable(bev, EV_READ);
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
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
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
        conn_free(s, s->conns[0]);
    s->nudp = s->ntcp = 0;
}
