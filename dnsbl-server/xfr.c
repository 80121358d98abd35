/* xfr.c - see xfr.h. A transfer is the zone's SOA, every record xfr_records() gives, and the SOA
 * again, packed into messages of up to 64 KiB; owner names point at the zone name written once per
 * message. A full transfer is a stream with its own read transaction: the records of one piece of
 * the zone at a time (xfr_iter) are packed and moved to the connection, and the next piece waits
 * until the client has read them, so memory holds a piece, not the zone. A failure before the first
 * byte gives the client a SERVFAIL; later, the connection is closed. An IXFR difference (small by
 * construction) and an up-to-date client's SOA are built whole. */
#include "xfr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "answer.h"
#include "log.h"
#include "store.h"
#include "query.h"
#include "xfr_records.h"

#define MSG_MAX 65535
#define XFR_OPT_LEN 11

struct msg {
    struct evbuffer *out;
    const struct zone *z;
    const uint8_t *question;    /* copied into the first message */
    size_t qlen;
    uint16_t id;
    uint8_t rd, rcode, aa;
    uint8_t edns, edns_do;      /* the query had an OPT: every message carries one (RFC 6891 7) */
    size_t len;                 /* of the message being built, in buf + 2 */
    uint16_t an;
    size_t apex;                /* offset of the zone name in the message, 0 if not written yet */
    size_t count;               /* messages finished */
    uint8_t buf[2 + MSG_MAX];
};

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v); }

static void msg_begin(struct msg *m)
{
    uint8_t *h = m->buf + 2;
    int first = m->count == 0;
    put16(h, m->id);
    h[2] = (uint8_t)(0x80 | (m->aa ? 0x04 : 0) | m->rd);
    h[3] = m->rcode;
    memset(h + 4, 0, 8);
    h[5] = (uint8_t)first;                      /* QDCOUNT: the question in the first message only */
    m->len = 12;
    m->an = 0;
    m->apex = 0;
    if (first) {
        memcpy(h + 12, m->question, m->qlen);
        m->len += m->qlen;
        m->apex = 12;                           /* the question's name is the zone */
    }
}

static int msg_finish(struct msg *m)
{
    if (m->edns) {              /* root owner, OPT, our UDP size, version 0, the query's DO, no data */
        uint8_t *p = m->buf + 2 + m->len;
        p[0] = 0;
        put16(p + 1, DNS_TYPE_OPT), put16(p + 3, ANSWER_EDNS_SIZE);
        put32(p + 5, m->edns_do ? 0x8000u : 0), put16(p + 9, 0);
        m->len += XFR_OPT_LEN;
        put16(m->buf + 2 + 10, 1);              /* ARCOUNT */
    }
    put16(m->buf, (uint16_t)m->len);
    put16(m->buf + 2 + 6, m->an);
    m->count++;
    return evbuffer_add(m->out, m->buf, m->len + 2);
}

static int msg_rr(void *ud, const struct xfr_rr *rr)
{
    struct msg *m = ud;
    size_t owner = rr->rel_len + (m->apex ? 2 : m->z->wire_len);
    if (m->len + owner + 10 + rr->rdlen + (m->edns ? XFR_OPT_LEN : 0) > MSG_MAX) {
        if (m->an == 0 || msg_finish(m) < 0)
            return -1;
        msg_begin(m);
        owner = rr->rel_len + m->z->wire_len;
    }
    uint8_t *p = m->buf + 2 + m->len;
    memcpy(p, rr->rel, rr->rel_len);
    p += rr->rel_len;
    if (m->apex) {
        put16(p, (uint16_t)(0xc000 | m->apex));
        p += 2;
    } else {
        m->apex = m->len + rr->rel_len;
        memcpy(p, m->z->wire, m->z->wire_len);
        p += m->z->wire_len;
    }
    put16(p, rr->type), put16(p + 2, DNS_CLASS_IN), put32(p + 4, rr->ttl), put16(p + 8, rr->rdlen);
    memcpy(p + 10, rr->rdata, rr->rdlen);
    m->len += owner + 10 + rr->rdlen;
    m->an++;
    return 0;
}

