/* state.c - see state.h. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

#define QUEUE_GRACE 300             /* keep a removed queue ID this long: bounce may log after qmgr */

int state_init(struct state *s)
{
    memset(s, 0, sizeof *s);
    s->max_sources = STATE_MAX_SOURCES;
    s->max_queue = STATE_MAX_QUEUE;
    s->queue_idle = STATE_QUEUE_IDLE;
    /* the zero key until state_load reads the store's: tables without a store stay reproducible */
    return ltable_init(&s->subjects, 4096, NULL) < 0 || ltable_init(&s->queue, 4096, NULL) < 0 ? -1 : 0;
}

static void subject_free(struct subject *sub)
{
    for (int m = 0; sub->ring && m < METRICS; m++)
        free(sub->ring[m]);
    free(sub->ring);
    free(sub->offence);
    free(sub->acct);
    free(sub);
}

static void qentry_free(struct qentry *q)
{
    free(q->domain);
    free(q);
}

static int pvec_push(struct pvec *v, void *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        void **grown = realloc(v->p, cap * sizeof *grown);
        if (!grown)
            return -1;
        v->p = grown;
        v->cap = cap;
    }
    v->p[v->n++] = p;
    return 0;
}

/* After a save, a long burst's dirty vector is given back rather than kept at its peak. */
static void pvec_reset(struct pvec *v)
{
    v->n = 0;
    if (v->cap > 65536) {
        free(v->p);
        v->p = NULL;
        v->cap = 0;
    }
}

void state_free(struct state *s)
{
    for (size_t i = 0; i < s->dirty_subjects.n; i++) {
        struct subject *sub = s->dirty_subjects.p[i];
        if (sub->dead)
            subject_free(sub);
    }
    for (size_t i = 0; i < s->dirty_queue.n; i++) {
        struct qentry *q = s->dirty_queue.p[i];
        if (q->dead)
            qentry_free(q);
    }
    free(s->dirty_subjects.p);
    free(s->dirty_queue.p);
    for (size_t i = 0; s->subjects.buckets && i <= s->subjects.mask; i++)
        for (struct lnode *n = s->subjects.buckets[i], *next; n; n = next) {
            next = n->next;
            subject_free((struct subject *)n);
        }
    for (size_t i = 0; s->queue.buckets && i <= s->queue.mask; i++)
        for (struct lnode *n = s->queue.buckets[i], *next; n; n = next) {
            next = n->next;
            qentry_free((struct qentry *)n);
        }
    for (size_t i = 0; i < s->ndeleted; i++)
        free(s->deleted_keys[i]);
    free(s->deleted_keys), free(s->deleted_lens), free(s->deleted_db);
    ltable_free(&s->subjects);
    ltable_free(&s->queue);
}

/* ---- subjects ---- */

/* The account record, NULL for subjects whose union holds something else. */
static const struct account_state *subject_acct_view(const struct subject *sub)
{
    return sub->kind == SUBJ_ACCOUNT ? sub->acct : NULL;     /* the union holds something else */
}

static uint32_t member_id(const struct ipaddr *a)
{
    uint32_t id;
    memcpy(&id, a->bytes + (a->family == ADDR_V4 ? 0 : 4), 4);
    return id;
}

/* The entry for (id, m), or where a new one goes: the end if there is room (growing the array), else
 * the entry seen longest ago. NULL without memory. */
static struct net_member *member_slot(struct subject *sub, uint32_t id, uint8_t m)
{
    struct net_members *nm = sub->members;
    int oldest = 0;
    for (int i = 0; nm && i < nm->n; i++) {
        if (nm->m[i].id == id && nm->m[i].metric == m)
            return &nm->m[i];
        if (nm->m[i].last < nm->m[oldest].last)
            oldest = i;
    }
    if (nm && nm->n == NET_MEMBERS_MAX) {
        nm->m[oldest] = (struct net_member){ id, 0, m };
        return &nm->m[oldest];
    }
    if (!nm || nm->n == nm->cap) {
        uint16_t cap = nm ? (uint16_t)(nm->cap * 2) : 4;
        if (cap > NET_MEMBERS_MAX)
            cap = NET_MEMBERS_MAX;
        struct net_members *grown = realloc(nm, sizeof *nm + cap * sizeof *nm->m);
        if (!grown)
            return NULL;
        if (!nm)
            grown->n = 0;
        grown->cap = cap;
        sub->members = nm = grown;
    }
    nm->m[nm->n] = (struct net_member){ id, 0, m };
    return &nm->m[nm->n++];
}

int net_member_add(struct subject *sub, const struct ipaddr *a, uint8_t m, uint32_t t)
{
    struct net_member *e = sub->kind == SUBJ_NET ? member_slot(sub, member_id(a), m) : NULL;
    if (!e)
        return -1;
    if (t > e->last)
        e->last = t;
    return 0;
}

uint32_t net_member_count(const struct subject *sub, uint8_t m, uint32_t t, uint32_t window)
{
    const struct net_members *nm = sub->kind == SUBJ_NET ? sub->members : NULL;
    uint32_t n = 0, minutes = (window + 59) / 60;
    for (int i = 0; nm && i < nm->n; i++)   /* in whole minutes, as subject_sum sees the counts */
        n += nm->m[i].metric == m && nm->m[i].last / 60 + minutes > t / 60;
    return n;
}

