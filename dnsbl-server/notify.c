/* notify.c - see notify.h. Runs in the main thread only, which is also where reloads swap the zone
 * set, so the zones it reads cannot be freed under it. Its state is kept per zone name, so that a
 * reload keeps what was announced already. */
#include "notify.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "query.h"
#include "server.h"
#include "xfr_records.h"

#define NOTIFY_TRIES 5          /* sends per serial and target */
#define NOTIFY_RETRY 2          /* seconds between them */
#define OPCODE_NOTIFY 4

struct target {
    struct zone_notify_target t;
    uint16_t id;
    uint32_t serial;
    int tries;                  /* sent so far for this serial; 0: nothing pending */
    time_t next;                /* when to send again */
};

struct zone_state {
    char name[DOMAIN_MAX + 1];
    int seen;                   /* still in the zone set */
    int notified;               /* serial_sent is valid */
    uint32_t serial_sent;
    time_t last_check;
    struct target tg[ZONE_MAX_NOTIFY];
    int ntg;
};

struct notifier {
    struct server *srv;
    struct event *tick;
    int fd[2];                  /* UDP sockets: IPv4, IPv6 */
    struct event *rd[2];
    struct zone_state *zs;
    int n;
};

static const char *target_text(const struct zone_notify_target *t, char *buf, size_t cap)
{
    char a[64];
    addr_format(&t->addr, a, sizeof a);
    snprintf(buf, cap, t->addr.family == ADDR_V6 ? "[%s]:%u" : "%s:%u", a, t->port);
    return buf;
}

static socklen_t target_sockaddr(const struct zone_notify_target *t, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (t->addr.family == ADDR_V4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(t->port);
        memcpy(&s4->sin_addr, t->addr.bytes, 4);
        return sizeof *s4;
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(t->port);
    memcpy(&s6->sin6_addr, t->addr.bytes, 16);
    return sizeof *s6;
}

/* opcode NOTIFY, AA, the zone's SOA as the question and, with the serial, as the answer. */
static size_t notify_packet(const struct zone *z, uint16_t id, uint32_t serial, uint8_t *p)
{
    uint8_t soa_buf[XFR_SOA_MAX];
    struct xfr_rr soa;
    xfr_soa(z, serial, soa_buf, &soa);
    memset(p, 0, DNS_HEADER_LEN);
    p[0] = (uint8_t)(id >> 8), p[1] = (uint8_t)id;
    p[2] = OPCODE_NOTIFY << 3 | 0x04;
    p[5] = 1, p[7] = 1;
    size_t pos = DNS_HEADER_LEN;
    memcpy(p + pos, z->wire, z->wire_len);
    pos += z->wire_len;
    uint8_t tail[] = { 0, DNS_TYPE_SOA, 0, DNS_CLASS_IN, 0xc0, DNS_HEADER_LEN, 0, DNS_TYPE_SOA, 0, DNS_CLASS_IN,
                       (uint8_t)(soa.ttl >> 24), (uint8_t)(soa.ttl >> 16), (uint8_t)(soa.ttl >> 8), (uint8_t)soa.ttl,
                       (uint8_t)(soa.rdlen >> 8), (uint8_t)soa.rdlen };
    memcpy(p + pos, tail, sizeof tail);
    pos += sizeof tail;
    memcpy(p + pos, soa.rdata, soa.rdlen);
    return pos + soa.rdlen;
}

static void send_one(struct notifier *n, const struct zone *z, struct target *tg, time_t now)
{
    uint8_t pkt[DNS_HEADER_LEN + 256 + 16 + XFR_SOA_MAX];
    struct sockaddr_storage ss;
    char who[80];
    socklen_t sl = target_sockaddr(&tg->t, &ss);
    int fd = n->fd[tg->t.addr.family == ADDR_V6];
    size_t len = notify_packet(z, tg->id, tg->serial, pkt);
    tg->tries++;
    tg->next = now + NOTIFY_RETRY;
    if (fd < 0 || sendto(fd, pkt, len, 0, (struct sockaddr *)&ss, sl) < 0)
        log_warn("notify %s serial %u to %s: %s", z->name, tg->serial, target_text(&tg->t, who, sizeof who),
                 fd < 0 ? "no socket for this address family" : strerror(errno));
    else
        log_debug("notify %s serial %u to %s (try %d)", z->name, tg->serial, target_text(&tg->t, who, sizeof who),
                  tg->tries);
}

static void notify_all(struct notifier *n, const struct zone *z, struct zone_state *st, uint32_t serial, time_t now)
{
    st->notified = 1;
    st->serial_sent = serial;
    for (int i = 0; i < st->ntg; i++) {
        struct target *tg = &st->tg[i];
        if (getrandom(&tg->id, sizeof tg->id, GRND_NONBLOCK) != sizeof tg->id)
            tg->id = (uint16_t)(tg->id * 31421u + 6927u + (unsigned)now);
        tg->serial = serial;
        tg->tries = 0;
        send_one(n, z, tg, now);
    }
}

static void retry_pending(struct notifier *n, const struct zone *z, struct zone_state *st, time_t now)
{
    for (int i = 0; i < st->ntg; i++) {
        struct target *tg = &st->tg[i];
        char who[80];
        if (tg->tries == 0 || now < tg->next)
            continue;
        if (tg->tries < NOTIFY_TRIES) {
            send_one(n, z, tg, now);
            continue;
        }
        log_warn("notify %s serial %u to %s: no answer after %d tries", z->name, tg->serial,
                 target_text(&tg->t, who, sizeof who), tg->tries);
        tg->tries = 0;
    }
}

/* A NOTIFY response: the target with that address, port and ID has the news. */
static void acknowledge(struct notifier *n, const struct sockaddr_storage *from, const uint8_t *p, size_t len)
{
    if (len < DNS_HEADER_LEN || !(p[2] & 0x80) || ((p[2] >> 3) & 15) != OPCODE_NOTIFY)
        return;
    uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
    for (int z = 0; z < n->n; z++) {
        for (int i = 0; i < n->zs[z].ntg; i++) {
            struct target *tg = &n->zs[z].tg[i];
            struct sockaddr_storage ss;
            char who[80];
            socklen_t sl = target_sockaddr(&tg->t, &ss);
            if (tg->tries == 0 || tg->id != id || ss.ss_family != from->ss_family || memcmp(&ss, from, sl))
                continue;
            tg->tries = 0;
            if (p[3] & 15)
                log_warn("notify %s serial %u to %s: answered with rcode %u", n->zs[z].name, tg->serial,
                         target_text(&tg->t, who, sizeof who), p[3] & 15);
            else
                log_debug("notify %s serial %u to %s: acknowledged", n->zs[z].name, tg->serial,
                          target_text(&tg->t, who, sizeof who));
            return;
        }
    }
}

static void readable(evutil_socket_t fd, short what, void *arg)
{
    uint8_t buf[512];
    (void)what;
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        memset(&from, 0, sizeof from);
        ssize_t len = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (len < 0)
            return;
        acknowledge(arg, &from, buf, (size_t)len);
    }
}

