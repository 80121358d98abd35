/* feeder_store.c - see feeder_store.h. */
#include "feeder_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- subject keys ---- */

size_t subject_key_ip(const struct ipaddr *a, uint8_t *key)
{
    key[0] = SUBJ_IP;
    if (a->family == ADDR_V4) {
        memcpy(key + 1, a->bytes, 4);
        return 5;
    }
    memcpy(key + 1, a->bytes, 8);
    return 9;
}

size_t subject_key_name(int kind, const char *name, size_t len, uint8_t *key)
{
    if (len > DOMAIN_MAX)
        len = DOMAIN_MAX;
    key[0] = (uint8_t)kind;
    for (size_t i = 0; i < len; i++)
        key[1 + i] = (uint8_t)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] | 0x20 : name[i]);
    return len + 1;
}

size_t subject_key_net(const struct ipaddr *a, int plen, uint8_t *key)
{
    size_t len = a->family == ADDR_V4 ? 4 : 8;
    if (plen < 0 || (size_t)plen >= len * 8)
        return 0;
    key[0] = SUBJ_NET;
    key[1] = (uint8_t)plen;
    memcpy(key + 2, a->bytes, len);
    for (size_t i = 0; i < len; i++) {
        int keep = plen - (int)i * 8;   /* bits of this byte in the prefix */
        key[2 + i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return 2 + len;
}

int subject_key_to_net(const uint8_t *key, size_t keylen, struct ipnet *net)
{
    if (keylen && key[0] == SUBJ_NET && (keylen == 6 || keylen == 10)) {
        memset(net, 0, sizeof *net);
        net->addr.family = keylen == 6 ? ADDR_V4 : ADDR_V6;
        memcpy(net->addr.bytes, key + 2, keylen - 2u);
        net->plen = key[1];
        return 0;
    }
    if (!keylen || key[0] != SUBJ_IP)
        return -1;
    memset(net, 0, sizeof *net);
    if (keylen == 5) {
        net->addr.family = ADDR_V4;
        memcpy(net->addr.bytes, key + 1, 4);
        net->plen = 32;
    } else {
        net->addr.family = ADDR_V6;
        memcpy(net->addr.bytes, key + 1, 8);
        net->plen = 64;
    }
    return 0;
}

const char *subject_key_format(const uint8_t *key, size_t keylen, char *buf, size_t n)
{
    struct ipnet net;
    if (subject_key_to_net(key, keylen, &net) == 0)
        return net_format(&net, buf, n);
    snprintf(buf, n, "%.*s", (int)keylen - 1, (const char *)key + 1);
    return buf;
}

const char *abnormal_kind_name(int kind)
{
    static const char *const names[AB_KINDS] = {
        "lost connection", "timeout", "too many errors", "improper pipelining", "pregreet", "hangup",
        "postscreen pipelining", "non-smtp command", "bare newline", "command time limit", "command count limit",
    };
    return kind >= 0 && kind < AB_KINDS ? names[kind] : "?";
}

/* ---- the codec: little-endian, bounds-checked ---- */

struct buf { uint8_t *p; size_t len, cap; int bad; };

static void put(struct buf *b, const void *v, size_t n)
{
    if (b->len + n > b->cap) {
        b->bad = 1;
        return;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}
static void put8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(struct buf *b, uint16_t v) { put(b, (uint8_t[2]){ (uint8_t)v, (uint8_t)(v >> 8) }, 2); }
static void put32(struct buf *b, uint32_t v)
{
    put(b, (uint8_t[4]){ (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) }, 4);
}
static void put_ip(struct buf *b, const struct ipaddr *a) { put8(b, a->family); put(b, a->bytes, 16); }

static void get(struct buf *b, void *v, size_t n)
{
    if (b->len + n > b->cap) {
        b->bad = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, b->p + b->len, n);
    b->len += n;
}
static uint8_t get8(struct buf *b) { uint8_t v; get(b, &v, 1); return v; }
static uint16_t get16(struct buf *b) { uint8_t v[2]; get(b, v, 2); return (uint16_t)(v[0] | v[1] << 8); }
static uint32_t get32(struct buf *b)
{
    uint8_t v[4];
    get(b, v, 4);
    return (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
}
static void get_ip(struct buf *b, struct ipaddr *a) { a->family = get8(b); get(b, a->bytes, 16); }

/* ---- the subject record ---- */

static void encode_members(const struct net_members *nm, struct buf *b)
{
    put8(b, FEEDER_EXTRA_MEMBERS);
    put16(b, nm->n);
    for (int i = 0; i < nm->n; i++) {
        put32(b, nm->m[i].id);
        put32(b, nm->m[i].last);
        put8(b, nm->m[i].metric);
    }
}

static void encode_abnormal(const struct abnormal_state *a, struct buf *b)
{
    uint8_t nk = 0;
    for (int k = 0; k < AB_KINDS; k++)
        nk += a->sessions[k] != 0;
    put8(b, FEEDER_EXTRA_ABNORMAL);
    put8(b, nk);
    for (int k = 0; k < AB_KINDS; k++) {
        if (!a->sessions[k])
            continue;
        put8(b, (uint8_t)k);
        put32(b, a->sessions[k]);
    }
    put32(b, a->max_hold);
    put32(b, a->connect);
    put32(b, a->signal);
    put8(b, a->pending);
    put8(b, a->pending_kind);
    put8(b, a->nps);
    for (int i = 0; i < a->nps; i++) {
        put32(b, a->ps[i].time);
        put16(b, a->ps[i].port);
        put8(b, a->ps[i].kind);
        put8(b, a->ps[i].hold);
    }
}

static void encode_account(const struct account_state *a, struct buf *b)
{
    put8(b, a->nfail);
    for (int i = 0; i < a->nfail; i++) {
        put_ip(b, &a->fail[i].ip);
        put32(b, a->fail[i].last);
    }
    put8(b, a->nlogin);
    for (int i = 0; i < a->nlogin; i++) {
        put32(b, a->login[i].time);
        put_ip(b, &a->login[i].ip);
        put(b, a->login[i].cc, 2);
    }
}

size_t feeder_subject_encode(const struct feeder_subject_view *v, uint8_t *out, size_t cap)
{
    struct buf b = { out, 0, cap, 0 };
    uint8_t nrings = 0, noff = 0;
    put8(&b, 3);
    for (int m = 0; m < METRICS; m++)
        nrings += v->ring[m] != NULL;
    put8(&b, nrings);
    for (int m = 0; m < METRICS; m++) {
        const struct ring *r = v->ring[m];
        if (!r)
            continue;
        uint8_t nz = 0;
        for (int i = 0; i < RING_MINUTES; i++)
            nz += r->slot[i] != 0;
        put8(&b, (uint8_t)m);
        put32(&b, r->last);
        put8(&b, nz);
        for (int i = 0; i < RING_MINUTES; i++) {
            if (!r->slot[i])
                continue;
            put8(&b, (uint8_t)i);
            put16(&b, r->slot[i]);
        }
    }
    for (int k = 0; v->offence && k < RULE_KINDS; k++)
        noff += v->offence[k].count != 0;
    put8(&b, noff);
    for (int k = 0; v->offence && k < RULE_KINDS; k++) {
        if (!v->offence[k].count)
            continue;
        put8(&b, (uint8_t)k);
        put32(&b, v->offence[k].until);
        put32(&b, v->offence[k].count);
        put32(&b, v->offence[k].last);
    }
    put32(&b, v->last_unknown);
    if (v->kind == SUBJ_NET && v->members)
        encode_members(v->members, &b);
    else if (v->kind == SUBJ_IP && v->abn)
        encode_abnormal(v->abn, &b);
    else
        put8(&b, v->acct ? FEEDER_EXTRA_ACCOUNT : FEEDER_EXTRA_NONE);
    if (v->acct)
        encode_account(v->acct, &b);
    put32(&b, v->seen);
    return b.bad ? 0 : b.len;
}

static int decode_ring(struct feeder_subject_rec *rec, struct buf *b, uint32_t *have)
{
    struct feeder_ring_rec *r = &rec->ring[rec->nrings];
    r->metric = get8(b);
    r->last = get32(b);
    r->nz = get8(b);
    if (r->metric >= METRICS || (*have & 1u << r->metric) || r->nz > RING_MINUTES)
        return -1;      /* each metric once, and no more pairs than the ring has slots */
    *have |= 1u << r->metric;
    for (int j = 0; j < r->nz && !b->bad; j++) {
        r->slot[j] = get8(b);
        r->count[j] = get16(b);
        if (r->slot[j] >= RING_MINUTES)
            return -1;
    }
    rec->nrings++;
    return 0;
}

static int decode_account(struct account_state *a, struct buf *b)
{
    memset(a, 0, sizeof *a);
    a->nfail = get8(b);
    if (a->nfail > ACCT_FAIL_IPS)
        return -1;
    for (int i = 0; i < a->nfail; i++) {
        get_ip(b, &a->fail[i].ip);
        a->fail[i].last = get32(b);
    }
    a->nlogin = get8(b);
    if (a->nlogin > ACCT_LOGINS)
        return -1;
    for (int i = 0; i < a->nlogin; i++) {
        a->login[i].time = get32(b);
        get_ip(b, &a->login[i].ip);
        get(b, a->login[i].cc, 2);
    }
    return 0;
}

static int decode_members(struct feeder_subject_rec *rec, struct buf *b)
{
    rec->nmembers = get16(b);
    if (rec->nmembers > NET_MEMBERS_MAX || b->bad)
        return -1;
    for (int i = 0; i < rec->nmembers; i++) {
        rec->members[i].id = get32(b);
        rec->members[i].last = get32(b);
        rec->members[i].metric = get8(b);
    }
    return 0;
}

static int decode_abnormal(struct abnormal_state *a, struct buf *b)
{
    memset(a, 0, sizeof *a);
    uint8_t nk = get8(b);
    for (int i = 0; i < nk && !b->bad; i++) {
        uint8_t k = get8(b);
        if (k >= AB_KINDS)
            return -1;
        a->sessions[k] = get32(b);
    }
    a->max_hold = get32(b);
    a->connect = get32(b);
    a->signal = get32(b);
    a->pending = get8(b);
    a->pending_kind = get8(b);
    a->nps = get8(b);
    if (a->nps > ABNORMAL_PS_SLOTS || a->pending_kind >= AB_KINDS)
        return -1;
    for (int i = 0; i < a->nps && !b->bad; i++) {
        a->ps[i].time = get32(b);
        a->ps[i].port = get16(b);
        a->ps[i].kind = get8(b);
        a->ps[i].hold = get8(b);
        if (a->ps[i].kind >= AB_KINDS)
            return -1;
    }
    return b->bad ? -1 : 0;
}

/* A record without a last-seen time (version 1 or 2): the newest time it holds. */
static uint32_t newest_time(uint8_t kind, const struct feeder_subject_rec *rec)
{
    uint32_t t = rec->last_unknown;
    for (int i = 0; i < rec->nrings; i++) {
        uint32_t unit = metric_unit(rec->ring[i].metric), last = rec->ring[i].last;
        if (last * unit + unit - 1 > t)
            t = last * unit + unit - 1;
    }
    for (int k = 0; rec->noffences && k < RULE_KINDS; k++)
        if (rec->offence[k].last > t)
            t = rec->offence[k].last;
    /* an account's record: a domain's is never written, and not counted */
    const struct account_state *a = kind == SUBJ_ACCOUNT && rec->extra == FEEDER_EXTRA_ACCOUNT ? &rec->acct : NULL;
    for (int i = 0; a && i < a->nfail; i++)
        if (a->fail[i].last > t)
            t = a->fail[i].last;
    if (a && a->nlogin && a->login[a->nlogin - 1].time > t)
        t = a->login[a->nlogin - 1].time;
    return t;
}

/* The extra part: which one a subject of this kind may hold. */
static int decode_extra(uint8_t kind, struct feeder_subject_rec *rec, struct buf *b)
{
    rec->extra = get8(b);
    switch (rec->extra) {
    case FEEDER_EXTRA_NONE:
        return 0;
    case FEEDER_EXTRA_ACCOUNT:      /* an address's or a network's union holds something else */
        return kind == SUBJ_NET || kind == SUBJ_IP ? -1 : decode_account(&rec->acct, b);
    case FEEDER_EXTRA_MEMBERS:
        return kind == SUBJ_NET ? decode_members(rec, b) : -1;
    case FEEDER_EXTRA_ABNORMAL:
        return kind == SUBJ_IP ? decode_abnormal(&rec->abn, b) : -1;
    default:
        return -1;
    }
}

int feeder_subject_decode(uint8_t kind, const uint8_t *val, size_t len, struct feeder_subject_rec *rec)
{
    struct buf b = { (uint8_t *)val, 0, len, 0 };
    uint32_t have = 0;
    rec->version = get8(&b);
    if (rec->version < 1 || rec->version > 3)
        return -1;
    rec->nrings = 0;
    uint8_t nrings = get8(&b);
    for (int i = 0; i < nrings && !b.bad; i++)
        if (decode_ring(rec, &b, &have) < 0)
            return -1;
    rec->noffences = get8(&b);
    memset(rec->offence, 0, sizeof rec->offence);
    for (int i = 0; i < rec->noffences && !b.bad; i++) {
        uint8_t k = get8(&b);
        if (k >= RULE_KINDS)
            return -1;
        struct offence *o = &rec->offence[k];
        o->until = get32(&b);
        o->count = get32(&b);
        o->last = rec->version >= 2 ? get32(&b) : o->until;
    }
    rec->last_unknown = rec->version >= 2 ? get32(&b) : 0;
    rec->nmembers = 0;
    if (decode_extra(kind, rec, &b) < 0)
        return -1;
    rec->seen = rec->version >= 3 ? get32(&b) : newest_time(kind, rec);
    return b.bad || b.len != b.cap ? -1 : 0;
}

/* ---- the reader's subject ---- */

struct feeder_subject *feeder_subject_read(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len)
{
    MDB_val k = { len, (void *)key }, v;
    struct feeder_subject_rec *rec = malloc(sizeof *rec);
    struct feeder_subject *sub = len ? calloc(1, sizeof *sub + len) : NULL;
    if (!rec || !sub || mdb_get(txn, dbi, &k, &v) != 0 || feeder_subject_decode(key[0], v.mv_data, v.mv_size, rec) < 0)
        goto fail;
    sub->kind = key[0];
    sub->keylen = len;
    memcpy(sub->key, key, len);
    for (int i = 0; i < rec->nrings; i++) {
        const struct feeder_ring_rec *rr = &rec->ring[i];
        struct ring *r = sub->ring[rr->metric] = calloc(1, sizeof *r);
        if (!r)
            goto fail;
        r->last = rr->last;
        for (int j = 0; j < rr->nz; j++)
            r->slot[rr->slot[j]] = rr->count[j];
    }
    memcpy(sub->offence, rec->offence, sizeof sub->offence);
    sub->last_unknown = rec->last_unknown;
    sub->seen = rec->seen;
    if (rec->extra == FEEDER_EXTRA_ACCOUNT && !(sub->acct = malloc(sizeof *sub->acct)))
        goto fail;
    if (rec->extra == FEEDER_EXTRA_ACCOUNT)
        *sub->acct = rec->acct;
    if (rec->extra == FEEDER_EXTRA_ABNORMAL && !(sub->abn = malloc(sizeof *sub->abn)))
        goto fail;
    if (rec->extra == FEEDER_EXTRA_ABNORMAL)
        *sub->abn = rec->abn;
    free(rec);
    return sub;
fail:
    free(rec);
    feeder_subject_free(sub);
    return NULL;
}

void feeder_subject_free(struct feeder_subject *sub)
{
    if (!sub)
        return;
    for (int m = 0; m < METRICS; m++)
        free(sub->ring[m]);
    free(sub->acct);
    free(sub->abn);
    free(sub);
}

uint32_t feeder_subject_sum(const struct feeder_subject *sub, enum metric m, uint32_t t, uint32_t window)
{
    uint32_t unit = metric_unit(m), buckets = (window + unit - 1) / unit;
    return ring_sum(sub->ring[m], t / unit, buckets);
}

/* ---- the queue record ---- */

size_t feeder_queue_encode(const struct feeder_queue_rec *q, uint8_t *out, size_t cap)
{
    struct buf b = { out, 0, cap, 0 };
    put8(&b, q->flags);
    put_ip(&b, &q->ip);
    put32(&b, q->seen);
    put32(&b, q->removed);
    put8(&b, q->domain_len);
    if (q->domain_len)
        put(&b, q->domain, q->domain_len);
    if (q->flags & FEEDER_Q_ACCOUNT) {  /* an authenticated submission (older records end before this) */
        put8(&b, q->account_len);
        put(&b, q->account, q->account_len);
        put16(&b, q->nrcpt);
    }
    return b.bad ? 0 : b.len;
}

int feeder_queue_decode(const uint8_t *val, size_t len, struct feeder_queue_rec *q)
{
    struct buf b = { (uint8_t *)val, 0, len, 0 };
    q->flags = get8(&b);
    get_ip(&b, &q->ip);
    q->seen = get32(&b);
    q->removed = get32(&b);
    q->domain_len = get8(&b);
    q->domain = (const char *)val + b.len;
    q->account = NULL, q->account_len = 0, q->nrcpt = 0;
    if (q->domain_len > DOMAIN_MAX || b.len + q->domain_len > b.cap)
        return -1;
    b.len += q->domain_len;
    if (q->flags & FEEDER_Q_ACCOUNT) {
        q->account_len = get8(&b);
        q->account = (const char *)val + b.len;
        if (q->account_len == 0 || q->account_len > DOMAIN_MAX || b.len + q->account_len > b.cap)
            return -1;
        b.len += q->account_len;
        q->nrcpt = get16(&b);
    }
    return b.bad || b.len != b.cap ? -1 : 0;
}