uint32_t net_members_sum(struct state *s, const struct subject *sub, uint8_t m, enum metric sum, uint32_t t,
                         uint32_t window)
{
    const struct net_members *nm = sub->kind == SUBJ_NET ? sub->members : NULL;
    uint32_t total = 0, minutes = (window + 59) / 60;
    struct ipnet net;
    if (!nm || subject_net(sub, &net) < 0)
        return 0;
    for (int i = 0; i < nm->n; i++) {
        if (nm->m[i].metric != m || nm->m[i].last / 60 + minutes <= t / 60)
            continue;
        struct ipaddr a = net.addr;     /* the network's bytes, then the member's low 32 bits */
        memcpy(a.bytes + (a.family == ADDR_V4 ? 0 : 4), &nm->m[i].id, 4);
        uint8_t key[16];
        const struct subject *member = subject_get(s, key, subject_key_ip(&a, key), 0);
        if (member)
            total += subject_sum(member, sum, t, window);
    }
    return total;
}

static struct subject *subject_find(const struct state *s, const uint8_t *key, size_t len, uint32_t h)
{
    for (struct lnode *n = ltable_first(&s->subjects, h); n; n = n->next) {
        struct subject *sub = (struct subject *)n;
        if (n->hash == h && sub->keylen == len && !memcmp(sub->key, key, len))
            return sub;
    }
    return NULL;
}

static struct subject *subject_new(const uint8_t *key, size_t len)
{
    if (len == 0 || len > UINT8_MAX)
        return NULL;
    struct subject *sub = calloc(1, sizeof *sub + len);
    if (!sub)
        return NULL;
    memcpy(sub->key, key, len);
    sub->keylen = (uint8_t)len;
    sub->kind = key[0];
    return sub;
}

/* A new subject for a key known not to be in the table. */
/* Puts sub (hash set, key not in the table yet) into the table. 0, or -1 (sub is freed). */
static int subject_link(struct state *s, struct subject *sub)
{
    if (ltable_put(&s->subjects, &sub->node) < 0) {
        subject_free(sub);
        return -1;
    }
    s->sources_by_kind[subject_kind_index(sub->kind)]++;
    return 0;
}

static struct subject *subject_insert(struct state *s, const uint8_t *key, size_t len, uint32_t h)
{
    struct subject *sub = subject_new(key, len);
    if (!sub)
        return NULL;
    sub->node.hash = h;
    sub->node.seen = s->latest;
    return subject_link(s, sub) == 0 ? sub : NULL;
}

struct subject *subject_get(struct state *s, const uint8_t *key, size_t len, int create)
{
    uint32_t h = ltable_hash(&s->subjects, key, len);
    struct subject *sub = subject_find(s, key, len, h);
    return sub || !create ? sub : subject_insert(s, key, len, h);
}

void subject_touch(struct state *s, struct subject *sub)
{
    if (s->latest > sub->node.seen)
        sub->node.seen = s->latest;
    if (sub->dirty || pvec_push(&s->dirty_subjects, sub) < 0)
        return;     /* without memory it stays clean: written when next touched */
    sub->dirty = 1;
}

/* The metric's full ring, or NULL while its counts are inline (or absent). */
static struct ring *subject_ring(const struct subject *sub, enum metric m)
{
    return sub->ring ? sub->ring[m] : NULL;
}

/* Moves the metric with the most inline entries (m on a tie) into a ring of its own. 0 or -1. */
static int promote(struct subject *sub, enum metric m)
{
    int best = m, most = sparse_count(sub->win, sub->nwin, (uint8_t)m);
    for (int k = 0; k < METRICS; k++) {
        int c = sparse_count(sub->win, sub->nwin, (uint8_t)k);
        if (c > most)
            best = k, most = c;
    }
    if (!sub->ring && !(sub->ring = calloc(METRICS, sizeof *sub->ring)))
        return -1;
    struct ring *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    if (most)
        sparse_to_ring(sub->win, &sub->nwin, (uint8_t)best, r);
    sub->ring[best] = r;
    return 0;
}

void subject_count(struct state *s, struct subject *sub, enum metric m, uint32_t t, uint32_t n)
{
    struct ring *r = subject_ring(sub, m);
    uint32_t bucket = t / metric_unit(m);
    if (r) {
        ring_add(r, bucket, n);
    } else if (sparse_add(sub->win, &sub->nwin, SUBJECT_WINDOW_INLINE, (uint8_t)m, bucket, n) < 0) {
        if (promote(sub, m) < 0)
            return;
        if ((r = subject_ring(sub, m)))
            ring_add(r, bucket, n);
        else
            sparse_add(sub->win, &sub->nwin, SUBJECT_WINDOW_INLINE, (uint8_t)m, bucket, n);
    }
    subject_touch(s, sub);
}

uint32_t subject_sum(const struct subject *sub, enum metric m, uint32_t t, uint32_t window)
{
    const struct ring *r = subject_ring(sub, m);
    uint32_t unit = metric_unit(m), buckets = (window + unit - 1) / unit;
    return r ? ring_sum(r, t / unit, buckets) : sparse_sum(sub->win, sub->nwin, (uint8_t)m, t / unit, buckets);
}

