/* state.c - see state.h. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_VALUE_MAX 4096
#define QUEUE_GRACE 300             /* keep a removed queue ID this long: bounce may log after qmgr */
#define QUEUE_MAX_AGE 86400

int state_init(struct state *s)
{
    memset(s, 0, sizeof *s);
    return table_init(&s->subjects, 4096) < 0 || table_init(&s->queue, 4096) < 0 ? -1 : 0;
}

static void subject_free(struct subject *sub)
{
    for (int m = 0; m < METRICS; m++)
        free(sub->ring[m]);
    free(sub->acct);
    free(sub);
}

void state_free(struct state *s)
{
    for (struct subject *sub = s->dirty_subjects, *next; sub; sub = next) {
        next = sub->dirty_next;
        if (sub->dead)
            subject_free(sub);
    }
    for (struct qentry *q = s->dirty_queue, *next; q; q = next) {
        next = q->dirty_next;
        if (q->dead)
            free(q);
    }
    for (size_t i = 0; s->subjects.buckets && i <= s->subjects.mask; i++)
        for (struct hnode *n = s->subjects.buckets[i], *next; n; n = next) {
            next = n->next;
            subject_free((struct subject *)n);
        }
    for (size_t i = 0; s->queue.buckets && i <= s->queue.mask; i++)
        for (struct hnode *n = s->queue.buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    for (size_t i = 0; i < s->ndeleted; i++)
        free(s->deleted_keys[i]);
    free(s->deleted_keys), free(s->deleted_lens), free(s->deleted_db);
    table_free(&s->subjects);
    table_free(&s->queue);
}

/* ---- subjects ---- */

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

struct subject *subject_get(struct state *s, const uint8_t *key, size_t len, int create)
{
    uint64_t h = table_hash(key, len);
    struct subject *sub = (struct subject *)table_get(&s->subjects, key, len, h);
    if (sub || !create)
        return sub;
    sub = calloc(1, sizeof *sub + len);
    if (!sub)
        return NULL;
    memcpy(sub->key, key, len);
    sub->keylen = (uint16_t)len;
    sub->kind = key[0];
    sub->node.hash = h;
    sub->node.key = sub->key;
    sub->node.keylen = len;
    if (table_put(&s->subjects, &sub->node) < 0) {
        free(sub);
        return NULL;
    }
    return sub;
}

void subject_touch(struct state *s, struct subject *sub)
{
    if (sub->dirty)
        return;
    sub->dirty = 1;
    sub->dirty_next = s->dirty_subjects;
    s->dirty_subjects = sub;
}

void subject_count(struct state *s, struct subject *sub, enum metric m, uint32_t t, uint32_t n)
{
    if (!sub->ring[m] && !(sub->ring[m] = calloc(1, sizeof *sub->ring[m])))
        return;
    ring_add(sub->ring[m], t / 60, n);
    subject_touch(s, sub);
}

uint32_t subject_sum(const struct subject *sub, enum metric m, uint32_t t, uint32_t window)
{
    return ring_sum(sub->ring[m], t / 60, (window + 59) / 60);
}

struct account_state *subject_account(struct subject *sub)
{
    if (!sub->acct)
        sub->acct = calloc(1, sizeof *sub->acct);
    return sub->acct;
}

int subject_net(const struct subject *sub, struct ipnet *net)
{
    if (sub->kind != SUBJ_IP)
        return -1;
    memset(net, 0, sizeof *net);
    if (sub->keylen == 5) {
        net->addr.family = ADDR_V4;
        memcpy(net->addr.bytes, sub->key + 1, 4);
        net->plen = 32;
    } else {
        net->addr.family = ADDR_V6;
        memcpy(net->addr.bytes, sub->key + 1, 8);
        net->plen = 64;
    }
    return 0;
}

const char *subject_name(const struct subject *sub, char *buf, size_t n)
{
    struct ipnet net;
    if (subject_net(sub, &net) == 0)
        return net_format(&net, buf, n);
    snprintf(buf, n, "%.*s", (int)sub->keylen - 1, (const char *)sub->key + 1);
    return buf;
}

/* ---- queue IDs ---- */

struct qentry *queue_get(struct state *s, const char *host, size_t hlen, const char *qid, size_t qlen, int create)
{
    uint8_t key[300];
    if (hlen > 255 || qlen > 32)
        return NULL;
    memcpy(key, host, hlen);
    key[hlen] = 0;
    memcpy(key + hlen + 1, qid, qlen);
    size_t len = hlen + 1 + qlen;
    uint64_t h = table_hash(key, len);
    struct qentry *q = (struct qentry *)table_get(&s->queue, key, len, h);
    if (q || !create)
        return q;
    q = calloc(1, sizeof *q + len);
    if (!q)
        return NULL;
    memcpy(q->key, key, len);
    q->keylen = (uint16_t)len;
    q->node.hash = h;
    q->node.key = q->key;
    q->node.keylen = len;
    if (table_put(&s->queue, &q->node) < 0) {
        free(q);
        return NULL;
    }
    return q;
}

void queue_touch(struct state *s, struct qentry *q)
{
    if (q->dirty)
        return;
    q->dirty = 1;
    q->dirty_next = s->dirty_queue;
    s->dirty_queue = q;
}

/* ---- encoding ---- */

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
static void put32(struct buf *b, uint32_t v) { put(b, &v, 4); }
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
static uint32_t get32(struct buf *b) { uint32_t v; get(b, &v, 4); return v; }
static void get_ip(struct buf *b, struct ipaddr *a) { a->family = get8(b); get(b, a->bytes, 16); }

/* version 2; rings: metric, last, then (slot, count) for non-zero slots; offences (rule, until, count,
 * last); account state; the last unknown RCPT. Version 1 (no offence last, no last unknown) still reads. */
static void encode_subject(const struct subject *sub, struct buf *b)
{
    put8(b, 2);
    uint8_t nrings = 0, noff = 0;
    for (int m = 0; m < METRICS; m++)
        nrings += sub->ring[m] != NULL;
    put8(b, nrings);
    for (int m = 0; m < METRICS; m++) {
        const struct ring *r = sub->ring[m];
        if (!r)
            continue;
        uint8_t nz = 0;
        for (int i = 0; i < RING_MINUTES; i++)
            nz += r->slot[i] != 0;
        put8(b, (uint8_t)m);
        put32(b, r->last);
        put8(b, nz);
        for (int i = 0; i < RING_MINUTES; i++) {
            if (!r->slot[i])
                continue;
            put8(b, (uint8_t)i);
            put(b, &r->slot[i], 2);
        }
    }
    for (int k = 0; k < RULE_KINDS; k++)
        noff += sub->offence[k].count != 0;
    put8(b, noff);
    for (int k = 0; k < RULE_KINDS; k++) {
        if (!sub->offence[k].count)
            continue;
        put8(b, (uint8_t)k);
        put32(b, sub->offence[k].until);
        put32(b, sub->offence[k].count);
        put32(b, sub->offence[k].last);
    }
    const struct account_state *a = sub->acct;
    put32(b, sub->last_unknown);
    put8(b, a != NULL);
    if (!a)
        return;
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

static int decode_subject(struct subject *sub, struct buf *b)
{
    uint8_t version = get8(b);
    if (version != 1 && version != 2)
        return -1;
    uint8_t nrings = get8(b);
    for (int i = 0; i < nrings && !b->bad; i++) {
        uint8_t m = get8(b);
        if (m >= METRICS || sub->ring[m] || !(sub->ring[m] = calloc(1, sizeof(struct ring))))
            return -1;
        sub->ring[m]->last = get32(b);
        uint8_t nz = get8(b);
        for (int j = 0; j < nz && !b->bad; j++) {
            uint8_t slot = get8(b);
            uint16_t v;
            get(b, &v, 2);
            if (slot >= RING_MINUTES)
                return -1;
            sub->ring[m]->slot[slot] = v;
        }
    }
    uint8_t noff = get8(b);
    for (int i = 0; i < noff && !b->bad; i++) {
        uint8_t k = get8(b);
        if (k >= RULE_KINDS)
            return -1;
        sub->offence[k].until = get32(b);
        sub->offence[k].count = get32(b);
        sub->offence[k].last = version >= 2 ? get32(b) : sub->offence[k].until;
    }
    if (version >= 2)
        sub->last_unknown = get32(b);
    if (get8(b)) {
        struct account_state *a = subject_account(sub);
        if (!a)
            return -1;
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
    }
    return b->bad || b->len != b->cap ? -1 : 0;
}

static void encode_qentry(const struct qentry *q, struct buf *b)
{
    put8(b, (uint8_t)(q->has_ip | q->null_sender << 1 | q->has_sender << 2 | q->counted << 3));
    put_ip(b, &q->ip);
    put32(b, q->seen);
    put32(b, q->removed);
    put8(b, q->domain_len);
    put(b, q->domain, q->domain_len);
}

static int decode_qentry(struct qentry *q, struct buf *b)
{
    uint8_t flags = get8(b);
    q->has_ip = flags & 1;
    q->null_sender = (flags >> 1) & 1;
    q->has_sender = (flags >> 2) & 1;
    q->counted = (flags >> 3) & 1;
    get_ip(b, &q->ip);
    q->seen = get32(b);
    q->removed = get32(b);
    q->domain_len = get8(b);
    if (q->domain_len > DOMAIN_MAX)
        return -1;
    get(b, q->domain, q->domain_len);
    q->domain[q->domain_len] = '\0';
    return b->bad || b->len != b->cap ? -1 : 0;
}

/* ---- load and save ---- */

static int open_dbi(MDB_txn *txn, const char *name, MDB_dbi *dbi, char *err, size_t errlen)
{
    int rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
    if (rc)
        snprintf(err, errlen, "%s: %s", name, mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int load_subjects(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, s->subjects_dbi, &c))
        return -1;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct subject *sub = subject_get(s, k.mv_data, k.mv_size, 1);
        struct buf b = { v.mv_data, 0, v.mv_size, 0 };
        if (!sub || decode_subject(sub, &b) < 0) {
            snprintf(err, errlen, "feeder:subjects: a damaged record (run with a fresh --db or delete it)");
            mdb_cursor_close(c);
            return -1;
        }
        sub->stored = 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : -1;
}

static int load_queue(struct state *s, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, s->queue_dbi, &c))
        return -1;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *key = k.mv_data, *nul = memchr(key, 0, k.mv_size);
        if (!nul)
            continue;
        struct qentry *q = queue_get(s, key, (size_t)(nul - key), nul + 1, k.mv_size - (size_t)(nul - key) - 1, 1);
        struct buf b = { v.mv_data, 0, v.mv_size, 0 };
        if (!q || decode_qentry(q, &b) < 0) {
            snprintf(err, errlen, "feeder:queue: a damaged record");
            mdb_cursor_close(c);
            return -1;
        }
        q->stored = 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : -1;
}