/* Expiries raise the serial too: the feeder (or `dnsblctl expire`) records them, since this process
 * opens the store read-only. */
static void check_zone(struct notifier *n, const struct zone *z, struct zone_state *st, time_t now)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(n->srv->store.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        log_warn("notify: read transaction: %s", mdb_strerror(rc));
        return;
    }
    uint32_t serial = xfr_serial(z, txn);
    mdb_txn_abort(txn);
    if (st->ntg && (!st->notified || st->serial_sent != serial))
        notify_all(n, z, st, serial, now);
}

/* The state of a zone, made or brought up to date with its configuration. */
static struct zone_state *zone_state(struct notifier *n, const struct zone *z)
{
    struct zone_state *st = NULL;
    for (int i = 0; i < n->n && !st; i++)
        if (!strcmp(n->zs[i].name, z->name))
            st = &n->zs[i];
    if (!st) {
        struct zone_state *grown = realloc(n->zs, (size_t)(n->n + 1) * sizeof *grown);
        if (!grown)
            return NULL;
        n->zs = grown;
        st = &n->zs[n->n++];
        memset(st, 0, sizeof *st);
        snprintf(st->name, sizeof st->name, "%s", z->name);
    }
    int same = st->ntg == z->xfr.nnotify;
    for (int i = 0; same && i < st->ntg; i++)
        same = !memcmp(&st->tg[i].t, &z->xfr.notify[i], sizeof st->tg[i].t);
    if (!same) {                                /* new targets: tell them all */
        memset(st->tg, 0, sizeof st->tg);
        for (int i = 0; i < z->xfr.nnotify; i++)
            st->tg[i].t = z->xfr.notify[i];
        st->ntg = z->xfr.nnotify;
        st->notified = 0;
    }
    st->seen = 1;
    return st;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct notifier *n = arg;
    const struct zoneset *zs = atomic_load(&n->srv->zones);
    time_t now = time(NULL);
    (void)fd, (void)what;
    for (int i = 0; i < n->n; i++)
        n->zs[i].seen = 0;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        struct zone_state *st = zone_xfr_enabled(z) ? zone_state(n, z) : NULL;
        if (!st)
            continue;
        if (now - st->last_check >= (time_t)zone_notify_interval(z)) {
            st->last_check = now;
            check_zone(n, z, st, now);
        }
        retry_pending(n, z, st, now);
    }
    int kept = 0;
    for (int i = 0; i < n->n; i++)              /* zones gone or no longer transferred */
        if (n->zs[i].seen)
            n->zs[kept++] = n->zs[i];
    n->n = kept;
}

static int open_socket(struct notifier *n, int v6)
{
    n->fd[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->fd[v6] < 0)
        return v6 ? 0 : -1;                     /* a host without IPv6 still notifies over IPv4 */
    n->rd[v6] = event_new(n->srv->base, n->fd[v6], EV_READ | EV_PERSIST, readable, n);
    return n->rd[v6] && event_add(n->rd[v6], NULL) == 0 ? 0 : -1;
}

struct notifier *notify_start(struct server *srv, char *err, size_t errlen)
{
    struct notifier *n = calloc(1, sizeof *n);
    struct timeval second = { 1, 0 };
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->srv = srv;
    n->fd[0] = n->fd[1] = -1;
    if (open_socket(n, 0) < 0 || open_socket(n, 1) < 0 ||
        !(n->tick = event_new(srv->base, -1, EV_PERSIST, tick, n)) || event_add(n->tick, &second) < 0) {
        snprintf(err, errlen, "cannot set up the NOTIFY sockets and timer: %s", strerror(errno));
        notify_stop(n);
        return NULL;
    }
    return n;
}

void notify_stop(struct notifier *n)
{
    if (!n)
        return;
    if (n->tick)
        event_free(n->tick);
    for (int i = 0; i < 2; i++) {
        if (n->rd[i])
            event_free(n->rd[i]);
        if (n->fd[i] >= 0)
            close(n->fd[i]);
    }
    free(n->zs);
    free(n);
}