uint32_t subject_newest_minute(const struct subject *sub, enum metric m)
{
    const struct ring *r = subject_ring(sub, m);
    uint32_t newest = r ? r->last : 0;
    for (uint8_t i = 0; !r && i < sub->nwin; i++)
        if (sub->win[i].metric == m && sub->win[i].minute > newest)
            newest = sub->win[i].minute;
    return newest;
}

int subject_window_empty(const struct subject *sub, enum metric m, uint32_t t)
{
    const struct ring *r = subject_ring(sub, m);
    uint32_t bucket = t / metric_unit(m);
    return r ? ring_empty(r, bucket) : sparse_empty(sub->win, sub->nwin, (uint8_t)m, bucket);
}

/* The metric's counts as a ring (the subject's own, or one filled in tmp); NULL if it has none. */
static const struct ring *subject_ring_view(const struct subject *sub, enum metric m, struct ring *tmp)
{
    const struct ring *r = subject_ring(sub, m);
    if (r)
        return r;
    struct wentry w[SUBJECT_WINDOW_INLINE];
    uint8_t n = sub->nwin;
    memcpy(w, sub->win, sizeof w);
    return sparse_to_ring(w, &n, (uint8_t)m, tmp) == 0 ? tmp : NULL;
}

struct account_state *subject_account(struct subject *sub)
{
    if (sub->kind == SUBJ_NET || sub->kind == SUBJ_IP)
        return NULL;    /* its union holds the members, or the abnormal sessions */
    if (!sub->acct)
        sub->acct = calloc(1, sizeof *sub->acct);
    return sub->acct;
}

struct abnormal_state *subject_abnormal(struct subject *sub)
{
    if (sub->kind != SUBJ_IP)
        return NULL;
    if (!sub->abn)
        sub->abn = calloc(1, sizeof *sub->abn);
    return sub->abn;
}

struct offence *subject_offence(struct subject *sub, int k)
{
    if (!sub->offence)
        sub->offence = calloc(RULE_KINDS, sizeof *sub->offence);
    return sub->offence ? &sub->offence[k] : NULL;
}

int subject_net(const struct subject *sub, struct ipnet *net)
{
    return subject_key_to_net(sub->key, sub->keylen, net);
}

const char *subject_name(const struct subject *sub, char *buf, size_t n)
{
    return subject_key_format(sub->key, sub->keylen, buf, n);
}

/* ---- queue IDs ---- */

static struct qentry *queue_find(const struct state *s, const uint8_t *key, size_t len, uint32_t h)
{
    for (struct lnode *n = ltable_first(&s->queue, h); n; n = n->next) {
        struct qentry *q = (struct qentry *)n;
        if (n->hash == h && q->keylen == len && !memcmp(q->key, key, len))
            return q;
    }
    return NULL;
}

struct qentry *queue_get(struct state *s, const char *host, size_t hlen, const char *qid, size_t qlen, int create)
{
    uint8_t key[300];
    if (hlen > 255 || qlen > 32)
        return NULL;
    memcpy(key, host, hlen);
    key[hlen] = 0;
    memcpy(key + hlen + 1, qid, qlen);
    size_t len = hlen + 1 + qlen;
    uint32_t h = ltable_hash(&s->queue, key, len);
    struct qentry *q = queue_find(s, key, len, h);
    if (q || !create)
        return q;
    q = calloc(1, sizeof *q + len);
    if (!q)
        return NULL;
    memcpy(q->key, key, len);
    q->keylen = (uint16_t)len;
    q->node.hash = h;
    if (ltable_put(&s->queue, &q->node) < 0) {
        free(q);
        return NULL;
    }
    return q;
}

void queue_touch(struct state *s, struct qentry *q)
{
    if (s->latest > q->node.seen)
        q->node.seen = s->latest;
    if (q->dirty || pvec_push(&s->dirty_queue, q) < 0)
        return;
    q->dirty = 1;
}

/* q->domain holds the domain, then the account, each NUL-terminated. */
static int queue_set_names(struct qentry *q, const char *domain, size_t dlen, const char *account, size_t alen)
{
    if (dlen > DOMAIN_MAX || alen > DOMAIN_MAX)
        return -1;
    char *copy = malloc(dlen + alen + 2);
    if (!copy)
        return -1;
    memcpy(copy, domain, dlen);
    copy[dlen] = '\0';
    memcpy(copy + dlen + 1, account, alen);
    copy[dlen + 1 + alen] = '\0';
    free(q->domain);
    q->domain = copy;
    q->domain_len = (uint8_t)dlen;
    q->account_len = (uint8_t)alen;
    return 0;
}

int queue_set_domain(struct qentry *q, const char *domain, size_t len)
{
    if (queue_set_names(q, domain, len, q->account_len ? queue_account(q) : "", q->account_len) < 0)
        return -1;
    q->has_sender = 1;
    return 0;
}

int queue_set_account(struct qentry *q, const char *account, size_t len)
{
    return queue_set_names(q, q->domain ? q->domain : "", q->domain ? q->domain_len : 0, account, len);
}

/* ---- the records (the codec is lib/feeder_store.c's) ---- */

static size_t encode_subject(const struct subject *sub, uint8_t *buf, size_t cap)
{
    struct ring tmp[METRICS];
    struct feeder_subject_view v = { .kind = sub->kind, .offence = sub->offence, .last_unknown = sub->last_unknown,
                                     .acct = subject_acct_view(sub), .seen = sub->node.seen };
    for (int m = 0; m < METRICS; m++)
        v.ring[m] = subject_ring_view(sub, (enum metric)m, &tmp[m]);
    if (sub->kind == SUBJ_NET)
        v.members = sub->members;
    else if (sub->kind == SUBJ_IP)
        v.abn = sub->abn;
    return feeder_subject_encode(&v, buf, cap);
}