static struct msg *msg_new(const struct zone *z, const struct dns_query *q, const uint8_t *pkt, uint8_t rcode)
{
    struct msg *m = malloc(sizeof *m);
    if (!m || !(m->out = evbuffer_new())) {
        free(m);
        return NULL;
    }
    m->z = z;
    m->question = pkt + DNS_HEADER_LEN;
    m->qlen = q->question_end - DNS_HEADER_LEN;
    m->id = q->id;
    m->rd = q->rd;
    m->rcode = rcode;
    m->aa = rcode == RCODE_NOERROR;
    m->edns = q->edns;
    m->edns_do = q->edns_do;
    m->count = 0;
    msg_begin(m);
    return m;
}

static void msg_free(struct msg *m)
{
    evbuffer_free(m->out);
    free(m);
}

/* A response with no records: REFUSED, SERVFAIL. */
static void reply_rcode(const struct dns_query *q, const uint8_t *pkt, uint8_t rcode, struct evbuffer *out)
{
    struct msg *m = msg_new(NULL, q, pkt, rcode);
    if (!m)
        return;
    if (msg_finish(m) == 0)
        evbuffer_add_buffer(out, m->out);
    msg_free(m);
}

/* SOA, records, SOA; or the SOA alone (an IXFR client that is up to date). 0, or -1. */
static int transfer(const struct zone *z, MDB_txn *txn, uint32_t now, const struct dns_query *q,
                    const uint8_t *pkt, int soa_only, struct evbuffer *out, struct xfr_stats *st,
                    size_t *messages)
{
    uint8_t soa_buf[XFR_SOA_MAX];
    struct xfr_rr soa;
    struct msg *m = msg_new(z, q, pkt, RCODE_NOERROR);
    if (!m)
        return -1;
    xfr_soa(z, xfr_serial(z, txn), soa_buf, &soa);
    memset(st, 0, sizeof *st);
    int rc = msg_rr(m, &soa);
    if (rc == 0 && !soa_only)
        rc = xfr_records(z, txn, now, msg_rr, m, st);
    if (rc == 0 && !soa_only)
        rc = msg_rr(m, &soa);
    if (rc == 0)
        rc = msg_finish(m);
    if (rc == 0)
        rc = evbuffer_add_buffer(out, m->out);
    *messages = m->count;
    msg_free(m);
    return rc;
}

/* ---- IXFR from the journal ---- */

#define IXFR_RECORDS_MAX 200000     /* records of the changed names per side; beyond that: the full zone */

/* A record of a changed name: owner length, owner, type, rdata; the TTL aside (it is not part of
 * what identifies a record to a secondary that deletes it). */
struct rec {
    uint8_t *data;
    size_t len;
    uint32_t ttl;
};
struct recs {
    const struct xfr_region *region;
    struct rec *r;
    size_t n, cap;
    int full;                   /* more than IXFR_RECORDS_MAX */
    uint8_t last[256];          /* the previous record's owner and whether it was in the region: */
    size_t last_len;            /* a name's records come one after the other */
    int last_in;
};

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->data, y->data, n);
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

static int recs_add(void *ud, const struct xfr_rr *rr)
{
    struct recs *v = ud;
    if (v->last_len != rr->rel_len || memcmp(v->last, rr->rel, rr->rel_len)) {
        memcpy(v->last, rr->rel, rr->rel_len);
        v->last_len = rr->rel_len;
        v->last_in = xfr_region_has(v->region, rr->rel, rr->rel_len);
    }
    if (!v->last_in)
        return 0;
    if (v->n == IXFR_RECORDS_MAX) {
        v->full = 1;
        return -1;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        struct rec *grown = realloc(v->r, cap * sizeof *grown);
        if (!grown)
            return -1;
        v->r = grown, v->cap = cap;
    }
    size_t len = 1 + rr->rel_len + 2 + rr->rdlen;
    uint8_t *d = malloc(len);
    if (!d)
        return -1;
    d[0] = (uint8_t)rr->rel_len;
    memcpy(d + 1, rr->rel, rr->rel_len);
    put16(d + 1 + rr->rel_len, rr->type);
    memcpy(d + 3 + rr->rel_len, rr->rdata, rr->rdlen);
    v->r[v->n++] = (struct rec){ d, len, rr->ttl };
    return 0;
}

static void recs_free(struct recs *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->r[i].data);
    free(v->r);
}