int state_load(struct state *s, MDB_env *env, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc) {
        snprintf(err, errlen, "state: %s", mdb_strerror(rc));
        return -1;
    }
    if (open_dbi(txn, "feeder:subjects", &s->subjects_dbi, err, errlen) < 0 ||
        open_dbi(txn, "feeder:queue", &s->queue_dbi, err, errlen) < 0 ||
        open_dbi(txn, "feeder:meta", &s->meta_dbi, err, errlen) < 0 ||
        load_subjects(s, txn, err, errlen) < 0 || load_queue(s, txn, err, errlen) < 0) {
        mdb_txn_abort(txn);
        if (!*err)
            snprintf(err, errlen, "state: cannot read");
        return -1;
    }
    MDB_val k = { 5, "sweep" }, v;
    if (mdb_get(txn, s->meta_dbi, &k, &v) == 0 && v.mv_size == 4)
        memcpy(&s->last_sweep, v.mv_data, 4);
    rc = mdb_txn_commit(txn);
    if (rc) {
        snprintf(err, errlen, "state: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

int state_save(struct state *s, MDB_txn *txn)
{
    uint8_t buf[SUBJECT_VALUE_MAX];
    int rc = 0;
    /* deletions first: a swept key may have been created again since, and that one must stay */
    for (size_t i = 0; i < s->ndeleted; i++) {
        MDB_val k = { s->deleted_lens[i], s->deleted_keys[i] };
        int d = mdb_del(txn, s->deleted_db[i] == 's' ? s->subjects_dbi : s->queue_dbi, &k, NULL);
        if (!rc && d && d != MDB_NOTFOUND)
            rc = d;
        free(s->deleted_keys[i]);
    }
    s->ndeleted = 0;
    for (struct subject *sub = s->dirty_subjects, *next; sub; sub = next) {
        next = sub->dirty_next;
        if (sub->dead) {
            subject_free(sub);
            continue;
        }
        struct buf b = { buf, 0, sizeof buf, 0 };
        encode_subject(sub, &b);
        MDB_val k = { sub->keylen, sub->key }, v = { b.len, buf };
        if (!rc && !b.bad)
            rc = mdb_put(txn, s->subjects_dbi, &k, &v, 0);
        sub->dirty = 0;
        sub->stored = 1;
        sub->dirty_next = NULL;
    }
    s->dirty_subjects = NULL;
    for (struct qentry *q = s->dirty_queue, *next; q; q = next) {
        next = q->dirty_next;
        if (q->dead) {
            free(q);
            continue;
        }
        struct buf b = { buf, 0, sizeof buf, 0 };
        encode_qentry(q, &b);
        MDB_val k = { q->keylen, q->key }, v = { b.len, buf };
        if (!rc)
            rc = mdb_put(txn, s->queue_dbi, &k, &v, 0);
        q->dirty = 0;
        q->stored = 1;
        q->dirty_next = NULL;
    }
    s->dirty_queue = NULL;
    MDB_val k = { 5, "sweep" }, v = { 4, &s->last_sweep };
    if (!rc)
        rc = mdb_put(txn, s->meta_dbi, &k, &v, 0);
    return rc;
}

/* ---- sweeping ---- */

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
        if (!ring_empty(sub->ring[m], t / 60))
            return 0;
    for (int k = 0; k < RULE_KINDS; k++)
        if (sub->offence[k].count && sub->offence[k].until + repeat_memory > t)
            return 0;
    const struct account_state *a = sub->acct;
    if (a && a->nlogin && a->login[a->nlogin - 1].time + login_window > t)
        return 0;
    for (int i = 0; a && i < a->nfail; i++)
        if (a->fail[i].last + 3600 > t)
            return 0;
    return 1;
}

void state_sweep(struct state *s, uint32_t t, uint32_t repeat_memory, uint32_t login_window)
{
    s->last_sweep = t;
    for (size_t i = 0; i <= s->subjects.mask; i++) {
        for (struct hnode *n = s->subjects.buckets[i], *next; n; n = next) {
            next = n->next;
            struct subject *sub = (struct subject *)n;
            if (!subject_stale(sub, t, repeat_memory, login_window))
                continue;
            if (sub->stored)
                remember_deletion(s, 's', sub->key, sub->keylen);
            table_del(&s->subjects, n);
            if (sub->dirty)
                sub->dead = 1;  /* still on the dirty list: state_save frees it */
            else
                subject_free(sub);
        }
    }
    for (size_t i = 0; i <= s->queue.mask; i++) {
        for (struct hnode *n = s->queue.buckets[i], *next; n; n = next) {
            next = n->next;
            struct qentry *q = (struct qentry *)n;
            int old = (q->removed && q->removed + QUEUE_GRACE < t) || q->seen + QUEUE_MAX_AGE < t;
            if (!old)
                continue;
            if (q->stored)
                remember_deletion(s, 'q', q->key, q->keylen);
            table_del(&s->queue, n);
            if (q->dirty)
                q->dead = 1;
            else
                free(q);
        }
    }
}

/* ---- dump ---- */

static void dump_subject(FILE *out, const uint8_t *key, size_t klen, struct subject *sub)
{
    static const char *const metric_names[METRICS] = { "rcpt", "unknown", "ndr_in", "ndr_out", "auth_fail", "msgs", "abnormal" };
    char name[300];
    fprintf(out, "%c %s", key[0], subject_name(sub, name, sizeof name));
    for (int m = 0; m < METRICS; m++) {
        const struct ring *r = sub->ring[m];
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
    for (int k = 0; k < RULE_KINDS; k++)
        if (sub->offence[k].count)
            fprintf(out, " offence:%s=%u/%u/%u", rule_kind_name(k), sub->offence[k].count, sub->offence[k].until,
                    sub->offence[k].last);
    if (sub->last_unknown)
        fprintf(out, " last_unknown:%u", sub->last_unknown);
    if (sub->acct) {
        char ip[64];
        for (int i = 0; i < sub->acct->nfail; i++)
            fprintf(out, " fail:%s@%u", addr_format(&sub->acct->fail[i].ip, ip, sizeof ip), sub->acct->fail[i].last);
        for (int i = 0; i < sub->acct->nlogin; i++)
            fprintf(out, " login:%s/%.2s@%u", addr_format(&sub->acct->login[i].ip, ip, sizeof ip),
                    sub->acct->login[i].cc, sub->acct->login[i].time);
    }
    fputc('\n', out);
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
                        q->null_sender ? " <>" : "", q->seen, q->removed);
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

struct subject *state_read_subject(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len)
{
    MDB_val k = { len, (void *)key }, v;
    if (mdb_get(txn, dbi, &k, &v) != 0)
        return NULL;
    struct subject *sub = calloc(1, sizeof *sub + len);
    if (!sub)
        return NULL;
    memcpy(sub->key, key, len);
    sub->keylen = (uint16_t)len;
    sub->kind = key[0];
    struct buf b = { v.mv_data, 0, v.mv_size, 0 };
    if (decode_subject(sub, &b) < 0) {
        subject_free(sub);
        return NULL;
    }
    return sub;
}

void subject_release(struct subject *sub)
{
    if (sub)
        subject_free(sub);
}