/* The (slot, count) pairs of one stored ring as inline entries, if they fit: the common case on load,
 * without building the 64 slots. 1 if done, 0 if they do not fit. */
static int decode_inline(struct subject *sub, const struct feeder_ring_rec *rr)
{
    struct wentry w[SUBJECT_WINDOW_INLINE];
    uint8_t n = 0, m = rr->metric;
    uint32_t last = rr->last;
    int at_last = 0;
    if (rr->nz > SUBJECT_WINDOW_INLINE - sub->nwin)
        return 0;
    for (int j = 0; j < rr->nz; j++) {
        uint16_t v = rr->count[j];
        uint32_t back = (last % RING_MINUTES + RING_MINUTES - rr->slot[j]) % RING_MINUTES;
        if (v && back <= last)
            w[n++] = (struct wentry){ last - back, m, 0, v };
        at_last |= v && back == 0;
    }
    if (!at_last && n == SUBJECT_WINDOW_INLINE - sub->nwin)
        return 0;   /* no room for the marker of last: a ring after all */
    if (!at_last)
        w[n++] = (struct wentry){ last, m, 0, 0 };
    memcpy(sub->win + sub->nwin, w, n * sizeof *w);
    sub->nwin = (uint8_t)(sub->nwin + n);
    return 1;
}

/* One stored ring into sub: inline if it fits, else a ring of its own. */
static int decode_ring(struct subject *sub, const struct feeder_ring_rec *rr)
{
    if (decode_inline(sub, rr))
        return 0;
    struct ring r = { .last = rr->last };
    for (int j = 0; j < rr->nz; j++)
        r.slot[rr->slot[j]] = rr->count[j];
    if (!sub->ring && !(sub->ring = calloc(METRICS, sizeof *sub->ring)))
        return -1;
    if (!(sub->ring[rr->metric] = malloc(sizeof r)))
        return -1;
    *sub->ring[rr->metric] = r;
    return 0;
}

static int decode_members(struct subject *sub, const struct feeder_subject_rec *rec)
{
    uint16_t n = rec->nmembers;
    struct net_members *nm = malloc(sizeof *nm + (n ? n : 1u) * sizeof *nm->m);
    if (!nm)
        return -1;
    nm->n = n;
    nm->cap = n ? n : 1;
    memcpy(nm->m, rec->members, n * sizeof *nm->m);
    sub->members = nm;
    return 0;
}

/* A stored record (rec, decoded) into the fresh subject sub. */
static int subject_from_record(struct subject *sub, const struct feeder_subject_rec *rec)
{
    for (int i = 0; i < rec->nrings; i++)
        if (decode_ring(sub, &rec->ring[i]) < 0)
            return -1;
    if (rec->noffences) {
        if (!subject_offence(sub, 0))
            return -1;
        memcpy(sub->offence, rec->offence, RULE_KINDS * sizeof *sub->offence);
    }
    sub->last_unknown = rec->last_unknown;
    struct account_state *a = rec->extra == FEEDER_EXTRA_ACCOUNT ? subject_account(sub) : NULL;
    struct abnormal_state *ab = rec->extra == FEEDER_EXTRA_ABNORMAL ? subject_abnormal(sub) : NULL;
    if ((rec->extra == FEEDER_EXTRA_ACCOUNT && !a) || (rec->extra == FEEDER_EXTRA_ABNORMAL && !ab) ||
        (rec->extra == FEEDER_EXTRA_MEMBERS && decode_members(sub, rec) < 0))
        return -1;
    if (a)
        *a = rec->acct;
    if (ab)
        *ab = rec->abn;
    sub->node.seen = rec->seen;
    return 0;
}

static size_t encode_qentry(const struct qentry *q, uint8_t *buf, size_t cap)
{
    struct feeder_queue_rec r = {
        .flags = (uint8_t)(q->has_ip * FEEDER_Q_HAS_IP | q->null_sender * FEEDER_Q_NULL_SENDER |
                           q->has_sender * FEEDER_Q_HAS_SENDER | q->counted * FEEDER_Q_COUNTED |
                           (q->account_len > 0) * FEEDER_Q_ACCOUNT | q->submitted * FEEDER_Q_SUBMITTED |
                           q->ndr_unjoined * FEEDER_Q_NDR_UNJOINED),
        .ip = q->ip, .seen = q->node.seen, .removed = q->removed,
        .domain = q->domain, .domain_len = q->domain_len,
        .account = q->account_len ? queue_account(q) : NULL, .account_len = q->account_len, .nrcpt = q->nrcpt,
    };
    return feeder_queue_encode(&r, buf, cap);
}