static int rec_put(struct msg *m, const struct rec *r)
{
    size_t rel_len = r->data[0];
    const uint8_t *t = r->data + 1 + rel_len;
    struct xfr_rr rr = { .rel = r->data + 1, .rel_len = rel_len, .type = (uint16_t)(t[0] << 8 | t[1]),
                         .ttl = r->ttl, .rdata = t + 2, .rdlen = (uint16_t)(r->len - 3 - rel_len) };
    return msg_rr(m, &rr);
}

/* The records in a but not in b (both sorted), into m; counts them. */
static int put_missing(struct msg *m, const struct recs *a, const struct recs *b, size_t *count)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && rec_cmp(&b->r[j], &a->r[i]) < 0)
            j++;
        if (j < b->n && rec_cmp(&b->r[j], &a->r[i]) == 0)
            continue;
        if (rec_put(m, &a->r[i]) < 0)
            return -1;
        (*count)++;
    }
    return 0;
}

struct ixfr_result {
    size_t dels, adds, messages, changes;
};

/* SOA new, SOA old, the old records of the changed names that are gone, SOA new, the new ones, SOA
 * new: one condensed difference (RFC 1995 4). The old records are generated from the journal's
 * before-images as of the old serial's commit; both sides only for the names the changes touch. */
static int ixfr_send(const struct zone *z, MDB_txn *txn, uint32_t now, const struct dns_query *q,
                     const uint8_t *pkt, uint32_t from, uint32_t to, const struct store_changes *ch,
                     struct evbuffer *out, struct ixfr_result *res)
{
    struct xfr_region reg;
    struct recs old = { .last_len = SIZE_MAX }, cur = { .last_len = SIZE_MAX };
    struct xfr_stats st;
    int rc = xfr_region_build(ch, &reg);
    old.region = cur.region = &reg;
    if (rc == 0)
        rc = xfr_records_at(z, txn, ch, ch->from_time, recs_add, &old, &st);
    if (rc == 0)
        rc = xfr_records(z, txn, now, recs_add, &cur, &st);
    rc = old.full || cur.full ? 0 : rc < 0 ? -1 : 1;
    struct msg *m = rc == 1 ? msg_new(z, q, pkt, RCODE_NOERROR) : NULL;
    if (rc == 1 && !m)
        rc = -1;
    if (m) {
        uint8_t soa_new_buf[XFR_SOA_MAX], soa_old_buf[XFR_SOA_MAX];
        struct xfr_rr soa_new, soa_old;
        xfr_soa(z, to, soa_new_buf, &soa_new);
        xfr_soa(z, from, soa_old_buf, &soa_old);
        qsort(old.r, old.n, sizeof *old.r, rec_cmp);
        qsort(cur.r, cur.n, sizeof *cur.r, rec_cmp);
        memset(res, 0, sizeof *res);
        res->changes = ch->n;
        int bad = msg_rr(m, &soa_new) < 0 || msg_rr(m, &soa_old) < 0 || put_missing(m, &old, &cur, &res->dels) < 0 ||
                  msg_rr(m, &soa_new) < 0 || put_missing(m, &cur, &old, &res->adds) < 0 || msg_rr(m, &soa_new) < 0 ||
                  msg_finish(m) < 0 || evbuffer_add_buffer(out, m->out) < 0;
        res->messages = m->count;
        rc = bad ? -1 : 1;
        msg_free(m);
    }
    recs_free(&old);
    recs_free(&cur);
    xfr_region_free(&reg);
    return rc;
}

/* IXFR from serial `from`: 1 answered with the difference, 0 the journal cannot tell (answer the
 * whole zone), -1 error. */
static int ixfr(const struct zone *z, MDB_txn *txn, uint32_t now, const struct dns_query *q, const uint8_t *pkt,
                uint32_t from, uint32_t to, const char *peer, struct evbuffer *out)
{
    struct store_changes ch;
    struct ixfr_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = store_journal_changes(txn, z->dbi, from, to, &ch);
    if (rc == 1)
        rc = ixfr_send(z, txn, now, q, pkt, from, to, &ch, out, &res);
    store_changes_free(&ch);
    if (rc != 1)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    log_info("IXFR %s to %s: serial %u -> %u from the journal, %zu changed entries, %zu records removed, %zu "
             "added, in %zu message%s, %.1f ms", z->name, peer, from, to, res.changes, res.dels, res.adds,
             res.messages, res.messages == 1 ? "" : "s", ms);
    return 1;
}

