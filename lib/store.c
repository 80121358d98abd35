/* store.c - see store.h for the schema. */
#include "store.h"
#include "store_index.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STORE_MAP_SIZE (16ULL << 30)    /* address space only: the file grows as data does */
#define STORE_MAX_DBS 128

static const uint8_t meta_key[] = { 0x00, 'm', 'e', 't', 'a' };
static const uint8_t map_key_prefix[] = { 0x00, 'm', 'a', 'p' };
static const uint8_t keymap_key_prefix[] = { 0x00, 'k', 'e', 'y' };

static void chunk_key(const uint8_t prefix[4], unsigned chunk, uint8_t key[6])
{
    memcpy(key, prefix, 4);
    key[4] = (uint8_t)(chunk >> 8);
    key[5] = (uint8_t)chunk;
}

/* A little-endian 64-bit word at p, whatever the machine's byte order or p's alignment. */
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return le64toh(w);
}

/* Part of the schema (store.h): written filters hold its bits. Words are read little-endian so that
 * the result does not depend on the machine's byte order; the last, partial word holds the key's
 * remaining bytes, the first of them lowest. */
uint64_t store_key_hash(const uint8_t *key, size_t klen)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (klen * 0xff51afd7ed558ccdULL);
    size_t i = 0;
    for (; i + 8 <= klen; i += 8) {
        h = (h ^ load_le64(key + i)) * 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 29;
    }
    size_t rest = klen - i;
    uint64_t w = 0;
    if (rest && klen >= 8)      /* the word that ends the key, its bytes before i shifted out */
        w = load_le64(key + klen - 8) >> (8 * (8 - rest));
    else
        for (size_t j = klen; j > i; j--)
            w = w << 8 | key[j - 1];
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ h >> 29;
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int store_open(struct store *st, const char *dir, int flags, char *err, size_t errlen)
{
    int rc;
    st->env = NULL;
    if (!(flags & STORE_READONLY) && mkdir_p(dir) < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    if ((rc = mdb_env_create(&st->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(st->env, STORE_MAX_DBS)) != 0 ||
        (rc = mdb_env_set_mapsize(st->env, STORE_MAP_SIZE)) != 0 ||
        (rc = mdb_env_set_maxreaders(st->env, 256)) != 0)
        goto fail;
    /* NOTLS: reader slots belong to transactions, so a worker thread can reset and renew its own. */
    unsigned env_flags = MDB_NOTLS | ((flags & STORE_READONLY) ? MDB_RDONLY : 0) |
                         ((flags & STORE_NOMETASYNC) ? MDB_NOMETASYNC : 0);
    if ((rc = mdb_env_open(st->env, dir, env_flags, 0644)) != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
    if (st->env)
        mdb_env_close(st->env);
    st->env = NULL;
    return -1;
}

uint64_t store_used_bytes(struct store *st)
{
    MDB_envinfo info;
    MDB_stat stat;
    if (mdb_env_info(st->env, &info) != 0 || mdb_env_stat(st->env, &stat) != 0)
        return 0;
    return (uint64_t)(info.me_last_pgno + 1) * stat.ms_psize;
}

static int count_reader(const char *msg, void *ctx)
{
    (void)msg;
    (*(int *)ctx)++;
    return 0;
}

int store_readers(struct store *st)
{
    int lines = 0;
    mdb_reader_list(st->env, count_reader, &lines);
    return lines > 0 ? lines - 1 : 0;   /* the first line is a header */
}

void store_close(struct store *st)
{
    if (st->env)
        mdb_env_close(st->env);
    st->env = NULL;
}

/* Exactly the order of LMDB's default comparator (bytes, then length), so that every tool reading the
 * store agrees; the common IPv4 key (6 bytes) is compared inline instead of through memcmp. */
static int key_cmp(const MDB_val *a, const MDB_val *b)
{
    if (a->mv_size == 6 && b->mv_size == 6) {
        const uint8_t *x = a->mv_data, *y = b->mv_data;
        uint64_t u = (uint64_t)x[0] << 40 | (uint64_t)x[1] << 32 | (uint64_t)x[2] << 24 | (uint64_t)x[3] << 16 |
                     (uint64_t)x[4] << 8 | x[5];
        uint64_t v = (uint64_t)y[0] << 40 | (uint64_t)y[1] << 32 | (uint64_t)y[2] << 24 | (uint64_t)y[3] << 16 |
                     (uint64_t)y[4] << 8 | y[5];
        return (u > v) - (u < v);
    }
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int d = memcmp(a->mv_data, b->mv_data, n);
    if (d)
        return d;
    return (a->mv_size > b->mv_size) - (a->mv_size < b->mv_size);
}

int store_zone_dbi(struct store *st, const char *zone, MDB_dbi *dbi, char *err, size_t errlen)
{
    char name[300];
    MDB_txn *txn;
    snprintf(name, sizeof name, "zone:%s", zone);
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi);
        if (rc == 0)
            rc = mdb_set_compare(txn, *dbi, key_cmp);
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    }
    if (rc == EACCES) {     /* a read-only store: the zone may simply not exist yet */
        rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
        if (rc == 0) {
            rc = mdb_dbi_open(txn, name, 0, dbi);
            if (rc == 0)
                rc = mdb_set_compare(txn, *dbi, key_cmp);
            rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
        }
    }
    if (rc == MDB_NOTFOUND) {
        snprintf(err, errlen, "zone %s: not in the read-only store yet (the feeder or dnsblctl creates it, "
                 "as does a restart of dnsbl-server)", zone);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "zone %s: %s", zone, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

size_t store_key_net(const struct ipnet *net, uint8_t *key)
{
    int n = addr_len(net->addr.family);
    key[0] = net->addr.family;
    memcpy(key + 1, net->addr.bytes, (size_t)n);
    key[1 + n] = net->plen;
    return (size_t)n + 2;
}

size_t store_key_domain(const char *name, size_t len, uint8_t *key)
{
    key[0] = 'D';
    memcpy(key + 1, name, len);
    return len + 1;
}

int store_key_decode(const uint8_t *key, size_t len, struct ipnet *net, char *domain, size_t cap)
{
    if (len >= 1 && (key[0] == ADDR_V4 || key[0] == ADDR_V6) && len == (size_t)addr_len(key[0]) + 2) {
        memset(net, 0, sizeof *net);
        net->addr.family = key[0];
        memcpy(net->addr.bytes, key + 1, len - 2);
        net->plen = key[len - 1];
        return 'n';
    }
    if (len >= 2 && key[0] == 'D' && len - 1 < cap) {
        memcpy(domain, key + 1, len - 1);
        domain[len - 1] = '\0';
        return 'd';
    }
    return 0;
}

static uint32_t get_u32le(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t get_u32be(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put_u32le(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static void put_u32be(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

int listing_encode(const struct listing *l, uint8_t *buf, size_t cap)
{
    if (l->nreasons > LISTING_MAX_REASONS || cap < 6)
        return -1;
    size_t pos = 6;
    buf[0] = l->flags;
    buf[1] = l->nreasons;
    put_u32le(buf + 2, l->since);
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        if (pos + 9 + r->text_len > cap)
            return -1;
        put_u32be(buf + pos, r->code);
        put_u32le(buf + pos + 4, r->expires);
        buf[pos + 8] = r->text_len;
        memcpy(buf + pos + 9, r->text, r->text_len);
        pos += 9 + r->text_len;
    }
    return (int)pos;
}

/* Every length is checked: a damaged record must read as absent, never crash the server. */
int listing_decode(const void *data, size_t len, struct listing *out)
{
    const uint8_t *p = data;
    if (len < 6 || p[1] > LISTING_MAX_REASONS)
        return -1;
    out->flags = p[0];
    out->nreasons = p[1];
    out->since = get_u32le(p + 2);
    size_t pos = 6;
    for (int i = 0; i < out->nreasons; i++) {
        struct reason *r = &out->reasons[i];
        if (pos + 9 > len || pos + 9 + p[pos + 8] > len)
            return -1;
        r->code = get_u32be(p + pos);
        r->expires = get_u32le(p + pos + 4);
        r->text_len = p[pos + 8];
        r->text = (const char *)p + pos + 9;
        pos += 9 + r->text_len;
    }
    return pos == len ? 0 : -1;
}

int listing_live(const struct listing *l, uint32_t now)
{
    for (int i = 0; i < l->nreasons; i++)
        if (l->reasons[i].expires == 0 || l->reasons[i].expires > now)
            return 1;
    return 0;
}

int reason_live(const struct reason *r, uint32_t now)
{
    return r->code != 0 && (r->expires == 0 || r->expires > now);
}

int listing_live_codes(const struct listing *l, uint32_t now, uint32_t codes[LISTING_MAX_REASONS])
{
    int n = 0;
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        int dup = 0;
        for (int j = 0; j < n; j++)
            dup |= codes[j] == r->code;
        if (!dup && reason_live(r, now))
            codes[n++] = r->code;
    }
    return n;
}

uint32_t listing_next_expiry(const struct listing *l, uint32_t now)
{
    uint32_t first = 0;
    for (int i = 0; i < l->nreasons; i++) {
        uint32_t e = l->reasons[i].expires;
        if (reason_live(&l->reasons[i], now) && e && (!first || e < first))
            first = e;
    }
    return first;
}

uint32_t listing_expires(const struct listing *l)
{
    uint32_t latest = 0;
    for (int i = 0; i < l->nreasons; i++) {
        if (l->reasons[i].expires == 0)
            return 0;
        if (l->reasons[i].expires > latest)
            latest = l->reasons[i].expires;
    }
    return latest;
}

int listing_set_reason(struct listing *l, const struct reason *r)
{
    for (int i = 0; i < l->nreasons; i++) {
        if (l->reasons[i].code == r->code) {
            l->reasons[i] = *r;
            return 0;
        }
    }
    if (l->nreasons >= LISTING_MAX_REASONS)
        return -1;
    l->reasons[l->nreasons++] = *r;
    return 0;
}

int store_read_meta(MDB_txn *txn, MDB_dbi dbi, struct zone_meta *meta)
{
    MDB_val k = { sizeof meta_key, (void *)meta_key }, v;
    memset(meta, 0, sizeof *meta);
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    memcpy(meta, v.mv_data, v.mv_size < sizeof *meta ? v.mv_size : sizeof *meta);
    return 0;
}

int store_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, struct listing *out)
{
    MDB_val k = { klen, (void *)key }, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    return listing_decode(v.mv_data, v.mv_size, out) == 0 ? 1 : 0;
}

static int map_each(MDB_txn *txn, MDB_dbi dbi, const uint8_t prefix[4], store_v4map_fn fn, void *arg)
{
    uint8_t first[6];
    MDB_cursor *cur;
    MDB_val k = { sizeof first, first }, v;
    chunk_key(prefix, 0, first);
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), bad = 0;
    for (; rc == 0 && k.mv_size == 6 && !memcmp(k.mv_data, prefix, 4); rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key = k.mv_data;
        unsigned chunk = (unsigned)key[4] << 8 | key[5];
        if (chunk >= STORE_V4MAP_CHUNKS || v.mv_size != STORE_V4MAP_CHUNK_BYTES) {
            bad = 1;
            break;
        }
        if (fn(arg, chunk, v.mv_data))
            break;
    }
    mdb_cursor_close(cur);
    return bad || (rc != 0 && rc != MDB_NOTFOUND) ? -1 : 0;
}

int store_v4map_each(MDB_txn *txn, MDB_dbi dbi, store_v4map_fn fn, void *arg)
{
    return map_each(txn, dbi, map_key_prefix, fn, arg);
}

int store_keymap_each(MDB_txn *txn, MDB_dbi dbi, store_v4map_fn fn, void *arg)
{
    return map_each(txn, dbi, keymap_key_prefix, fn, arg);
}

static int plen_present(const struct zone_meta *meta, int family, int plen)
{
    if (family == ADDR_V4)
        return (meta->v4_plens >> plen) & 1;
    return (meta->v6_plens[plen / 64] >> (plen % 64)) & 1;
}

/* The longest prefix length present in the zone up to max, or -1: a lookup visits only those. */
static int plen_next_down(const struct zone_meta *meta, int family, int max)
{
    for (int w = max / 64; w >= 0 && max >= 0; w--, max = w * 64 + 63) {
        uint64_t bits = family == ADDR_V4 ? (w ? 0 : meta->v4_plens) : meta->v6_plens[w];
        bits &= max % 64 == 63 ? ~0ULL : (2ULL << (max % 64)) - 1;
        if (bits)
            return w * 64 + 63 - __builtin_clzll(bits);
    }
    return -1;
}

/* Adds the live reasons of l to out, after those already there: an identical reason (code and
 * text) once, and no more than LISTING_MAX_REASONS in all (the most specific entries come first).
 * Expired reasons are left out, so that they neither take a place nor hide a live twin. */
static void merge_reasons(struct listing *out, const struct listing *l, uint32_t now)
{
    for (int i = 0; i < l->nreasons && out->nreasons < LISTING_MAX_REASONS; i++) {
        const struct reason *r = &l->reasons[i];
        int dup = !reason_live(r, now);
        for (int j = 0; j < out->nreasons && !dup; j++)
            dup = out->reasons[j].code == r->code && out->reasons[j].text_len == r->text_len &&
                  !memcmp(out->reasons[j].text, r->text, r->text_len);
        if (!dup)
            out->reasons[out->nreasons++] = *r;
    }
}

/* One covering entry found by a lookup, most specific first. Returns 1 when the lookup is decided
 * (a live allow entry: "not listed", whatever else covers the name), 0 to go on. */
static int cover(struct listing *out, const struct listing *e, uint32_t now, int *listed)
{
    if (!listing_live(e, now))
        return 0;
    if (e->flags & LISTING_ALLOW) {
        *out = *e;
        *listed = 0;
        return 1;
    }
    if (!*listed) {         /* the most specific listing: its flags and since */
        out->flags = e->flags;
        out->since = e->since;
        out->nreasons = 0;
    }
    merge_reasons(out, e, now);
    *listed = 1;
    return 0;
}

/* A key's may_hold filter and index or store read: lookups share it. */
struct key_reader {
    const struct store_changes *ch;
    store_may_hold_fn may_hold;
    const void *arg;
    const struct store_index *ix;
};

/* The entry of key: 1 and *out, 0 when absent (or when the filter says so), -1 on an error. It is read
 * from the index when there is one, else through ch as store_get_at reads it. */
static int get_entry(MDB_txn *txn, MDB_dbi dbi, const struct key_reader *kr, const uint8_t *key, size_t klen,
                     struct listing *out)
{
    uint64_t h;
    if (kr->may_hold && !kr->may_hold(kr->arg, key, klen, &h))
        return 0;
    if (!kr->ix)
        return store_get_at(txn, dbi, kr->ch, key, klen, out);
    if (!kr->may_hold)
        h = store_key_hash(key, klen);
    MDB_val v;
    int found = store_index_find(kr->ix, h, key, klen, &v);
    if (found < 0)      /* too far from its place (colliding hashes): the B-tree knows */
        return store_get_at(txn, dbi, kr->ch, key, klen, out);
    return found && listing_decode(v.mv_data, v.mv_size, out) == 0;
}

static int lookup_ip(MDB_txn *txn, MDB_dbi dbi, const struct key_reader *kr, const struct zone_meta *meta,
                     const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched);

int store_lookup_ip(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta,
                    const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched)
{
    return lookup_ip(txn, dbi, &(struct key_reader){ 0 }, meta, a, now, out, matched);
}

int store_lookup_ip_indexed(MDB_txn *txn, MDB_dbi dbi, const struct store_index *ix, const struct zone_meta *meta,
                            const struct ipaddr *a, uint32_t now, store_may_hold_fn may_hold, const void *arg,
                            struct listing *out, struct ipnet *matched)
{
    return lookup_ip(txn, dbi, &(struct key_reader){ NULL, may_hold, arg, ix }, meta, a, now, out, matched);
}

int store_lookup_ip_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const struct zone_meta *meta,
                       const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched)
{
    return lookup_ip(txn, dbi, &(struct key_reader){ ch, NULL, NULL, NULL }, meta, a, now, out, matched);
}

static int lookup_ip(MDB_txn *txn, MDB_dbi dbi, const struct key_reader *kr, const struct zone_meta *meta,
                     const struct ipaddr *a, uint32_t now, struct listing *out, struct ipnet *matched)
{
    struct ipnet net = { *a, 0 };
    struct listing e;
    uint8_t key[18];
    int listed = 0;
    for (int plen = plen_next_down(meta, a->family, addr_bits(a->family)); plen >= 0;
         plen = plen_next_down(meta, a->family, plen - 1)) {
        net.addr = *a;
        net.plen = (uint8_t)plen;
        net_clear_host_bits(&net);
        int found = get_entry(txn, dbi, kr, key, store_key_net(&net, key), &e);
        if (found < 0)
            return -1;
        if (!found)
            continue;
        int was_listed = listed, decided = cover(out, &e, now, &listed);
        if (matched && (decided || listed != was_listed))
            *matched = net;     /* the allow entry, or the most specific listing */
        if (decided)
            return 0;
    }
    if (listed)
        return 1;
    out->flags = 0;     /* nothing matched: no stale ALLOW for the caller to see */
    out->nreasons = 0;
    return 0;
}

/* Is the network net covered by a live allow entry (at its own prefix length or a shorter one)?
 * Then no address in it is listed, and no name at or below it exists. 1, 0, or -1 on an error. */
static int allowed_over(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, const struct ipnet *net,
                        uint32_t now)
{
    uint8_t key[18];
    struct listing l;
    for (int plen = 0; plen <= net->plen; plen++) {
        if (!plen_present(meta, net->addr.family, plen))
            continue;
        struct ipnet up = { net->addr, (uint8_t)plen };
        net_clear_host_bits(&up);
        int found = store_get(txn, dbi, key, store_key_net(&up, key), &l);
        if (found < 0)
            return -1;
        if (found && (l.flags & LISTING_ALLOW) && listing_live(&l, now))
            return 1;
    }
    return 0;
}

/* A live listing (not an allow entry, nor inside one) with a key in [lo, hi]: the first such,
 * found by one cursor walk. After 64 entries that are all expired, allow entries or allowed it gives
 * up and says yes: a name wrongly said to exist costs a NODATA, one wrongly said not to hides
 * listings (RFC 8020). */
static int listed_in_range(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, uint8_t *lo, size_t lolen,
                           uint8_t *hi, size_t hilen, uint32_t now)
{
    MDB_cursor *cur;
    MDB_val k = { lolen, lo }, v, end = { hilen, hi };
    int rc = mdb_cursor_open(txn, dbi, &cur), found = 0;
    if (rc != 0)
        return -1;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (int n = 0; rc == 0 && !found && mdb_cmp(txn, dbi, &k, &end) <= 0; n++) {
        struct listing l;
        struct ipnet net;
        char unused[1];
        if (n == 64) {
            found = 1;
            break;
        }
        if (listing_decode(v.mv_data, v.mv_size, &l) == 0 && !(l.flags & LISTING_ALLOW) && listing_live(&l, now) &&
            store_key_decode(k.mv_data, k.mv_size, &net, unused, sizeof unused) == 'n') {
            int allowed = allowed_over(txn, dbi, meta, &net, now);
            if (allowed < 0) {
                mdb_cursor_close(cur);
                return -1;
            }
            found = !allowed;
        }
        if (!found)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return found ? 1 : rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

int store_prefix_exists(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, const struct ipnet *prefix,
                        uint32_t now)
{
    struct ipnet net = *prefix;
    uint8_t lo[18], hi[18];
    struct listing l;
    net_clear_host_bits(&net);
    int allowed = allowed_over(txn, dbi, meta, &net, now);
    if (allowed != 0)
        return allowed < 0 ? -1 : 0;        /* inside an allow hole nothing is listed */
    for (int plen = 0; plen <= net.plen; plen++) {       /* an entry covering the whole prefix */
        if (!plen_present(meta, net.addr.family, plen))
            continue;
        struct ipnet up = net;
        up.plen = (uint8_t)plen;
        net_clear_host_bits(&up);
        int found = store_get(txn, dbi, lo, store_key_net(&up, lo), &l);
        if (found < 0)
            return -1;
        if (found && !(l.flags & LISTING_ALLOW) && listing_live(&l, now))
            return 1;
    }
    size_t len = store_key_net(&net, lo);       /* entries inside it: keys from its first address ... */
    memcpy(hi, lo, len);
    int bits = addr_bits(net.addr.family);
    for (int b = net.plen; b < bits; b++)       /* ... to its last, at any prefix length */
        hi[1 + b / 8] |= (uint8_t)(0x80 >> (b % 8));
    lo[len - 1] = 0;
    hi[len - 1] = 0xff;
    return listed_in_range(txn, dbi, meta, lo, len, hi, len, now);
}

static int lookup_domain(MDB_txn *txn, MDB_dbi dbi, const struct key_reader *kr, const char *name,
                         size_t len, uint32_t now, struct listing *out, size_t *matched_offset);

int store_lookup_domain(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t len, uint32_t now,
                        struct listing *out, size_t *matched_offset)
{
    return lookup_domain(txn, dbi, &(struct key_reader){ 0 }, name, len, now, out, matched_offset);
}

int store_lookup_domain_filtered(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t len, uint32_t now,
                                 store_may_hold_fn may_hold, const void *arg, const struct store_index *ix,
                                 struct listing *out)
{
    return lookup_domain(txn, dbi, &(struct key_reader){ NULL, may_hold, arg, ix }, name, len, now, out, NULL);
}

int store_lookup_domain_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const char *name,
                           size_t len, uint32_t now, struct listing *out, size_t *matched_offset)
{
    return lookup_domain(txn, dbi, &(struct key_reader){ ch, NULL, NULL, NULL }, name, len, now, out,
                         matched_offset);
}

static int lookup_domain(MDB_txn *txn, MDB_dbi dbi, const struct key_reader *kr, const char *name,
                         size_t len, uint32_t now, struct listing *out, size_t *matched_offset)
{
    uint8_t key[STORE_KEY_MAX];
    struct listing e;
    int listed = 0, below = 0;
    out->flags = 0;
    out->nreasons = 0;
    if (len == 0 || len > DOMAIN_MAX)
        return 0;
    store_key_domain(name, len, key);
    for (size_t off = 0; off < len;) {
        /* the key of the suffix at off: 'D' over the dot before it, in the one copy of the name */
        size_t klen = len - off + 1;
        key[off] = 'D';
        int found = get_entry(txn, dbi, kr, key + off, klen, &e);
        if (found < 0)
            return -1;
        /* The name itself matches any entry but a subdomains-only one; a parent only a wildcard. */
        int applies = off == 0 ? !(e.flags & LISTING_SUBDOMAINS) : (e.flags & LISTING_WILDCARD);
        if (found && off == 0 && !applies && listing_live(&e, now))
            below = 1;      /* "*.name" is listed: the name exists, as an empty non-terminal */
        if (found && applies) {
            int was_listed = listed, decided = cover(out, &e, now, &listed);
            if (matched_offset && (decided || listed != was_listed))
                *matched_offset = off;      /* the allow entry, or the most specific listing */
            if (decided)
                return 0;
        }
        const char *dot = memchr(name + off, '.', len - off);
        if (!dot)
            break;
        off = (size_t)(dot - name) + 1;
    }
    if (listed)
        return 1;
    out->flags = below ? LISTING_WILDCARD | LISTING_SUBDOMAINS : 0;
    out->nreasons = 0;
    return 0;
}

/* A live allow entry inside net (longer prefix), found by walking the keys of net in order. */
static int allow_inside(MDB_txn *txn, MDB_dbi dbi, const struct ipnet *net, uint32_t now)
{
    uint8_t first[18];
    size_t klen = store_key_net(&(struct ipnet){ net->addr, 0 }, first);
    MDB_cursor *cur;
    MDB_val k = { klen, first }, v;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    int rc, hit = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !hit; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct ipnet in;
        struct listing l;
        char unused[1];
        if (store_key_decode(k.mv_data, k.mv_size, &in, unused, sizeof unused) != 'n' ||
            in.addr.family != net->addr.family || !net_contains(net, &in.addr))
            break;      /* past the last key of net */
        hit = in.plen > net->plen && listing_decode(v.mv_data, v.mv_size, &l) == 0 &&
              (l.flags & LISTING_ALLOW) && listing_live(&l, now);
    }
    mdb_cursor_close(cur);
    return rc != 0 && rc != MDB_NOTFOUND ? -1 : hit;
}

int store_allowed_key(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, uint32_t now)
{
    struct ipnet net;
    struct listing l;
    struct zone_meta meta;
    char name[DOMAIN_MAX + 1];
    int kind = store_key_decode(key, klen, &net, name, sizeof name);
    if (kind == 'd') {
        int rc = store_lookup_domain(txn, dbi, name, klen - 1, now, &l, NULL);
        return rc < 0 ? -1 : rc == 0 && (l.flags & LISTING_ALLOW);
    }
    if (kind != 'n' || store_read_meta(txn, dbi, &meta) < 0)
        return kind == 'n' ? -1 : 0;
    uint8_t k[18];
    for (int plen = net.plen; plen >= 0; plen--) {
        if (!plen_present(&meta, net.addr.family, plen))
            continue;
        struct ipnet up = { net.addr, (uint8_t)plen };
        net_clear_host_bits(&up);
        int found = store_get(txn, dbi, k, store_key_net(&up, k), &l);
        if (found < 0)
            return -1;
        if (found && (l.flags & LISTING_ALLOW) && listing_live(&l, now))
            return 1;
    }
    return net.plen < addr_bits(net.addr.family) ? allow_inside(txn, dbi, &net, now) : 0;
}

int store_write_begin(struct store *st, struct store_txn *w)
{
    w->nzones = 0;
    return mdb_txn_begin(st->env, NULL, 0, &w->txn);
}

static struct store_txn_zone *touch_zone(struct store_txn *w, MDB_dbi dbi)
{
    for (int i = 0; i < w->nzones; i++)
        if (w->zones[i].dbi == dbi)
            return &w->zones[i];
    if (w->nzones == STORE_TXN_ZONES)
        return NULL;
    struct store_txn_zone *z = &w->zones[w->nzones++];
    memset(z, 0, sizeof *z);
    z->dbi = dbi;
    return z;
}

/* ---- the change journal: writing (schema in store.h) ---- */

static const uint8_t jnext_key[] = { 0x00, 'j', 'n', 'e', 'x', 't' };

static void put_u64be(uint8_t *p, uint64_t v) { put_u32be(p, (uint32_t)(v >> 32)); put_u32be(p + 4, (uint32_t)v); }
static uint64_t get_u64be(const uint8_t *p) { return (uint64_t)get_u32be(p) << 32 | get_u32be(p + 4); }
static void put_u64le(uint8_t *p, uint64_t v) { put_u32le(p, (uint32_t)v); put_u32le(p + 4, (uint32_t)(v >> 32)); }
static uint64_t get_u64le(const uint8_t *p) { return (uint64_t)get_u32le(p + 4) << 32 | get_u32le(p); }

static void jentry_key(uint64_t n, uint8_t key[10])
{
    key[0] = 0x00, key[1] = 'J';
    put_u64be(key + 2, n);
}

static void jhead_key(uint32_t serial, uint8_t key[6])
{
    key[0] = 0x00, key[1] = 'H';
    put_u32be(key + 2, serial);
}

#define STORE_JHEAD_LEN 28
static int journal_head(MDB_txn *txn, MDB_dbi dbi, uint32_t serial, uint32_t *old, uint32_t *time,
                        uint64_t *first, uint64_t *end, uint32_t *old_time);

static uint32_t journal_size(const struct store_txn_zone *z)
{
    return z->jmax_size ? z->jmax_size : STORE_JOURNAL_SIZE;
}

int store_journal_limits(struct store_txn *w, MDB_dbi dbi, uint32_t max_age, uint32_t max_size)
{
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (!z)
        return EINVAL;
    z->jmax_age = max_age;
    z->jmax_size = max_size;
    return 0;
}

static const uint8_t jlimits_key[] = { 0x00, 'j', 'l', 'i', 'm', 'i', 't', 's' };

int store_journal_configure(struct store *st, MDB_dbi dbi, uint32_t max_age, uint32_t max_size, char *err,
                            size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = { sizeof jlimits_key, (void *)jlimits_key }, v;
    uint8_t val[8];
    put_u32le(val, max_age);
    put_u32le(val + 4, max_size);
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        int same = mdb_get(txn, dbi, &k, &v) == 0 ? v.mv_size == sizeof val && !memcmp(v.mv_data, val, sizeof val)
                                                  : max_age == 0 && max_size == 0;
        mdb_txn_abort(txn);
        if (same)
            return 0;   /* the usual case: no write transaction at every start */
        rc = mdb_txn_begin(st->env, NULL, 0, &txn);
        if (rc == EACCES)
            return 0;   /* a read-only store (dnsbl-server): the writers record the bounds */
    }
    if (rc == 0 && (rc = mdb_put(txn, dbi, &k, &(MDB_val){ sizeof val, val }, 0)) != 0)
        mdb_txn_abort(txn);
    else if (rc == 0)
        rc = mdb_txn_commit(txn);
    if (rc != 0)
        snprintf(err, errlen, "ixfr journal bounds: %s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int journal_load(MDB_txn *txn, struct store_txn_zone *z)
{
    if (z->jloaded)
        return 0;
    MDB_val k = { sizeof jlimits_key, (void *)jlimits_key }, v;
    int rc = mdb_get(txn, z->dbi, &k, &v);
    if (rc == 0 && v.mv_size == 8) {    /* the zone file's bounds, unless the caller set its own */
        const uint8_t *p = v.mv_data;
        z->jmax_age = z->jmax_age ? z->jmax_age : get_u32le(p);
        z->jmax_size = z->jmax_size ? z->jmax_size : get_u32le(p + 4);
    }
    k = (MDB_val){ sizeof jnext_key, (void *)jnext_key };
    rc = mdb_get(txn, z->dbi, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    z->jnext = rc == 0 && v.mv_size == 8 ? get_u64be(v.mv_data) : 1;
    z->jfirst = z->jnext;
    z->jloaded = 1;
    return 0;
}

/* Notes what key holds before this transaction changes it. A transaction that changes more keys
 * than the journal may hold stops noting (and drops the journal at commit): no secondary could use
 * it, and a bulk import should not write its entries twice. */
static int journal_note(MDB_txn *txn, struct store_txn_zone *z, const uint8_t *key, size_t klen)
{
    int rc = z->jover ? 0 : journal_load(txn, z);
    if (rc != 0 || z->jover)
        return rc;
    if (z->jnext - z->jfirst >= journal_size(z) || klen > STORE_KEY_MAX) {
        z->jover = 1;
        return 0;
    }
    uint8_t buf[2 + STORE_KEY_MAX + STORE_VALUE_MAX], jk[10];
    MDB_val k = { klen, (void *)key }, v;
    rc = mdb_get(txn, z->dbi, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    size_t len = 0, had = rc == 0;
    if (had && v.mv_size > STORE_VALUE_MAX) {
        z->jover = 1;
        return 0;
    }
    buf[len++] = (uint8_t)klen;
    memcpy(buf + len, key, klen);
    len += klen;
    buf[len++] = (uint8_t)had;
    if (had) {
        memcpy(buf + len, v.mv_data, v.mv_size);
        len += v.mv_size;
    }
    jentry_key(z->jnext++, jk);
    return mdb_put(txn, z->dbi, &(MDB_val){ sizeof jk, jk }, &(MDB_val){ len, buf }, 0);
}

/* Notes every key with a reason that expired in (after, now]: the names an expiry commit removes. */
static int journal_expired(MDB_txn *txn, struct store_txn_zone *z, uint32_t after, uint32_t now)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, z->dbi, &cur);
    if (rc != 0)
        return rc;
    uint8_t first = ADDR_V4;     /* past the 0x00 records, the journal among them */
    k = (MDB_val){ 1, &first };
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !z->jover;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        int due = 0;
        if (listing_decode(v.mv_data, v.mv_size, &l) < 0)
            continue;
        for (int i = 0; i < l.nreasons; i++)
            due |= l.reasons[i].expires > after && l.reasons[i].expires <= now;
        uint8_t key[STORE_KEY_MAX];
        size_t klen = k.mv_size;
        if (!due || klen > sizeof key)
            continue;
        memcpy(key, k.mv_data, klen);   /* the put below may move the page the cursor points into */
        if ((rc = journal_note(txn, z, key, klen)) != 0)
            break;
        k = (MDB_val){ klen, key };
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Deletes journal records from the oldest on. tag 'J': the entries numbered below below_n (all with
 * UINT64_MAX). tag 'H': the headers of commits made before min_time or whose entries begin before
 * min_first, up to the first one kept, whose first entry goes to *kept_first. */
static int journal_delete_while(MDB_txn *txn, MDB_dbi dbi, uint8_t tag, uint64_t below_n, uint32_t min_time,
                                uint64_t min_first, uint64_t *kept_first)
{
    MDB_cursor *cur;
    uint8_t prefix[2] = { 0x00, tag };
    MDB_val k = { sizeof prefix, prefix }, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key = k.mv_data;
        if (k.mv_size < 2 || key[0] != 0x00 || key[1] != tag)
            break;
        int drop;
        if (tag == 'J') {
            drop = below_n == UINT64_MAX || (k.mv_size == 10 && get_u64be(key + 2) < below_n);
        } else {
            const uint8_t *h = v.mv_data;
            drop = v.mv_size != STORE_JHEAD_LEN || get_u32le(h + 4) < min_time || get_u64le(h + 8) < min_first;
            if (!drop && kept_first) {
                *kept_first = get_u64le(h + 8);
                break;      /* headers follow the serial, so the rest are newer */
            }
        }
        if (!drop)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Bounds the journal by age and size: the oldest commits' headers go, then their entries. */
static int journal_trim(MDB_txn *txn, const struct store_txn_zone *z, uint32_t now)
{
    uint32_t age = z->jmax_age ? z->jmax_age : STORE_JOURNAL_AGE, size = journal_size(z);
    uint32_t min_time = now > age ? now - age : 0;
    uint64_t min_first = z->jnext > size ? z->jnext - size : 0, kept = z->jnext;
    int rc = journal_delete_while(txn, z->dbi, 'H', 0, min_time, min_first, &kept);
    return rc ? rc : journal_delete_while(txn, z->dbi, 'J', kept, 0, 0, NULL);
}

/* At commit: the expiries' entries, the header of the new serial, the counter, the trim. */
static int journal_commit(MDB_txn *txn, struct store_txn_zone *z, uint32_t expired_upto, uint32_t now)
{
    int rc = journal_load(txn, z);
    if (rc == 0 && z->expired_upto && !z->jover)
        rc = journal_expired(txn, z, expired_upto, z->expired_upto);
    if (rc != 0)
        return rc;
    if (z->jover) {     /* everything goes: no older serial can be rebuilt */
        rc = journal_delete_while(txn, z->dbi, 'H', 0, UINT32_MAX, UINT64_MAX, NULL);
        if (rc == 0)
            rc = journal_delete_while(txn, z->dbi, 'J', UINT64_MAX, 0, 0, NULL);
        z->jfirst = z->jnext;
    }
    if (rc != 0)
        return rc;
    uint8_t hk[6], h[STORE_JHEAD_LEN], nk[8];
    uint32_t old_time = 0, unused;
    uint64_t unused64;
    if (z->old_serial == 0)
        old_time = now;         /* never written: empty, at any time */
    else if ((rc = journal_head(txn, z->dbi, z->old_serial, &unused, &old_time, &unused64, &unused64, &unused)) < 0)
        return EIO;
    jhead_key(z->new_serial, hk);
    put_u32le(h, z->jover ? z->new_serial : z->old_serial);     /* linked to itself: the chain starts here */
    put_u32le(h + 4, now);
    put_u64le(h + 8, z->jfirst);
    put_u64le(h + 16, z->jnext);
    put_u32le(h + 24, old_time);    /* 0: unknown (the old serial's header is gone) */
    put_u64be(nk, z->jnext);
    if ((rc = mdb_put(txn, z->dbi, &(MDB_val){ sizeof hk, hk }, &(MDB_val){ sizeof h, h }, 0)) != 0 ||
        (rc = mdb_put(txn, z->dbi, &(MDB_val){ sizeof jnext_key, (void *)jnext_key }, &(MDB_val){ sizeof nk, nk }, 0)) != 0)
        return rc;
    return journal_trim(txn, z, now);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The /24 number of an IPv4 key (0x04 a b c d plen). */
static uint32_t key_n24(const uint8_t *key)
{
    return (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
}

static void remember_new24(struct store_txn_zone *z, uint32_t n24)
{
    int n = z->nnew24;
    if (n > 0 && n <= STORE_TXN_NEW24 && z->new24[n - 1] == n24)
        return;     /* runs of one /24, as sorted imports and CIDR expansions write them */
    if (n < STORE_TXN_NEW24)
        z->new24[n] = n24;
    if (n <= STORE_TXN_NEW24)
        z->nnew24 = n + 1;
}

static void remember_key(struct store_txn_zone *z, uint64_t h)
{
    int n = z->nnewkeys;
    if (n < STORE_TXN_NEWKEYS)
        z->newkeys[n] = h;
    if (n <= STORE_TXN_NEWKEYS)
        z->nnewkeys = n + 1;
}

/* Calls fn with the filter hash of every parent name of the domain key ("Pspam.co", "Pco"). */
static void each_parent(const uint8_t *key, size_t klen, void (*fn)(uint64_t h, void *arg), void *arg)
{
    uint8_t pk[STORE_KEY_MAX];
    if (key[0] != 'D')
        return;
    for (size_t i = 1; i < klen; i++)
        if (key[i] == '.' && i + 1 < klen)
            fn(store_key_hash(pk, store_key_parent((const char *)key + i + 1, klen - i - 1, pk)), arg);
}

static void remember_parent(uint64_t h, void *z)
{
    remember_key(z, h);
}

/* ---- the descendant index of domain keys (store.h) ---- */

#define RINDEX_SCAN_MAX 256     /* descendants judged before a name is taken to exist (NODATA) */

/* The index key of the domain key (or of a query name, for its descendants' prefix): 0x00 'R' and
 * the labels reversed, each followed by '.'; 0 for a key without a parent (no dot). */
static size_t rindex_key(const char *name, size_t len, uint8_t *out)
{
    size_t pos = 2, end = len;
    out[0] = 0;
    out[1] = 'R';
    while (end > 0) {
        size_t start = end;
        while (start > 0 && name[start - 1] != '.')
            start--;
        memcpy(out + pos, name + start, end - start);
        pos += end - start;
        out[pos++] = '.';
        end = start ? start - 1 : 0;
    }
    return pos;
}

static int rindex_note(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen, int add)
{
    uint8_t rk[2 + STORE_KEY_MAX];
    if (key[0] != 'D' || klen < 2 || !memchr(key + 1, '.', klen - 1))
        return 0;
    MDB_val k = { rindex_key((const char *)key + 1, klen - 1, rk), rk };
    int rc = add ? mdb_put(txn, dbi, &k, &(MDB_val){ 0, rk }, 0) : mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Builds the index from the zone's domain keys: once per zone, when its meta says it has none. */
static int rindex_build(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cur;
    uint8_t first = 'D';
    MDB_val k = { 1, &first }, v;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *key = k.mv_data;
        if (key[0] != 'D')
            break;
        if ((rc = rindex_note(txn, dbi, key, k.mv_size, 1)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_domain_has_listed_descendant(MDB_txn *txn, MDB_dbi dbi, const struct zone_meta *meta, const char *name,
                                       size_t len, uint32_t now)
{
    uint8_t prefix[2 + STORE_KEY_MAX];
    if (!meta->rindex_gen || len == 0 || len > DOMAIN_MAX)
        return 0;
    size_t plen = rindex_key(name, len, prefix);
    MDB_cursor *cur;
    MDB_val k = { plen, prefix }, v;
    int rc = mdb_cursor_open(txn, dbi, &cur), found = 0, seen = 0;
    if (rc != 0)
        return -1;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !found; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (k.mv_size == plen)
            continue;       /* the name itself */
        if (++seen > RINDEX_SCAN_MAX) {
            found = 1;      /* so many names below it: taken to exist (NODATA hides nothing) */
            break;
        }
        char child[DOMAIN_MAX + 2];
        uint8_t fwd[2 + STORE_KEY_MAX];
        size_t clen = rindex_key((const char *)k.mv_data + 2, k.mv_size - 3, fwd) - 3;
        memcpy(child, fwd + 2, clen);
        struct listing l;
        int listed = store_lookup_domain(txn, dbi, child, clen, now, &l, NULL);
        if (listed < 0) {
            found = -1;
            break;
        }
        found = listed || ((l.flags & LISTING_SUBDOMAINS) && !(l.flags & LISTING_ALLOW));
    }
    mdb_cursor_close(cur);
    return rc != 0 && rc != MDB_NOTFOUND && found == 0 ? -1 : found;
}

int store_put(struct store_txn *w, MDB_dbi dbi, const uint8_t *key, size_t klen,
              const struct listing *l, unsigned mdb_flags)
{
    uint8_t buf[STORE_VALUE_MAX];
    int len = listing_encode(l, buf, sizeof buf);
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (len < 0 || !z)
        return EINVAL;
    if (key[0] == ADDR_V4 && klen == 6) {
        z->add.v4_plens |= 1ULL << key[5];
        if (key[5] >= 24)
            remember_new24(z, key_n24(key));
    } else if (key[0] == ADDR_V6 && klen == 18) {
        z->add.v6_plens[key[17] / 64] |= 1ULL << (key[17] % 64);
    }
    if (store_key_filtered(key, klen)) {
        remember_key(z, store_key_hash(key, klen));
        each_parent(key, klen, remember_parent, z);
    }
    int rc = journal_note(w->txn, z, key, klen);
    if (rc == 0)
        rc = rindex_note(w->txn, dbi, key, klen, 1);
    if (rc != 0)
        return rc;
    MDB_val k = { klen, (void *)key }, v = { (size_t)len, buf };
    return mdb_put(w->txn, dbi, &k, &v, mdb_flags);
}

int store_del(struct store_txn *w, MDB_dbi dbi, const uint8_t *key, size_t klen)
{
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (!z)
        return EINVAL;
    int rc = journal_note(w->txn, z, key, klen);
    if (rc == 0)
        rc = rindex_note(w->txn, dbi, key, klen, 0);
    if (rc != 0)
        return rc;
    MDB_val k = { klen, (void *)key };
    return mdb_del(w->txn, dbi, &k, NULL);
}

int store_clear_zone(struct store_txn *w, MDB_dbi dbi)
{
    struct zone_meta meta;
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (!z)
        return EINVAL;
    if (store_read_meta(w->txn, dbi, &meta) < 0)
        return EIO;
    int rc = mdb_drop(w->txn, dbi, 0);
    if (rc != 0)
        return rc;
    memset(&z->add, 0, sizeof z->add);
    z->nnew24 = 0;          /* the maps went with the entries; their generations stay */
    z->nnewkeys = 0;
    z->jover = 1;           /* and the journal: secondaries transfer the zone in full */
    meta.v4_plens = 0;      /* the entries written after this set them again */
    memset(meta.v6_plens, 0, sizeof meta.v6_plens);
    MDB_val k = { sizeof meta_key, (void *)meta_key }, v = { sizeof meta, &meta };
    return mdb_put(w->txn, dbi, &k, &v, 0);
}

int store_rebuild_v4map(struct store_txn *w, MDB_dbi dbi)
{
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (!z)
        return EINVAL;
    z->nnew24 = STORE_TXN_NEW24 + 1;        /* "too many": a rebuild */
    z->nnewkeys = STORE_TXN_NEWKEYS + 1;
    return 0;
}

int store_touch(struct store_txn *w, MDB_dbi dbi)
{
    return touch_zone(w, dbi) ? 0 : EINVAL;
}

int store_mark_expired(struct store_txn *w, MDB_dbi dbi, uint32_t now)
{
    struct store_txn_zone *z = touch_zone(w, dbi);
    if (!z)
        return EINVAL;
    z->expired_upto = now;
    return 0;
}

int store_expiry_scan(MDB_txn *txn, MDB_dbi dbi, uint32_t after, uint32_t now, int *due, uint32_t *next)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *due = 0;
    *next = 0;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0)
            continue;   /* meta and map records */
        for (int i = 0; i < l.nreasons; i++) {
            uint32_t e = l.reasons[i].expires;
            if (e > after && e <= now)
                *due = 1;
            else if (e > now && (*next == 0 || e < *next))
                *next = e;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_expire_pass(struct store *st, struct store_expiry *x, int n, uint32_t now, int *raised)
{
    MDB_txn *txn;
    uint8_t due[STORE_TXN_ZONES] = { 0 };
    *raised = 0;
    if (n > STORE_TXN_ZONES) {      /* one transaction holds at most that many zones */
        int more = 0, rc = store_expire_pass(st, x, STORE_TXN_ZONES, now, raised);
        if (rc == 0)
            rc = store_expire_pass(st, x + STORE_TXN_ZONES, n - STORE_TXN_ZONES, now, &more);
        *raised += more;
        return rc;
    }
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    for (int i = 0; rc == 0 && i < n; i++) {
        struct zone_meta meta;
        int d = 0;
        if (store_read_meta(txn, x[i].dbi, &meta) < 0) {
            rc = EIO;
            break;
        }
        if (x[i].valid && x[i].serial == meta.serial && !(x[i].next && x[i].next <= now))
            continue;
        rc = store_expiry_scan(txn, x[i].dbi, meta.expired_upto, now, &d, &x[i].next);
        x[i].valid = rc == 0;
        x[i].serial = meta.serial;
        due[i] = (uint8_t)d;
        *raised += d;
    }
    mdb_txn_abort(txn);
    struct store_txn w;
    if (rc != 0 || !*raised || (rc = store_write_begin(st, &w)) != 0)
        return rc;
    for (int i = 0; rc == 0 && i < n; i++)
        if (due[i])
            rc = store_mark_expired(&w, x[i].dbi, now);
    if (rc != 0) {
        store_write_abort(&w);
        return rc;
    }
    if ((rc = store_write_commit(&w, now)) != 0)
        return rc;
    for (int j = 0; j < w.nzones; j++)       /* our own change: what we know still holds */
        for (int i = 0; i < n; i++)
            if (x[i].dbi == w.zones[j].dbi && x[i].serial == w.zones[j].old_serial)
                x[i].serial = w.zones[j].new_serial;
    return 0;
}

/* Sets the bits numbered in bitnos (sorted here) in the map whose chunk keys start with prefix: one
 * chunk read and at most one write per chunk. */
static int map_add(MDB_txn *txn, MDB_dbi dbi, const uint8_t prefix[4], uint32_t *bitnos, int n, int *changed)
{
    qsort(bitnos, (size_t)n, sizeof *bitnos, cmp_u32);
    for (int i = 0; i < n;) {
        unsigned chunk = bitnos[i] >> 12;
        uint8_t key[6], bits[STORE_V4MAP_CHUNK_BYTES] = { 0 }, dirty = 0;
        chunk_key(prefix, chunk, key);
        MDB_val k = { sizeof key, key }, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size == sizeof bits)
            memcpy(bits, v.mv_data, sizeof bits);
        else if (rc != MDB_NOTFOUND)
            return rc ? rc : EINVAL;
        for (; i < n && bitnos[i] >> 12 == chunk; i++) {
            unsigned bit = bitnos[i] & 4095;
            dirty |= !(bits[bit / 8] & 1u << (bit % 8));
            bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
        if (!dirty)
            continue;
        v = (MDB_val){ sizeof bits, bits };
        if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
            return rc;
        *changed = 1;
    }
    return 0;
}

/* The bit numbers a key sets in a map: how many (0: none), or -1 past the map's keys (a scan stops).
 * bitnos has room for KEY_BITS_MAX. */
#define KEY_BITS_MAX (3 * (DOMAIN_MAX / 2 + 2))
typedef int (*key_bits_fn)(const uint8_t *key, size_t klen, uint32_t *bitnos);

static int v4map_bits(const uint8_t *key, size_t klen, uint32_t *bitnos)
{
    if (key[0] != ADDR_V4)
        return -1;
    bitnos[0] = key_n24(key);
    return klen == 6 && key[5] >= 24;
}

static int hash_bits(uint64_t h, uint32_t bitnos[3])
{
    uint32_t word = store_key_filter_word(h) * 64u;
    bitnos[0] = word + (uint32_t)(h & 63);
    bitnos[1] = word + (uint32_t)(h >> 6 & 63);
    bitnos[2] = word + (uint32_t)(h >> 12 & 63);
    return 3;
}

struct bit_list { uint32_t *bitnos; int n; };

static void add_hash_bits(uint64_t h, void *arg)
{
    struct bit_list *b = arg;
    if (b->n + 3 <= KEY_BITS_MAX)
        b->n += hash_bits(h, b->bitnos + b->n);
}

static int keymap_bits(const uint8_t *key, size_t klen, uint32_t *bitnos)
{
    if (!store_key_filtered(key, klen))
        return 0;
    struct bit_list b = { bitnos, hash_bits(store_key_hash(key, klen), bitnos) };
    each_parent(key, klen, add_hash_bits, &b);
    return b.n;
}

/* Recomputes a whole map from the zone's keys, from the first key >= `first` until bits_of says -1:
 * for zones without one, and for big writes. */
static int map_rebuild(MDB_txn *txn, MDB_dbi dbi, const uint8_t prefix[4], uint8_t first, key_bits_fn bits_of,
                       int *changed)
{
    uint8_t *map = calloc(STORE_V4MAP_CHUNKS, STORE_V4MAP_CHUNK_BYTES);
    MDB_cursor *cur;
    MDB_val k = { 1, &first }, v;
    int rc = map ? mdb_cursor_open(txn, dbi, &cur) : ENOMEM;
    if (rc != 0) {
        free(map);
        return rc;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t bitnos[KEY_BITS_MAX];
        int n = bits_of(k.mv_data, k.mv_size, bitnos);
        if (n < 0)
            break;
        for (int i = 0; i < n; i++)
            map[bitnos[i] / 8] |= (uint8_t)(1u << (bitnos[i] % 8));
    }
    mdb_cursor_close(cur);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    static const uint8_t zero[STORE_V4MAP_CHUNK_BYTES];
    for (unsigned c = 0; rc == 0 && c < STORE_V4MAP_CHUNKS; c++) {
        uint8_t key[6], *bits = map + (size_t)c * STORE_V4MAP_CHUNK_BYTES;
        chunk_key(prefix, c, key);
        k = (MDB_val){ sizeof key, key };
        int found = mdb_get(txn, dbi, &k, &v);
        int empty = !memcmp(bits, zero, sizeof zero);
        if (found == 0 && v.mv_size == sizeof zero && !memcmp(v.mv_data, bits, sizeof zero))
            continue;
        if (found == 0 && empty)
            rc = mdb_del(txn, dbi, &k, NULL);
        else if (!empty)
            rc = mdb_put(txn, dbi, &k, &(MDB_val){ sizeof zero, bits }, 0);
        else if (found != MDB_NOTFOUND)
            rc = found;
        *changed |= found == 0 || !empty;
    }
    free(map);
    return rc;
}

static int update_v4map(MDB_txn *txn, struct store_txn_zone *z, struct zone_meta *meta)
{
    int changed = 0, rebuild = meta->v4_map_gen == 0 || z->nnew24 > STORE_TXN_NEW24;
    int rc = rebuild ? map_rebuild(txn, z->dbi, map_key_prefix, ADDR_V4, v4map_bits, &changed)
                     : map_add(txn, z->dbi, map_key_prefix, z->new24, z->nnew24, &changed);
    if (rc == 0 && (changed || rebuild))
        meta->v4_map_gen = meta->serial;
    return rc;
}

static int update_keymap(MDB_txn *txn, struct store_txn_zone *z, struct zone_meta *meta)
{
    int changed = 0, rc, rebuild = meta->key_map_gen == 0 || z->nnewkeys > STORE_TXN_NEWKEYS ||
                             meta->key_map_format != STORE_KEY_MAP_FORMAT;
    if (rebuild) {
        rc = map_rebuild(txn, z->dbi, keymap_key_prefix, ADDR_V6, keymap_bits, &changed);
    } else {
        uint32_t bitnos[3 * STORE_TXN_NEWKEYS];
        for (int i = 0; i < z->nnewkeys; i++)
            hash_bits(z->newkeys[i], bitnos + 3 * i);
        rc = map_add(txn, z->dbi, keymap_key_prefix, bitnos, 3 * z->nnewkeys, &changed);
    }
    if (rc == 0 && (changed || rebuild))
        meta->key_map_gen = meta->serial;
    if (rc == 0)
        meta->key_map_format = STORE_KEY_MAP_FORMAT;
    return rc;
}

static int update_meta(MDB_txn *txn, struct store_txn_zone *z, uint32_t now)
{
    struct zone_meta meta;
    if (store_read_meta(txn, z->dbi, &meta) < 0)
        return EIO;
    /* RFC 1982: the clock when it is ahead of the serial in serial arithmetic, else one more; so the
     * serial never moves by 2^31 or more, which secondaries would read as going backwards */
    uint32_t next = meta.serial + 1;
    z->old_serial = meta.serial;
    meta.serial = (int32_t)(now - next) > 0 ? now : next;
    z->new_serial = meta.serial;
    int jrc = journal_commit(txn, z, meta.expired_upto, now);
    if (jrc != 0)
        return jrc;
    if (z->expired_upto)
        meta.expired_upto = z->expired_upto;
    meta.v4_plens |= z->add.v4_plens;
    for (int j = 0; j < 3; j++)
        meta.v6_plens[j] |= z->add.v6_plens[j];
    int rc = z->nnew24 > 0 ? update_v4map(txn, z, &meta) : 0;
    if (rc == 0 && z->nnewkeys > 0)
        rc = update_keymap(txn, z, &meta);
    if (rc == 0 && !meta.rindex_gen && (rc = rindex_build(txn, z->dbi)) == 0)
        meta.rindex_gen = meta.serial ? meta.serial : 1;
    if (rc != 0)
        return rc;
    MDB_val k = { sizeof meta_key, (void *)meta_key }, v = { sizeof meta, &meta };
    return mdb_put(txn, z->dbi, &k, &v, 0);
}

int store_write_commit(struct store_txn *w, uint32_t now)
{
    for (int i = 0; i < w->nzones; i++) {
        int rc = update_meta(w->txn, &w->zones[i], now);
        if (rc != 0) {
            mdb_txn_abort(w->txn);
            return rc;
        }
    }
    return mdb_txn_commit(w->txn);
}

void store_write_abort(struct store_txn *w)
{
    mdb_txn_abort(w->txn);
}

/* ---- the change journal: reading ---- */

static int change_cmp(const void *a, const void *b)
{
    const struct store_change *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int d = memcmp(x->key, y->key, n);
    if (d)
        return d;
    if (x->klen != y->klen)
        return (x->klen > y->klen) - (x->klen < y->klen);
    return (x->n > y->n) - (x->n < y->n);       /* the earliest change of a key first */
}

const struct store_change *store_changes_find(const struct store_changes *ch, const uint8_t *key, size_t klen)
{
    struct store_change probe = { .key = key, .klen = klen, .n = 0 };
    size_t lo = 0, hi = ch->n;
    while (lo < hi) {       /* the first change not before the probe */
        size_t mid = lo + (hi - lo) / 2;
        if (change_cmp(&ch->c[mid], &probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ch->n && ch->c[lo].klen == klen && !memcmp(ch->c[lo].key, key, klen) ? &ch->c[lo] : NULL;
}

int store_get_at(MDB_txn *txn, MDB_dbi dbi, const struct store_changes *ch, const uint8_t *key, size_t klen,
                 struct listing *out)
{
    const struct store_change *c = ch ? store_changes_find(ch, key, klen) : NULL;
    if (!c)
        return store_get(txn, dbi, key, klen, out);
    return c->old && listing_decode(c->old, c->old_len, out) == 0;
}

/* Reads the header of serial: 1, 0 absent (or malformed), -1 error. */
static int journal_head(MDB_txn *txn, MDB_dbi dbi, uint32_t serial, uint32_t *old, uint32_t *time,
                        uint64_t *first, uint64_t *end, uint32_t *old_time)
{
    uint8_t hk[6];
    jhead_key(serial, hk);
    MDB_val k = { sizeof hk, hk }, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0 || v.mv_size != STORE_JHEAD_LEN)
        return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
    const uint8_t *h = v.mv_data;
    *old = get_u32le(h), *time = get_u32le(h + 4);
    *first = get_u64le(h + 8), *end = get_u64le(h + 16);
    *old_time = get_u32le(h + 24);
    return 1;
}

/* Appends the entries [first, end) to ch->c (capacity *cap). 0, 1 a missing entry (trimmed), -1 error. */
static int journal_gather(MDB_txn *txn, MDB_dbi dbi, uint64_t first, uint64_t end, struct store_changes *ch,
                          size_t *cap)
{
    uint8_t jk[10];
    for (uint64_t n = first; n < end; n++) {
        jentry_key(n, jk);
        MDB_val k = { sizeof jk, jk }, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc != 0)
            return rc == MDB_NOTFOUND ? 1 : -1;
        const uint8_t *e = v.mv_data;
        if (v.mv_size < 2 || (size_t)e[0] + 2 > v.mv_size)
            return 1;
        if (ch->n == *cap) {
            size_t grown = *cap ? *cap * 2 : 256;
            struct store_change *c = realloc(ch->c, grown * sizeof *c);
            if (!c)
                return -1;
            ch->c = c, *cap = grown;
        }
        size_t klen = e[0];
        int had = e[1 + klen];
        ch->c[ch->n++] = (struct store_change){ .key = e + 1, .klen = klen, .old = had ? e + 2 + klen : NULL,
                                                .old_len = had ? v.mv_size - 2 - klen : 0, .n = n };
    }
    return 0;
}

int store_journal_changes(MDB_txn *txn, MDB_dbi dbi, uint32_t from, uint32_t to, struct store_changes *out)
{
    uint32_t old = 0, time, old_time;
    uint64_t first, end;
    size_t cap = 0;
    int rc = 1;
    memset(out, 0, sizeof *out);
    /* back from `to` along the headers' old serials (bounded: the journal holds at most that many
     * commits) */
    for (uint32_t s = to, steps = 0; rc == 1 && s != from; s = old, steps++) {
        rc = steps > STORE_JOURNAL_SIZE * 4u ? 0 : journal_head(txn, dbi, s, &old, &time, &first, &end, &old_time);
        if (rc == 1 && old == s)
            rc = 0;     /* the journal was dropped at s: nothing before it can be rebuilt */
        if (rc == 1) {
            int g = journal_gather(txn, dbi, first, end, out, &cap);
            rc = g == 0 ? 1 : g == 1 ? 0 : -1;      /* a trimmed entry: the journal cannot tell */
        }
    }
    /* `from` itself must still be in the journal: a trimmed serial is too old, whatever links to it */
    if (rc == 1 && from != to)
        rc = journal_head(txn, dbi, from, &old, &out->from_time, &first, &end, &old_time);
    if (rc != 1) {
        store_changes_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->c, out->n, sizeof *out->c, change_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++)     /* one per key: its earliest before-image */
        if (!kept || out->c[kept - 1].klen != out->c[i].klen ||
            memcmp(out->c[kept - 1].key, out->c[i].key, out->c[i].klen))
            out->c[kept++] = out->c[i];
    out->n = kept;
    return 1;
}

void store_changes_free(struct store_changes *ch)
{
    free(ch->c);
    ch->c = NULL;
    ch->n = 0;
}

/* ---- account marks (schema in store.h) ---- */

static void account_mark_key(const char label[ACCOUNT_LABEL_LEN], uint8_t key[ACCOUNT_MARK_KEY_LEN])
{
    key[0] = 0x00, key[1] = 'O';
    memcpy(key + 2, label, ACCOUNT_LABEL_LEN);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

int store_account_mark_get(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN], uint32_t now,
                           struct account_mark *out)
{
    uint8_t key[ACCOUNT_MARK_KEY_LEN];
    account_mark_key(label, key);
    MDB_val k = { sizeof key, key }, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 13 || p[0] != 1 || v.mv_size != 13u + p[12])
        return -1;
    memset(out, 0, sizeof *out);
    out->flags = p[1];
    out->since = get_le32(p + 2);
    out->expires = get_le32(p + 6);
    if (p[10] && p[11]) {
        out->country[0] = (char)p[10];
        out->country[1] = (char)p[11];
    }
    out->note_len = p[12];
    out->note = (const char *)p + 13;
    return out->expires == 0 || out->expires > now;
}

int store_account_mark_put(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN],
                           const struct account_mark *m)
{
    uint8_t key[ACCOUNT_MARK_KEY_LEN], val[13 + 255];
    account_mark_key(label, key);
    val[0] = 1;
    val[1] = m->flags;
    put_le32(val + 2, m->since);
    put_le32(val + 6, m->expires);
    val[10] = m->country[0] ? (uint8_t)m->country[0] : 0;
    val[11] = m->country[0] ? (uint8_t)m->country[1] : 0;
    val[12] = m->note_len;
    if (m->note_len)
        memcpy(val + 13, m->note, m->note_len);
    MDB_val k = { sizeof key, key }, v = { 13u + m->note_len, val };
    return mdb_put(txn, dbi, &k, &v, 0);
}

int store_account_mark_del(MDB_txn *txn, MDB_dbi dbi, const char label[ACCOUNT_LABEL_LEN])
{
    uint8_t key[ACCOUNT_MARK_KEY_LEN];
    account_mark_key(label, key);
    MDB_val k = { sizeof key, key };
    return mdb_del(txn, dbi, &k, NULL);
}