static int decode_qentry(struct qentry *q, const uint8_t *val, size_t len)
{
    struct feeder_queue_rec r;
    if (feeder_queue_decode(val, len, &r) < 0)
        return -1;
    q->has_ip = (r.flags & FEEDER_Q_HAS_IP) != 0;
    q->null_sender = (r.flags & FEEDER_Q_NULL_SENDER) != 0;
    q->counted = (r.flags & FEEDER_Q_COUNTED) != 0;
    q->ndr_unjoined = (r.flags & FEEDER_Q_NDR_UNJOINED) != 0;
    q->ip = r.ip;
    q->node.seen = r.seen;
    q->removed = r.removed;
    if ((r.flags & FEEDER_Q_HAS_SENDER) && queue_set_domain(q, r.domain, r.domain_len) < 0)
        return -1;
    if (r.flags & FEEDER_Q_ACCOUNT) {
        if (queue_set_account(q, r.account, r.account_len) < 0)
            return -1;
        q->nrcpt = r.nrcpt;
        q->submitted = (r.flags & FEEDER_Q_SUBMITTED) != 0;
    }
    return 0;
}

/* ---- load and save ---- */

#define RELEASE_EVERY 65536     /* records read or written between two release_map() */

/* LMDB reads its pages through a shared map of the file, and every page it reads stays in the
 * feeder's resident set although the page cache holds it anyway: loading 2M sources kept the whole
 * file (150 MB) resident on top of the heap. The store is opened without MDB_WRITEMAP, so the map is
 * read-only and its pages are clean: dropping them loses nothing, and a page needed again costs a
 * minor fault. LMDB does not tell where its map is (me_mapaddr is only set with MDB_FIXEDMAP): it is
 * the file mapping in /proc/self/maps that holds a value LMDB returned. */
static void locate_map(struct state *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = -1;
    for (int i = 0; i < 2 && rc && !s->map_len; i++) {     /* a record of either database will do */
        if (mdb_cursor_open(txn, i ? s->queue_dbi : s->subjects_dbi, &c))
            return;
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        mdb_cursor_close(c);
    }
    FILE *maps = rc == 0 ? fopen("/proc/self/maps", "r") : NULL;
    if (!maps)
        return;
    char line[512];
    uintptr_t p = (uintptr_t)v.mv_data;
    unsigned long long from, to, inode;
    while (fgets(line, sizeof line, maps))
        if (sscanf(line, "%llx-%llx %*s %*s %*s %llu", &from, &to, &inode) == 3 && p >= from && p < to) {
            if (inode && strstr(line, "data.mdb")) {   /* not a page LMDB copied to the heap */
                s->map_addr = (void *)(uintptr_t)from;
                s->map_len = (size_t)(to - from);
            }
            break;
        }
    fclose(maps);
}

static void release_map(struct state *s, MDB_txn *txn)
{
    locate_map(s, txn);
    if (s->map_len)
        madvise(s->map_addr, s->map_len, MADV_DONTNEED);
}

static int open_dbi(MDB_txn *txn, const char *name, MDB_dbi *dbi, char *err, size_t errlen)
{
    int rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
    if (rc)
        snprintf(err, errlen, "%s: %s", name, mdb_strerror(rc));
    return rc ? -1 : 0;
}

/* Buckets for all the records at once: loading never rehashes. */
static int presize(struct ltable *t, MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st) != 0 || st.ms_entries <= t->mask)
        return 0;
    struct hash_key key = t->key;
    ltable_free(t);
    return ltable_init(t, st.ms_entries, &key);
}

#define LOAD_BATCH 16

/* Links a batch of decoded subjects whose buckets were prefetched while they were decoded: a load is
 * otherwise one cache miss per bucket, a third of its time. */
static int link_batch(struct state *s, struct subject **batch, int n)
{
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (subject_link(s, batch[i]) < 0)
            rc = -1;
    return rc;
}

static int load_subjects(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    struct subject *batch[LOAD_BATCH];
    int nbatch = 0, bad = 0;
    struct feeder_subject_rec *rec = malloc(sizeof *rec);     /* a few kB: one for the whole load */
    if (!rec || presize(&s->subjects, txn, s->subjects_dbi) < 0 || mdb_cursor_open(txn, s->subjects_dbi, &c)) {
        free(rec);
        return -1;
    }
    int rc;
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && !bad; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (++n % RELEASE_EVERY == 0)
            release_map(s, txn);
        struct subject *sub = subject_new(k.mv_data, k.mv_size);
        if (!sub || feeder_subject_decode(sub->kind, v.mv_data, v.mv_size, rec) < 0 ||
            subject_from_record(sub, rec) < 0) {
            if (sub)
                subject_free(sub);
            bad = 1;
            break;
        }
        sub->stored = 1;
        sub->node.hash = ltable_hash(&s->subjects, k.mv_data, k.mv_size);  /* LMDB keys are unique: no lookup */
        ltable_prefetch(&s->subjects, sub->node.hash);
        batch[nbatch++] = sub;
        if (nbatch == LOAD_BATCH) {
            bad = link_batch(s, batch, nbatch) < 0;
            nbatch = 0;
        }
    }
    mdb_cursor_close(c);
    free(rec);
    if (link_batch(s, batch, nbatch) < 0 || bad) {
        snprintf(err, errlen, "feeder:subjects: a damaged record, or no memory (run with a fresh --db or delete it)");
        return -1;
    }
    return rc == MDB_NOTFOUND ? 0 : -1;
}