static int peer_addr(int fd, struct ipaddr *a, char *text, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(a, 0, sizeof *a);
    snprintf(text, cap, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 || addr_from_sockaddr((struct sockaddr *)&ss, a) < 0)
        return -1;
    addr_format(a, text, cap);
    return 0;
}

/* The zone whose apex the question names, or NULL. */
static const struct zone *apex_zone(const struct zoneset *zs, const struct dns_query *q)
{
    for (int i = 0; i < zs->n; i++)
        if (zs->zones[i].wire_len == q->name_len && !memcmp(zs->zones[i].wire, q->name, q->name_len))
            return &zs->zones[i];
    return NULL;
}

static void log_transfer(const struct zone *z, const char *kind, const char *peer, uint32_t serial,
                         const struct xfr_stats *st, size_t messages, const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
    log_info("%s %s to %s: serial %u, %zu entries, %zu names, %zu records in %zu message%s, %.1f ms", kind,
             z->name, peer, serial, st->entries, st->names, st->rrs + 2, messages, messages == 1 ? "" : "s", ms);
    if (st->holes)
        log_info("%s %s: %zu allow entr%s below a listed wildcard cannot be expressed in a zone (a domain allowed "
                 "with its subdomains): secondaries answer them as listed", kind, z->name, st->holes,
                 st->holes == 1 ? "y" : "ies");
    if (st->ambiguous)
        log_info("%s %s: %zu IPv4 wildcard%s also match IPv6 names on secondaries (see docs/transfers.md)", kind, z->name,
                 st->ambiguous, st->ambiguous == 1 ? "" : "s");
    if (st->skipped)
        log_warn("%s %s: %zu entr%s skipped (too many names, name too long, or unreadable)", kind, z->name,
                 st->skipped, st->skipped == 1 ? "y" : "ies");
}

/* ---- a full transfer, written as the connection drains ---- */

struct xfr_stream {
    const struct zoneset *zs;   /* the zone set it began with: a reload ends it */
    const struct zone *z;
    MDB_txn *txn;               /* its own snapshot, held until the transfer ends or the connection closes */
    struct xfr_iter *it;
    struct msg *m;              /* finished messages collect in m->out until moved to the connection */
    struct xfr_stats st;
    uint8_t soa_buf[XFR_SOA_MAX];
    struct xfr_rr soa;
    uint32_t serial;
    const char *kind;
    char peer[INET6_ADDRSTRLEN];
    struct timespec t0;
};

void xfr_stream_free(struct xfr_stream *s)
{
    if (!s)
        return;
    xfr_iter_free(s->it);
    if (s->txn)
        mdb_txn_abort(s->txn);
    if (s->m)
        msg_free(s->m);
    free(s);
}

int xfr_stream_fill(struct xfr_stream *s, const struct zoneset *zs, struct evbuffer *out, size_t limit)
{
    if (zs != s->zs) {
        log_warn("%s %s to %s: the zones were reloaded during the transfer: connection closed", s->kind,
                 s->z->name, s->peer);
        return -1;
    }
    while (evbuffer_get_length(out) < limit) {
        int rc = xfr_iter_next(s->it, msg_rr, s->m);
        if (rc == 0 && (msg_rr(s->m, &s->soa) < 0 || msg_finish(s->m) < 0))
            rc = -1;
        if (rc < 0 || evbuffer_add_buffer(out, s->m->out) < 0) {
            log_err("%s %s to %s: failed during the transfer (store or memory): connection closed", s->kind,
                    s->z->name, s->peer);
            return -1;
        }
        if (rc == 0) {
            log_transfer(s->z, s->kind, s->peer, s->serial, &s->st, s->m->count, &s->t0);
            return 0;
        }
    }
    return 1;
}