static int load_queue(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (presize(&s->queue, txn, s->queue_dbi) < 0 || mdb_cursor_open(txn, s->queue_dbi, &c))
        return -1;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *key = k.mv_data, *nul = memchr(key, 0, k.mv_size);
        if (!nul)
            continue;
        struct qentry *q = queue_get(s, key, (size_t)(nul - key), nul + 1, k.mv_size - (size_t)(nul - key) - 1, 1);
        if (!q || decode_qentry(q, v.mv_data, v.mv_size) < 0) {
            snprintf(err, errlen, "feeder:queue: a damaged record");
            mdb_cursor_close(c);
            return -1;
        }
        q->stored = 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : -1;
}

/* The tables' hash secret: the store's, or a new random one written into it (the tables are empty
 * yet). Kept in the store so that a restarted feeder evicts exactly as one that ran on; in host order,
 * as the other meta values (read only by the feeder that wrote them). */
static int load_hash_key(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = { strlen(FEEDER_META_HASH_KEY), FEEDER_META_HASH_KEY }, v;
    struct hash_key key;
    int rc = mdb_get(txn, s->meta_dbi, &k, &v);
    if (rc == 0 && v.mv_size == sizeof key) {
        memcpy(&key, v.mv_data, sizeof key);
    } else {
        hash_key_random(&key);
        v = (MDB_val){ sizeof key, &key };
        if ((rc = mdb_put(txn, s->meta_dbi, &k, &v, 0)) != 0) {
            snprintf(err, errlen, "%s: %s", FEEDER_DB_META, mdb_strerror(rc));
            return -1;
        }
    }
    s->subjects.key = s->queue.key = key;
    return 0;
}

/* A store written by a newer feeder is refused rather than misread. */
static int check_format(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = { strlen(FEEDER_META_FORMAT), FEEDER_META_FORMAT }, v;
    uint32_t format = 0;
    if (mdb_get(txn, s->meta_dbi, &k, &v) == 0 && v.mv_size == 4)
        memcpy(&format, v.mv_data, 4);
    if (format <= FEEDER_STATE_FORMAT)
        return 0;
    snprintf(err, errlen, "state: the store holds feeder state format %u, this feeder reads up to %u: "
             "use the newer feeder, or a fresh --db", format, FEEDER_STATE_FORMAT);
    return -1;
}

int state_load(struct state *s, MDB_env *env, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc) {
        snprintf(err, errlen, "state: %s", mdb_strerror(rc));
        return -1;
    }
    if (open_dbi(txn, FEEDER_DB_SUBJECTS, &s->subjects_dbi, err, errlen) < 0 ||
        open_dbi(txn, FEEDER_DB_QUEUE, &s->queue_dbi, err, errlen) < 0 ||
        open_dbi(txn, FEEDER_DB_META, &s->meta_dbi, err, errlen) < 0 || check_format(s, txn, err, errlen) < 0 ||
        load_hash_key(s, txn, err, errlen) < 0 || load_subjects(s, txn, err, errlen) < 0 || load_queue(s, txn, err, errlen) < 0) {
        mdb_txn_abort(txn);
        if (!*err)
            snprintf(err, errlen, "state: cannot read");
        return -1;
    }
    release_map(s, txn);
    MDB_val k = { strlen(FEEDER_META_SWEEP), FEEDER_META_SWEEP }, v, lk = { strlen(FEEDER_META_LATEST), FEEDER_META_LATEST };
    if (mdb_get(txn, s->meta_dbi, &k, &v) == 0 && v.mv_size == 4)
        memcpy(&s->last_sweep, v.mv_data, 4);
    if (mdb_get(txn, s->meta_dbi, &lk, &v) == 0 && v.mv_size == 4)
        memcpy(&s->latest, v.mv_data, 4);   /* the clock of last-seen times goes on where it was */
    rc = mdb_txn_commit(txn);
    if (rc) {
        snprintf(err, errlen, "state: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

static int save_subjects(struct state *s, MDB_txn *txn, uint8_t *buf, size_t cap, int rc)
{
    for (size_t i = 0; i < s->dirty_subjects.n; i++) {
        struct subject *sub = s->dirty_subjects.p[i];
        if (sub->dead) {
            subject_free(sub);
            continue;
        }
        size_t len = encode_subject(sub, buf, cap);
        MDB_val k = { sub->keylen, sub->key }, v = { len, buf };
        if (!rc && len)
            rc = mdb_put(txn, s->subjects_dbi, &k, &v, 0);
        sub->dirty = 0;
        sub->stored = 1;
    }
    pvec_reset(&s->dirty_subjects);
    return rc;
}

static int save_queue(struct state *s, MDB_txn *txn, uint8_t *buf, size_t cap, int rc)
{
    for (size_t i = 0; i < s->dirty_queue.n; i++) {
        struct qentry *q = s->dirty_queue.p[i];
        if (q->dead) {
            qentry_free(q);
            continue;
        }
        size_t len = encode_qentry(q, buf, cap);
        MDB_val k = { q->keylen, q->key }, v = { len, buf };
        if (!rc && len)
            rc = mdb_put(txn, s->queue_dbi, &k, &v, 0);
        q->dirty = 0;
        q->stored = 1;
    }
    pvec_reset(&s->dirty_queue);
    return rc;
}

int state_save(struct state *s, MDB_txn *txn)
{
    uint8_t buf[FEEDER_SUBJECT_VALUE_MAX];
    int rc = 0;
    state_limit(s);     /* what is stored never exceeds the caps either */
    s->map_writes += s->ndeleted + s->dirty_subjects.n + s->dirty_queue.n;
    if (s->map_writes >= RELEASE_EVERY) {     /* before this save dirties the subjects' pages */
        release_map(s, txn);
        s->map_writes = 0;
    }
    /* deletions first: a swept key may have been created again since, and that one must stay */
    for (size_t i = 0; i < s->ndeleted; i++) {
        MDB_val k = { s->deleted_lens[i], s->deleted_keys[i] };
        int d = mdb_del(txn, s->deleted_db[i] == 's' ? s->subjects_dbi : s->queue_dbi, &k, NULL);
        if (!rc && d && d != MDB_NOTFOUND)
            rc = d;
        free(s->deleted_keys[i]);
    }
    s->ndeleted = 0;
    rc = save_subjects(s, txn, buf, sizeof buf, rc);
    rc = save_queue(s, txn, buf, sizeof buf, rc);
    uint32_t format = FEEDER_STATE_FORMAT;
    MDB_val k = { strlen(FEEDER_META_SWEEP), FEEDER_META_SWEEP }, v = { 4, &s->last_sweep };
    MDB_val fk = { strlen(FEEDER_META_FORMAT), FEEDER_META_FORMAT }, fv = { 4, &format };
    MDB_val lk = { strlen(FEEDER_META_LATEST), FEEDER_META_LATEST }, lv = { 4, &s->latest };
    if (!rc)
        rc = mdb_put(txn, s->meta_dbi, &k, &v, 0);
    if (!rc)
        rc = mdb_put(txn, s->meta_dbi, &lk, &lv, 0);
    if (!rc)
        rc = mdb_put(txn, s->meta_dbi, &fk, &fv, 0);
    return rc;
}

/* ---- sweeping and eviction ---- */

static void remember_deletion(struct state *s, char db, const uint8_t *key, size_t len)
{
    if (s->ndeleted == s->deleted_cap) {
        size_t cap = s->deleted_cap ? s->deleted_cap * 2 : 256;
        uint8_t **k = realloc(s->deleted_keys, cap * sizeof *k);
        if (k)
            s->deleted_keys = k;
        size_t *l = realloc(s->deleted_lens, cap * sizeof *l);
        if (l)
            s->deleted_lens = l;
        uint8_t *d = realloc(s->deleted_db, cap);
        if (d)
            s->deleted_db = d;
        if (!k || !l || !d)
            return;     /* the record stays stored; it is pruned again next time */
        s->deleted_cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, key, len);
    s->deleted_keys[s->ndeleted] = copy;
    s->deleted_lens[s->ndeleted] = len;
    s->deleted_db[s->ndeleted++] = (uint8_t)db;
}

static int subject_stale(const struct subject *sub, uint32_t t, uint32_t repeat_memory, uint32_t login_window)
{
    for (int m = 0; m < METRICS; m++)
        if (!subject_window_empty(sub, (enum metric)m, t))
            return 0;
    for (int k = 0; sub->offence && k < RULE_KINDS; k++)
        if (sub->offence[k].count && sub->offence[k].until + repeat_memory > t)
            return 0;
    const struct account_state *a = subject_acct_view(sub);
    if (a && a->nlogin && a->login[a->nlogin - 1].time + login_window > t)
        return 0;
    for (int i = 0; a && i < a->nfail; i++)
        if (a->fail[i].last + 3600 > t)
            return 0;
    return 1;
}

/* Takes sub out of memory and, if stored, out of the store. */
static void subject_drop(struct state *s, struct subject *sub)
{
    if (sub->stored)
        remember_deletion(s, 's', sub->key, sub->keylen);
    ltable_del(&s->subjects, &sub->node);
    s->sources_by_kind[subject_kind_index(sub->kind)]--;
    if (sub->dirty)
        sub->dead = 1;  /* still in the dirty vector: state_save frees it */
    else
        subject_free(sub);
}

static void queue_drop(struct state *s, struct qentry *q)
{
    if (q->stored)
        remember_deletion(s, 'q', q->key, q->keylen);
    ltable_del(&s->queue, &q->node);
    if (q->dirty)
        q->dead = 1;
    else
        qentry_free(q);
}

void state_sweep(struct state *s, uint32_t t, uint32_t repeat_memory, uint32_t login_window)
{
    s->last_sweep = t;
    for (size_t i = 0; i <= s->subjects.mask; i++) {
        for (struct lnode *n = s->subjects.buckets[i], *next; n; n = next) {
            next = n->next;
            struct subject *sub = (struct subject *)n;
            if (subject_stale(sub, t, repeat_memory, login_window))
                subject_drop(s, sub);
        }
    }
    for (size_t i = 0; i <= s->queue.mask; i++) {
        for (struct lnode *n = s->queue.buckets[i], *next; n; n = next) {
            next = n->next;
            struct qentry *q = (struct qentry *)n;
            if (q->removed && q->removed + QUEUE_GRACE < t) {
                queue_drop(s, q);
            } else if (!q->removed && q->node.seen + s->queue_idle < t) {
                queue_drop(s, q);   /* its `removed` never came (lost lines, a host that stopped logging) */
                s->stats.expired_queue++;
            }
        }
    }
}

/* Drops the least recently seen entries of t until it holds at most 7/8 of max; returns how many. */
static uint64_t evict(struct state *s, struct ltable *t, size_t max, void (*drop)(struct state *, struct lnode *))
{
    if (!max || t->count <= max)
        return 0;
    size_t keep = max - max / 8, need = t->count - keep, before = t->count;
    struct lcut cut;
    if (ltable_cut(t, need, &cut) < 0)
        return 0;       /* no memory for the histogram now: tried again at the next call */
    for (size_t i = 0; i <= t->mask; i++)
        for (struct lnode *n = t->buckets[i], *next; n; n = next) {
            next = n->next;
            if (ltable_below(n, &cut))
                drop(s, n);
        }
    return before - t->count;
}

static void drop_subject_node(struct state *s, struct lnode *n) { subject_drop(s, (struct subject *)n); }
static void drop_queue_node(struct state *s, struct lnode *n) { queue_drop(s, (struct qentry *)n); }

void state_limit(struct state *s)
{
    s->stats.evicted_sources += evict(s, &s->subjects, s->max_sources, drop_subject_node);
    s->stats.evicted_queue += evict(s, &s->queue, s->max_queue, drop_queue_node);
}

/* ---- dump ---- */

static void dump_subject(FILE *out, const uint8_t *key, size_t klen, struct subject *sub)
{
    static const char *const metric_names[METRICS] = { "rcpt", "unknown", "ndr_in", "ndr_out", "auth_fail", "msgs",
                                                       "abnormal", "unknown_slow", "rcpt_slow", "auth_fail_slow" };
    char name[300];
    fprintf(out, "%c %s", key[0], subject_name(sub, name, sizeof name));
    for (int m = 0; m < METRICS; m++) {
        struct ring tmp;
        const struct ring *r = subject_ring_view(sub, (enum metric)m, &tmp);
        if (!r)
            continue;
        fprintf(out, " %s@%u:", metric_names[m], r->last);
        for (uint32_t i = 0; i < RING_MINUTES; i++) {
            uint32_t minute = r->last - i;
            if (r->slot[minute % RING_MINUTES])
                fprintf(out, "%s%u=%u", i ? "," : "", minute, r->slot[minute % RING_MINUTES]);
        }
    }
    (void)klen;
    for (int k = 0; sub->offence && k < RULE_KINDS; k++)
        if (sub->offence[k].count)
            fprintf(out, " offence:%s=%u/%u/%u", rule_kind_name(k), sub->offence[k].count, sub->offence[k].until,
                    sub->offence[k].last);
    if (sub->last_unknown)
        fprintf(out, " last_unknown:%u", sub->last_unknown);
    for (int i = 0; sub->kind == SUBJ_NET && sub->members && i < sub->members->n; i++)
        fprintf(out, " member:%08x/%u@%u", sub->members->m[i].id, sub->members->m[i].metric, sub->members->m[i].last);
    const struct abnormal_state *ab = sub->kind == SUBJ_IP ? sub->abn : NULL;
    for (int k = 0; ab && k < AB_KINDS; k++)
        if (ab->sessions[k])
            fprintf(out, " abnormal:%d=%u", k, ab->sessions[k]);
    if (ab)
        fprintf(out, " hold:%u connect:%u pending:%u/%u@%u", ab->max_hold, ab->connect, ab->pending,
                ab->pending_kind, ab->signal);
    for (int i = 0; ab && i < ab->nps; i++)
        fprintf(out, " ps:%u/%u/%u@%u", ab->ps[i].port, ab->ps[i].kind, ab->ps[i].hold, ab->ps[i].time);
    if (subject_acct_view(sub)) {
        char ip[64];
        for (int i = 0; i < sub->acct->nfail; i++)
            fprintf(out, " fail:%s@%u", addr_format(&sub->acct->fail[i].ip, ip, sizeof ip), sub->acct->fail[i].last);
        for (int i = 0; i < sub->acct->nlogin; i++)
            fprintf(out, " login:%s/%.2s@%u", addr_format(&sub->acct->login[i].ip, ip, sizeof ip),
                    sub->acct->login[i].cc, sub->acct->login[i].time);
    }
    fprintf(out, " seen:%u\n", sub->node.seen);
}

int state_dump(MDB_env *env, FILE *out, char *err, size_t errlen)
{
    struct state s;
    if (state_init(&s) < 0 || state_load(&s, env, err, errlen) < 0) {
        state_free(&s);
        return -1;
    }
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, s.subjects_dbi, &c)) == 0) {
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            dump_subject(out, k.mv_data, k.mv_size, subject_get(&s, k.mv_data, k.mv_size, 0));
        mdb_cursor_close(c);
    }
    if (rc == MDB_NOTFOUND && (rc = mdb_cursor_open(txn, s.queue_dbi, &c)) == 0) {
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            const char *key = k.mv_data, *nul = memchr(key, 0, k.mv_size);
            struct qentry *q = nul ? queue_get(&s, key, (size_t)(nul - key), nul + 1,
                                               k.mv_size - (size_t)(nul - key) - 1, 0) : NULL;
            char ip[64];
            if (q)
                fprintf(out, "q %.*s %.*s %s%s seen=%u removed=%u\n", (int)(nul - key), key,
                        (int)(k.mv_size - (size_t)(nul - key) - 1), nul + 1,
                        q->has_ip ? addr_format(&q->ip, ip, sizeof ip) : "-",
                        q->null_sender ? " <>" : "", q->node.seen, q->removed);
        }
        mdb_cursor_close(c);
    }
    if (txn)
        mdb_txn_abort(txn);
    state_free(&s);
    if (rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "dump: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}