/* Begins a full transfer (SOA, records, SOA) from a snapshot of its own and writes its first part. */
static struct xfr_stream *stream_begin(const struct zoneset *zs, const struct zone *z, MDB_txn *txn,
                                       uint32_t now, const struct dns_query *q, const uint8_t *pkt,
                                       const char *kind, const char *peer)
{
    struct xfr_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->zs = zs, s->z = z, s->kind = kind;
    snprintf(s->peer, sizeof s->peer, "%s", peer);
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    if (mdb_txn_begin(mdb_txn_env(txn), NULL, MDB_RDONLY, &s->txn) != 0) {
        s->txn = NULL;
        xfr_stream_free(s);
        return NULL;
    }
    s->serial = xfr_serial(z, s->txn);
    xfr_soa(z, s->serial, s->soa_buf, &s->soa);
    if (!(s->m = msg_new(z, q, pkt, RCODE_NOERROR)) || !(s->it = xfr_iter_new(z, s->txn, now, &s->st)) ||
        msg_rr(s->m, &s->soa) < 0) {
        xfr_stream_free(s);
        return NULL;
    }
    return s;
}

static void serve(const struct zoneset *zs, const struct zone *z, MDB_txn *txn, uint32_t now,
                  const struct dns_query *q, const uint8_t *pkt, const char *peer,
                  struct evbuffer *out, struct xfr_stream **stream)
{
    const char *kind = q->qtype == DNS_TYPE_AXFR ? "AXFR" : "IXFR";
    uint32_t serial = xfr_serial(z, txn), theirs = q->ixfr_serial;
    int has_theirs = q->qtype == DNS_TYPE_IXFR && q->has_ixfr_serial;
    int soa_only = has_theirs && (int32_t)(theirs - serial) >= 0;    /* RFC 1982: theirs is this one or newer */
    struct xfr_stats st;
    struct timespec t0;
    size_t messages = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int diff = has_theirs && !soa_only
                   ? ixfr(z, txn, now, q, pkt, theirs, serial, peer, out) : 0;
    if (diff == 1)
        return;
    if (diff < 0)
        log_err("IXFR %s to %s: the journal could not be read (store or memory): the whole zone", z->name, peer);
    else if (has_theirs && !soa_only)
        log_info("IXFR %s to %s: serial %u is not in the journal: the whole zone", z->name, peer, theirs);
    if (!soa_only) {
        struct xfr_stream *s = stream_begin(zs, z, txn, now, q, pkt, kind, peer);
        int rc = s ? xfr_stream_fill(s, zs, out, XFR_STREAM_CHUNK) : -1;
        if (rc < 0 && evbuffer_get_length(out) == 0) {
            log_err("%s %s to %s: failed (store or memory)", kind, z->name, peer);
            reply_rcode(q, pkt, RCODE_SERVFAIL, out);
        }
        if (rc > 0)
            *stream = s;        /* the connection writes the rest as the client reads */
        else
            xfr_stream_free(s);
        return;
    }
    if (transfer(z, txn, now, q, pkt, soa_only, out, &st, &messages) < 0) {
        log_err("%s %s to %s: failed (store or memory)", kind, z->name, peer);
        reply_rcode(q, pkt, RCODE_SERVFAIL, out);
    } else {
        log_info("%s %s to %s: serial %u, up to date", kind, z->name, peer, serial);
    }
}

int xfr_tcp(const struct zoneset *zs, MDB_txn *txn, uint32_t now, int fd, const struct dns_query *q,
            const uint8_t *msg, struct evbuffer *out, struct xfr_stream **stream)
{
    *stream = NULL;
    enum query_status st = q->status;
    if (!q->question_end || q->opcode != 0 || (q->qtype != DNS_TYPE_AXFR && q->qtype != DNS_TYPE_IXFR))
        return 0;
    if (st != QUERY_OK && !(st == QUERY_FORMERR && q->qtype == DNS_TYPE_IXFR))
        return 0;                               /* FORMERR, BADVERS: answer_parsed says so */
    struct ipaddr peer;
    char peer_text[INET6_ADDRSTRLEN];
    const struct zone *z = q->qclass == DNS_CLASS_IN ? apex_zone(zs, q) : NULL;
    if (peer_addr(fd, &peer, peer_text, sizeof peer_text) < 0 || !z || !zone_xfr_allowed(z, &peer)) {
        if (z)
            log_info("%s %s to %s: refused (not in allow-transfer)",
                     q->qtype == DNS_TYPE_AXFR ? "AXFR" : "IXFR", z->name, peer_text);
        reply_rcode(q, msg, RCODE_REFUSED, out);
        return 1;
    }
    serve(zs, z, txn, now, q, msg, peer_text, out, stream);
    return 1;
}
