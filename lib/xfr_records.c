/* xfr_records.c - see xfr_records.h.
 *
 * Every live entry becomes one or more "units": a node of the zone's name tree (its path: the labels
 * from the zone down, each ending in a NUL) and whether the unit answers for the node itself or for
 * the names below it (a wildcard). The server answers the reasons of every covering listing unless
 * an allow entry covers the name. In the tree, the deepest unit on a name's path decides whether it
 * is listed (the prefix lengths that map to one depth never overlap; at one node the one with the
 * longest prefix), a listing that an allow entry above it covers gives no unit at all, and a listed
 * node's records come from the server's own lookup (narrowed to the entries that cover the whole
 * node), so that they hold the covering networks' reasons too. Units are sorted so that a node comes
 * before everything below it, then walked depth first: at each node that exists in the zone, the
 * node's own units give its records, and where a node lacks a unit, the deepest wildcard above it
 * (the "cover") is repeated there, because DNS wildcards stop at any existing name. IPv4, IPv6 and
 * domain names are walked as separate trees. */
#include "xfr_records.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "listing_text.h"
#include "store.h"

#define FAMILY_DOMAIN 'D'
#define MAX_LABELS 128

struct unit {
    uint32_t path;              /* offset in the arena */
    uint16_t path_len;
    uint8_t family;             /* ADDR_V4, ADDR_V6 or FAMILY_DOMAIN: the tree */
    uint8_t wild;               /* 0: the node itself, 1: the names below it */
    uint8_t prio;               /* prefix length of the entry; test points 255 */
    uint8_t allow;              /* an exclusion: answers "not listed" */
    uint8_t test;               /* an RFC 5782 test point */
    const void *val;            /* the entry's value, in the snapshot */
    size_t val_len;
};

struct gen {
    const struct zone *z;
    uint32_t now;
    MDB_txn *txn;               /* the snapshot, for the server's own lookups */
    const struct store_changes *ch;     /* non-NULL: the zone as it was before these changes */
    uint8_t chunk_family;       /* non-zero: only the entries whose address begins with chunk */
    uint8_t chunk_bytes;        /* 1 or 2 */
    uint16_t chunk;             /* the first byte or two of the address */
    size_t ch_pos;              /* the changes before the current chunk (they come in key order) */
    struct zone_meta meta;
    struct unit *u;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
    size_t *emitting;           /* emitting[i]: units before i that give a name records */
    int families;               /* bit 0: IPv4 entries, bit 1: IPv6 entries */
    xfr_rr_fn fn;
    void *ud;
    struct xfr_stats *st;
};

uint32_t xfr_serial(const struct zone *z, MDB_txn *txn)
{
    struct zone_meta meta;
    if (store_read_meta(txn, z->dbi, &meta) < 0)
        meta.serial = 0;
    return meta.serial ? meta.serial : 1;
}

void xfr_soa(const struct zone *z, uint32_t serial, uint8_t *buf, struct xfr_rr *rr)
{
    const struct zone_rr *soa = &z->rrs[z->soa];
    memcpy(buf, soa->rdata, soa->rdlen);
    uint8_t *s = buf + soa->rdlen - 20;
    s[0] = (uint8_t)(serial >> 24), s[1] = (uint8_t)(serial >> 16), s[2] = (uint8_t)(serial >> 8), s[3] = (uint8_t)serial;
    *rr = (struct xfr_rr){ .rel = buf, .rel_len = 0, .type = DNS_TYPE_SOA, .ttl = soa->ttl, .rdata = buf,
                           .rdlen = soa->rdlen };
}

/* ---- collecting units ---- */

static int add_unit(struct gen *g, const struct unit *proto, const char *path, size_t len)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        struct unit *grown = realloc(g->u, cap * sizeof *grown);
        if (!grown)
            return -1;
        g->u = grown, g->cap = cap;
    }
    if (g->alen + len > g->acap) {
        size_t cap = g->acap ? g->acap * 2 : 1 << 16;
        while (cap < g->alen + len)
            cap *= 2;
        char *grown = cap <= UINT32_MAX ? realloc(g->arena, cap) : NULL;  /* offsets are 32 bits */
        if (!grown)
            return -1;
        g->arena = grown, g->acap = cap;
    }
    memcpy(g->arena + g->alen, path, len);
    g->u[g->n] = *proto;
    g->u[g->n].path = (uint32_t)g->alen;
    g->u[g->n].path_len = (uint16_t)len;
    g->alen += len;
    g->n++;
    return 0;
}

/* The path of the first `labels` octets (IPv4) or nibbles (IPv6) of an address. */
static size_t ip_path(const struct ipaddr *a, int labels, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 0; i < labels; i++) {
        if (a->family == ADDR_V4) {
            pos += (size_t)sprintf(out + pos, "%u", a->bytes[i]) + 1;
        } else {
            out[pos++] = hex[(a->bytes[i / 2] >> (i % 2 ? 0 : 4)) & 15];
            out[pos++] = '\0';
        }
    }
    return pos;
}

static int ip_unit(struct gen *g, const struct ipaddr *a, int bits, struct unit *proto)
{
    char path[MAX_LABELS * 4];
    int step = a->family == ADDR_V4 ? 8 : 4;
    proto->family = a->family;
    proto->wild = bits < addr_bits(a->family);
    return add_unit(g, proto, path, ip_path(a, bits / step, path));
}

static void set_bit(uint8_t *bytes, int pos, int v)
{
    uint8_t mask = (uint8_t)(0x80u >> (pos % 8));
    bytes[pos / 8] = (uint8_t)(v ? bytes[pos / 8] | mask : bytes[pos / 8] & ~mask);
}

static int is_mapped_v4(const struct ipnet *net)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return net->addr.family == ADDR_V6 && net->plen >= 96 && !memcmp(net->addr.bytes, mapped, 12);
}

/* A network as names at the next octet (IPv4) or nibble (IPv6) boundary: /24 is one wildcard, /20
 * sixteen, /26 sixty-four names. */
static int net_units(struct gen *g, const struct ipnet *net, struct unit *proto)
{
    int full = addr_bits(net->addr.family), step = net->addr.family == ADDR_V4 ? 8 : 4;
    int b = (net->plen + step - 1) / step * step;
    if (b == 0)
        b = step;                               /* not a wildcard at the apex: one per top label */
    if (is_mapped_v4(net))
        return 0;                               /* ::ffff:a.b.c.d is answered from the IPv4 entries */
    if (b - net->plen >= 17 || (1UL << (b - net->plen)) > XFR_EXPAND_MAX) {
        g->st->skipped++;
        return 0;
    }
    proto->prio = net->plen;
    for (unsigned long k = 0; k < 1UL << (b - net->plen); k++) {
        struct ipaddr a = net->addr;
        for (int j = net->plen; j < b; j++)
            set_bit(a.bytes, j, (int)(k >> (b - 1 - j)) & 1);
        if (ip_unit(g, &a, b < full ? b : full, proto) < 0)
            return -1;
    }
    return 0;
}

/* A domain (or account label): the name itself unless subdomains-only, the wildcard if wildcard. */
static int name_units(struct gen *g, const char *name, uint8_t flags, struct unit *proto)
{
    char path[DOMAIN_MAX + 2];
    size_t len = strlen(name), pos = 0;
    for (size_t end = len; end > 0;) {          /* labels from the last to the first */
        size_t start = end;
        while (start > 0 && name[start - 1] != '.')
            start--;
        memcpy(path + pos, name + start, end - start);
        pos += end - start;
        path[pos++] = '\0';
        end = start ? start - 1 : 0;
    }
    proto->family = FAMILY_DOMAIN;
    proto->prio = 0;
    proto->wild = 0;
    if (!(flags & LISTING_SUBDOMAINS) && add_unit(g, proto, path, pos) < 0)
        return -1;
    proto->wild = 1;
    return (flags & LISTING_WILDCARD) ? add_unit(g, proto, path, pos) : 0;
}

/* The zone's prefix lengths of one family up to maxplen, in out; returns how many there are. */
static int narrow_meta(const struct zone_meta *m, int family, int maxplen, struct zone_meta *out)
{
    int n = 0;
    memset(out, 0, sizeof *out);
    for (int plen = 0; plen <= maxplen; plen++) {
        uint64_t bit = 1ULL << (plen % 64);
        uint64_t *dst = family == ADDR_V4 ? &out->v4_plens : &out->v6_plens[plen / 64];
        uint64_t src = family == ADDR_V4 ? m->v4_plens : m->v6_plens[plen / 64];
        if (src & bit) {
            *dst |= bit;
            n++;
        }
    }
    return n;
}

/* Does a live allow entry at a prefix as long as the network's, or shorter, cover all of it? Such a
 * listing answers nothing anywhere. 1 yes, 0 no, -1 store error. */
static int net_shielded(struct gen *g, const struct ipnet *net)
{
    struct zone_meta m;
    struct listing l;
    if (narrow_meta(&g->meta, net->addr.family, net->plen, &m) <= 1)
        return 0;       /* only the network's own prefix length: nothing else covers it */
    int rc = store_lookup_ip_at(g->txn, g->z->dbi, g->ch, &m, &net->addr, g->now, &l, NULL);
    return rc < 0 ? -1 : rc == 0 && (l.flags & LISTING_ALLOW);
}

/* Drops from *flags the parts of a domain listing that an allow entry covers: the name itself (its
 * own allow entry or a wildcard allow above it), the names below it (a wildcard allow at or above). */
static int name_shielded(struct gen *g, const char *name, uint8_t *flags)
{
    struct listing l;
    char below[DOMAIN_MAX + 3];
    size_t len = strlen(name);
    int rc = store_lookup_domain_at(g->txn, g->z->dbi, g->ch, name, len, g->now, &l, NULL);
    if (rc < 0)
        return -1;
    if (rc == 0 && (l.flags & LISTING_ALLOW))
        *flags |= LISTING_SUBDOMAINS;
    int n = snprintf(below, sizeof below, "*.%s", name);    /* '*' is never a stored label */
    rc = store_lookup_domain_at(g->txn, g->z->dbi, g->ch, below, (size_t)n, g->now, &l, NULL);
    if (rc < 0)
        return -1;
    if (rc == 0 && (l.flags & LISTING_ALLOW))
        *flags &= (uint8_t)~LISTING_WILDCARD;
    return 0;
}

static int entry_units(struct gen *g, const MDB_val *k, const MDB_val *v)
{
    struct listing l;
    struct ipnet net;
    char name[DOMAIN_MAX + 1];
    int kind = store_key_decode(k->mv_data, k->mv_size, &net, name, sizeof name);
    if (!kind)
        return 0;                               /* the meta record */
    if (listing_decode(v->mv_data, v->mv_size, &l) < 0) {
        g->st->skipped++;
        return 0;
    }
    if (!listing_live(&l, g->now))
        return 0;
    g->st->entries++;
    struct unit proto = { .allow = (l.flags & LISTING_ALLOW) != 0, .val = v->mv_data, .val_len = v->mv_size };
    if (kind == 'd') {
        uint8_t flags = l.flags;
        if (g->z->kind == ZONE_IP || (!proto.allow && name_shielded(g, name, &flags) < 0))
            return g->z->kind == ZONE_IP ? 0 : -1;
        return name_units(g, name, flags, &proto);
    }
    if (g->z->kind != ZONE_IP)
        return 0;
    g->families |= net.addr.family == ADDR_V4 ? 1 : 2;
    int shielded = proto.allow ? 0 : net_shielded(g, &net);
    return shielded ? (shielded < 0 ? -1 : 0) : net_units(g, &net, &proto);
}

/* The changed key c orders before (< 0), at (0) or after the snapshot's key k: LMDB's order. */
static int change_vs_key(const struct store_change *c, const MDB_val *k)
{
    size_t n = c->klen < k->mv_size ? c->klen : k->mv_size;
    int d = memcmp(c->key, k->mv_data, n);
    return d ? d : (c->klen > k->mv_size) - (c->klen < k->mv_size);
}

/* The units of a changed key as it was: its before-image, if it existed then. */
static int old_units(struct gen *g, const struct store_change *c)
{
    MDB_val k = { c->klen, (void *)c->key }, v = { c->old_len, (void *)c->old };
    return c->old ? entry_units(g, &k, &v) : 0;
}

/* Every entry of the snapshot, or, with changes, of the zone as it was: the snapshot's keys merged
 * with the changed keys (both in LMDB's order), a changed key's before-image in place of its value. */
/* Is the key outside the chunk being collected (a family and the first byte of the address)? */
static int past_chunk(const struct gen *g, const uint8_t *key, size_t len)
{
    if (!g->chunk_family)
        return 0;
    if (len < 1u + g->chunk_bytes || key[0] != g->chunk_family)
        return 1;
    return g->chunk_bytes == 1 ? key[1] != g->chunk : (key[1] << 8 | key[2]) != g->chunk;
}

static int collect(struct gen *g, MDB_txn *txn)
{
    MDB_cursor *cur;
    uint8_t first[3] = { g->chunk_family, (uint8_t)(g->chunk_bytes == 1 ? g->chunk : g->chunk >> 8), (uint8_t)g->chunk };
    MDB_val k = { 1u + g->chunk_bytes, first }, v;
    size_t j = g->chunk_family ? g->ch_pos : 0, nch = g->ch ? g->ch->n : 0;
    if (mdb_cursor_open(txn, g->z->dbi, &cur) != 0)
        return -1;
    /* chunks come in key order: the changes before this one were passed by the earlier ones */
    while (g->chunk_family && j < nch && change_vs_key(&g->ch->c[j], &k) < 0)
        j++;
    for (size_t e = j; g->chunk_family && e < nch; e++)
        if (past_chunk(g, g->ch->c[e].key, g->ch->c[e].klen)) {
            nch = e;        /* the changes of this chunk end here */
            break;
        }
    int rc, bad = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, g->chunk_family ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0 && !bad && !past_chunk(g, k.mv_data, k.mv_size); rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int d = -1;
        for (; j < nch && (d = change_vs_key(&g->ch->c[j], &k)) < 0; j++)
            if (old_units(g, &g->ch->c[j]) < 0)
                bad = 1;
        if (j < nch && d == 0)
            bad |= old_units(g, &g->ch->c[j++]) < 0;
        else
            bad |= entry_units(g, &k, &v) < 0;
    }
    mdb_cursor_close(cur);
    if (rc == 0)
        rc = MDB_NOTFOUND;  /* stopped at the end of the chunk */
    for (; rc == MDB_NOTFOUND && j < nch && !bad; j++)
        bad = old_units(g, &g->ch->c[j]) < 0;
    g->ch_pos = j;
    return rc == MDB_NOTFOUND && !bad ? 0 : -1;
}

/* 127.0.0.2 (and ::ffff:7f00:2) or TEST listed, 127.0.0.1 or INVALID not: they win over the store. */
static int test_points(struct gen *g)
{
    if (!g->z->test_points)
        return 0;
    struct unit proto = { .prio = 255 };
    if (g->z->kind != ZONE_IP) {
        proto.test = 1;
        if (name_units(g, "test", 0, &proto) < 0)
            return -1;
        proto.test = 0, proto.allow = 1;
        return name_units(g, "invalid", 0, &proto);
    }
    int v4 = !g->chunk_family || (g->chunk_family == ADDR_V4 && g->chunk == (g->chunk_bytes == 1 ? 127 : 0x7f00));
    int v6 = !g->chunk_family || (g->chunk_family == ADDR_V6 && g->chunk == 0);
    for (int host = 1; host <= 2 && (v4 || v6); host++) {
        struct ipaddr v4a = { .family = ADDR_V4, .bytes = { 127, 0, 0, (uint8_t)host } };
        struct ipaddr v6a = { .family = ADDR_V6, .bytes = { [10] = 0xff, 0xff, 127, 0, 0, (uint8_t)host } };
        proto.test = host == 2, proto.allow = host == 1;
        if ((v4 && ip_unit(g, &v4a, 32, &proto) < 0) || (v6 && ip_unit(g, &v6a, 128, &proto) < 0))
            return -1;
    }
    return 0;
}

/* ---- ordering ---- */

static int unit_cmp(const void *a, const void *b, void *arena)
{
    const struct unit *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    size_t n = x->path_len < y->path_len ? x->path_len : y->path_len;
    int c = memcmp((const char *)arena + x->path, (const char *)arena + y->path, n);
    if (c)
        return c;
    if (x->path_len != y->path_len)             /* a node before the names below it */
        return x->path_len < y->path_len ? -1 : 1;
    if (x->wild != y->wild)
        return x->wild - y->wild;
    return (int)y->prio - (int)x->prio;         /* the most specific first */
}

/* Sorts, keeps the most specific unit of each node and kind, counts the units that give records. */
static int order(struct gen *g)
{
    if (g->n)
        qsort_r(g->u, g->n, sizeof *g->u, unit_cmp, g->arena);
    size_t kept = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct unit *p = kept ? &g->u[kept - 1] : NULL, *c = &g->u[i];
        if (p && p->family == c->family && p->path_len == c->path_len && p->wild == c->wild &&
            !memcmp(g->arena + p->path, g->arena + c->path, c->path_len))
            continue;
        g->u[kept++] = *c;
    }
    g->n = kept;
    g->emitting = malloc((g->n + 1) * sizeof *g->emitting);
    if (!g->emitting)
        return -1;
    g->emitting[0] = 0;
    for (size_t i = 0; i < g->n; i++)
        g->emitting[i + 1] = g->emitting[i] + !g->u[i].allow;
    return 0;
}

/* ---- records ---- */

/* The owner of a node (or of the wildcard below it) below the zone, in wire form. */
static size_t owner_rel(const char *path, size_t off, int wild, uint8_t *out)
{
    size_t starts[MAX_LABELS], n = 0, pos = 0;
    for (size_t i = 0; i < off && n < MAX_LABELS; i += strlen(path + i) + 1)
        starts[n++] = i;
    if (wild)
        out[pos++] = 1, out[pos++] = '*';
    while (n-- > 0) {
        size_t len = strlen(path + starts[n]);
        if (pos + 1 + len > 255)
            return 256;
        out[pos++] = (uint8_t)len;
        memcpy(out + pos, path + starts[n], len);
        pos += len;
    }
    return pos;
}

/* The network of an IP node (the octets or nibbles of its path). */
static void node_net(int family, const char *path, size_t off, struct ipnet *net)
{
    size_t n = 0;
    int step = family == ADDR_V4 ? 8 : 4;
    *net = (struct ipnet){ .addr.family = (uint8_t)family };
    for (size_t i = 0; i < off && n < MAX_LABELS; i += strlen(path + i) + 1, n++) {
        unsigned v = (unsigned)strtoul(path + i, NULL, family == ADDR_V4 ? 10 : 16);
        if (family == ADDR_V4)
            net->addr.bytes[n] = (uint8_t)v;
        else
            net->addr.bytes[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
    }
    net->plen = (uint8_t)(n * (size_t)step);
}

/* What {addr} stands for: the address, the network, or the domain of the node. */
static void node_subject(int family, const char *path, size_t off, char *out, size_t cap)
{
    size_t starts[MAX_LABELS], n = 0, pos = 0;
    if (family == FAMILY_DOMAIN) {
        for (size_t i = 0; i < off && n < MAX_LABELS; i += strlen(path + i) + 1)
            starts[n++] = i;
        out[0] = '\0';
        while (n-- > 0 && pos < cap)
            pos += (size_t)snprintf(out + pos, cap - pos, "%s%s", path + starts[n], n ? "." : "");
        return;
    }
    struct ipnet net;
    node_net(family, path, off, &net);
    if (net.plen == addr_bits(family))
        addr_unmap_v4(&net.addr);
    net_format(&net, out, cap);
}

/* The answer of a node (wild: of the names below it) as the server gives it: the reasons of every
 * entry that covers the whole node. 1 listed, 0 not (an allow entry covers it), -1 store error. */
static int node_answer(struct gen *g, int family, const char *path, size_t off, int wild, const char *subject,
                       struct listing *l)
{
    if (family == FAMILY_DOMAIN) {
        char name[DOMAIN_MAX + 3];
        int n = snprintf(name, sizeof name, "%s%s", wild ? "*." : "", subject);
        if (n > DOMAIN_MAX)
            return -2;  /* not a name the server could be asked: the unit's own entry answers */
        return store_lookup_domain_at(g->txn, g->z->dbi, g->ch, name, (size_t)n, g->now, l, NULL);
    }
    struct ipnet net;
    struct zone_meta m;
    node_net(family, path, off, &net);
    if (narrow_meta(&g->meta, net.addr.family, net.plen, &m) <= 1)
        return -2;      /* one prefix length: the unit's own entry is the only one covering the node */
    return store_lookup_ip_at(g->txn, g->z->dbi, g->ch, &m, &net.addr, g->now, l, NULL);
}

static int single_digits(const char *path, size_t off)
{
    for (size_t i = 0; i < off; i += strlen(path + i) + 1)
        if (strlen(path + i) != 1)
            return 0;
    return 1;
}

/* An owner the zone's apex records already use: those win, as in the server. */
static int static_owner(const struct zone *z, const uint8_t *rel, size_t rel_len)
{
    for (int i = 0; i < z->nrrs; i++)
        if (z->rrs[i].owner_len == rel_len + z->wire_len && !memcmp(z->rrs[i].owner, rel, rel_len))
            return 1;
    return 0;
}

static void test_listing(const struct zone *z, struct listing *l)
{
    static const char text[] = "RFC 5782 test point";      /* as answer.c says it */
    memset(l, 0, sizeof *l);
    l->nreasons = 1;
    l->reasons[0] = (struct reason){ z->codes[z->default_code].addr, 0, sizeof text - 1, text };
}

static int put_records(struct gen *g, const uint8_t *rel, size_t rel_len, const struct listing *l,
                       const char *subject)
{
    uint32_t ttl = listing_ttl(g->z, l, g->now);
    struct xfr_rr rr = { .rel = rel, .rel_len = rel_len, .type = DNS_TYPE_A, .ttl = ttl };
    uint32_t codes[LISTING_MAX_REASONS];
    int ncodes = listing_live_codes(l, g->now, codes);
    for (int i = 0; i < ncodes; i++) {
        uint8_t a[4] = { (uint8_t)(codes[i] >> 24), (uint8_t)(codes[i] >> 16), (uint8_t)(codes[i] >> 8), (uint8_t)codes[i] };
        rr.rdata = a, rr.rdlen = 4;
        if (g->fn(g->ud, &rr))
            return -1;
        g->st->rrs++;
    }
    char text[1024];
    uint8_t rdata[sizeof text + sizeof text / 255 + 1];
    size_t n = listing_txt(g->z, l, g->now, subject, text, sizeof text), len = 0;
    for (size_t off = 0; off < n || len == 0; off += 255) {     /* strings of 255 at most */
        size_t piece = n - off > 255 ? 255 : n - off;
        rdata[len++] = (uint8_t)piece;
        memcpy(rdata + len, text + off, piece);
        len += piece;
    }
    rr.type = DNS_TYPE_TXT, rr.rdata = rdata, rr.rdlen = (uint16_t)len;
    if (g->fn(g->ud, &rr))
        return -1;
    g->st->rrs++;
    return 0;
}

/* The records of a node (wild: of the wildcard below it), with the answer of unit d. */
static int emit_path(struct gen *g, int family, const char *path, size_t off, int wild, const struct unit *d)
{
    uint8_t rel[258];
    size_t rel_len = owner_rel(path, off, wild, rel);
    struct listing l;
    if (rel_len + g->z->wire_len > 255) {
        g->st->skipped++;
        return 0;
    }
    if (static_owner(g->z, rel, rel_len))
        return 0;
    char subject[DOMAIN_MAX + 1];
    node_subject(family, path, off, subject, sizeof subject);
    if (d->test) {
        test_listing(g->z, &l);
    } else {
        int listed = node_answer(g, family, path, off, wild, subject, &l);
        if (listed == -1)
            return -1;
        if (listed == 0) {          /* covered by an allow entry that no unit here expresses */
            g->st->holes++;
            return 0;
        }
        if (listed == -2 && listing_decode(d->val, d->val_len, &l) < 0) {
            g->st->skipped++;
            return 0;
        }
    }
    if (family == ADDR_V4 && wild && g->families == 3 && single_digits(path, off))
        g->st->ambiguous++;
    g->st->names++;
    return put_records(g, rel, rel_len, &l, subject);
}

static int emit_node(struct gen *g, const struct unit *ref, size_t off, int wild, const struct unit *d)
{
    return emit_path(g, ref->family, g->arena + ref->path, off, wild, d);
}

static size_t seg_len(const struct gen *g, const struct unit *u, size_t off)
{
    return strlen(g->arena + u->path + off) + 1;
}

/* The end of the group of units [i, hi) that share the label after off: one child of the node. */
static size_t group_end(const struct gen *g, size_t i, size_t hi, size_t off)
{
    size_t seg = seg_len(g, &g->u[i], off), j = i + 1;
    while (j < hi && seg_len(g, &g->u[j], off) == seg &&
           !memcmp(g->arena + g->u[j].path + off, g->arena + g->u[i].path + off, seg))
        j++;
    return j;
}

/* Is a child of the node (units [i, hi) below it) all allow entries: a hole in the node's wildcard? */
static int has_hole(const struct gen *g, size_t i, size_t hi, size_t off)
{
    for (size_t j; i < hi; i = j) {
        j = group_end(g, i, hi, off);
        if (g->emitting[j] == g->emitting[i])
            return 1;
    }
    return 0;
}

/* An IP node whose wildcard w would also answer for an allow hole below it: instead of that wildcard,
 * every other child (255 octets or 15 nibbles) gets w's answer, as a name at the last level or as a
 * wildcard above it; a child that holds a listing exists anyway (walk gives it its own wildcard); the
 * hole itself gets nothing, or, when the allow entry is deeper, the same treatment one level down. */
static int expand_siblings(struct gen *g, size_t i, size_t hi, int depth, size_t off, const struct unit *w)
{
    int family = g->u[i].family, n = family == ADDR_V4 ? 256 : 16, leaf = depth + 1 == (family == ADDR_V4 ? 4 : 32);
    size_t from[256], to[256];
    uint8_t present[256] = { 0 };
    char path[MAX_LABELS * 4];
    memcpy(path, g->arena + g->u[i].path, off);
    for (size_t j; i < hi; i = j) {
        j = group_end(g, i, hi, off);
        unsigned long v = strtoul(g->arena + g->u[i].path + off, NULL, family == ADDR_V4 ? 10 : 16);
        if (v < (unsigned long)n)
            present[v] = 1, from[v] = i, to[v] = j;
    }
    for (int x = 0; x < n; x++) {
        if (present[x]) {
            size_t a = from[x], b = to[x], coff = off + seg_len(g, &g->u[a], off);
            if (g->emitting[b] != g->emitting[a] || g->u[a].path_len == coff)
                continue;   /* a listed child (walked), or the allow entry is the child itself */
            if (expand_siblings(g, a, b, depth + 1, coff, w) < 0)
                return -1;
            continue;
        }
        size_t len = off + (size_t)sprintf(path + off, family == ADDR_V4 ? "%d" : "%x", x) + 1;
        if (emit_path(g, family, path, len, !leaf, w) < 0)
            return -1;
        g->st->fills++;
    }
    return 0;
}

/* The node at depth (path length off) shared by units [lo, hi); cover: the deepest wildcard unit
 * above it. Only nodes with records somewhere below them exist in the zone; elsewhere the cover
 * answers, as it does in the server, unless an allow entry there says otherwise (a hole). */
static int walk(struct gen *g, size_t lo, size_t hi, int depth, size_t off, const struct unit *cover)
{
    const struct unit *exact = NULL, *wild = NULL;
    size_t i = lo;
    for (; i < hi && g->u[i].path_len == off; i++)
        *(g->u[i].wild ? &wild : &exact) = &g->u[i];
    int listed_cover = cover && !cover->allow;
    if (g->emitting[hi] == g->emitting[lo]) {
        /* A domain allowed by name alone under a listed wildcard: the wildcard below it, with the
         * cover's answer, makes it exist (an empty non-terminal: NODATA instead of NXDOMAIN, but not
         * listed) while its subdomains stay listed. */
        if (g->z->kind != ZONE_IP && listed_cover && exact && hi - lo == 1 && depth > 0)
            return emit_node(g, &g->u[lo], off, 1, cover);
        g->st->holes += listed_cover ? hi - lo : 0;
        return 0;
    }
    int full = g->u[lo].family == ADDR_V4 ? 4 : g->u[lo].family == ADDR_V6 ? 32 : MAX_LABELS, expand = 0;
    if (depth > 0) {
        const struct unit *e = exact ? exact : g->z->kind != ZONE_IP && listed_cover ? cover : NULL;
        const struct unit *w = wild ? wild : depth < full && listed_cover ? cover : NULL;
        g->st->fills += (e && e == cover) + (w && w == cover);
        expand = w && !w->allow && g->z->kind == ZONE_IP && has_hole(g, i, hi, off);
        if ((e && !e->allow && emit_node(g, &g->u[lo], off, 0, e) < 0) ||
            (w && !w->allow && !expand && emit_node(g, &g->u[lo], off, 1, w) < 0) ||
            (expand && expand_siblings(g, i, hi, depth, off, w) < 0))
            return -1;
    }
    for (size_t j; i < hi; i = j) {
        j = group_end(g, i, hi, off);
        if (expand && g->emitting[j] == g->emitting[i])
            continue;       /* a hole, expressed by its siblings */
        if (walk(g, i, j, depth + 1, off + seg_len(g, &g->u[i], off), wild ? wild : cover) < 0)
            return -1;
    }
    return 0;
}

static int emit_apex(struct gen *g)
{
    const struct zone *z = g->z;
    for (int i = 0; i < z->nrrs; i++) {
        const struct zone_rr *r = &z->rrs[i];
        struct xfr_rr rr = { r->owner, (size_t)(r->owner_len - z->wire_len), r->type, r->ttl, r->rdata, r->rdlen };
        if (i == z->soa)
            continue;
        if (g->fn(g->ud, &rr))
            return -1;
        g->st->rrs++;
    }
    return 0;
}

int xfr_records(const struct zone *z, MDB_txn *txn, uint32_t now, xfr_rr_fn fn, void *ud,
                struct xfr_stats *st)
{
    return xfr_records_at(z, txn, NULL, now, fn, ud, st);
}

/* An IP zone without prefixes shorter than 8 bits, one first byte of the address at a time: the names
 * below one first octet (IPv4) or two nibbles (IPv6) never depend on those below another, so the
 * units in memory are those of one chunk, not of the zone. */
/* How many leading address bytes a piece of the zone shares: 2 when no prefix is shorter than 16
 * bits, 1 when none is shorter than 8, else 0 (the zone in one piece). Names below different
 * prefixes of that length never depend on each other. */
static int chunkable(const struct zone *z, const struct zone_meta *m)
{
    if (z->kind != ZONE_IP)
        return 0;
    if (!(m->v4_plens & 0xffff) && !(m->v6_plens[0] & 0xffff))
        return 2;
    return !(m->v4_plens & 0xff) && !(m->v6_plens[0] & 0xff);
}

static int nchunks(const struct gen *g)
{
    return 2 << (8 * g->chunk_bytes);   /* IPv4, then IPv6 */
}

static void chunk_families(struct gen *g)
{
    const struct zone_meta *m = &g->meta;
    g->families = (m->v4_plens != 0) | (m->v6_plens[0] || m->v6_plens[1] || m->v6_plens[2]) << 1;
}

/* The records of chunk k (0..nchunks-1). */
static int chunk(struct gen *g, int k)
{
    int per = nchunks(g) / 2;
    g->chunk_family = k < per ? ADDR_V4 : ADDR_V6, g->chunk = (uint16_t)(k % per);
    g->n = 0, g->alen = 0;
    free(g->emitting);
    g->emitting = NULL;
    int rc = collect(g, g->txn);
    if (rc == 0)
        rc = test_points(g);
    if (rc == 0 && g->n)
        rc = order(g);
    if (rc == 0 && g->n)
        rc = walk(g, 0, g->n, 0, 0, NULL);
    return rc;
}

static int by_chunks(struct gen *g, MDB_txn *txn)
{
    int rc = 0;
    (void)txn;
    chunk_families(g);
    for (int k = 0; rc == 0 && k < nchunks(g); k++)
        rc = chunk(g, k);
    return rc;
}

/* The whole zone at once: domain zones, and IP zones with prefixes shorter than 8 bits. */
static int whole(struct gen *g)
{
    int rc = collect(g, g->txn);
    if (rc == 0)
        rc = test_points(g);
    if (rc == 0)
        rc = order(g);
    for (size_t lo = 0, hi; rc == 0 && lo < g->n; lo = hi) {   /* one tree per family */
        for (hi = lo; hi < g->n && g->u[hi].family == g->u[lo].family; hi++)
            ;
        rc = walk(g, lo, hi, 0, 0, NULL);
    }
    return rc;
}

struct xfr_iter {
    struct gen g;
    int chunked;
    int step;                   /* 0: the apex next; 1 + k: chunk k next; past nchunks: done */
};

struct xfr_iter *xfr_iter_new(const struct zone *z, MDB_txn *txn, uint32_t now, struct xfr_stats *st)
{
    struct xfr_iter *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->g = (struct gen){ .z = z, .now = now, .txn = txn, .st = st };
    memset(st, 0, sizeof *st);
    if (store_read_meta(txn, z->dbi, &it->g.meta) < 0) {
        free(it);
        return NULL;
    }
    it->g.chunk_bytes = (uint8_t)chunkable(z, &it->g.meta);
    it->chunked = it->g.chunk_bytes != 0;
    if (it->chunked)
        chunk_families(&it->g);
    return it;
}

int xfr_iter_next(struct xfr_iter *it, xfr_rr_fn fn, void *ud)
{
    struct gen *g = &it->g;
    g->fn = fn, g->ud = ud;
    if (it->step == 0) {
        it->step = it->chunked ? 1 : INT_MAX;
        if (emit_apex(g) < 0 || (!it->chunked && whole(g) < 0))
            return -1;
        return it->chunked;
    }
    /* a piece of the zone: the next address prefix that holds entries (at most a /16's worth) */
    for (g->n = 0; it->step <= nchunks(g) && g->n == 0; it->step++)
        if (chunk(g, it->step - 1) < 0)
            return -1;
    return it->step <= nchunks(g);
}

void xfr_iter_free(struct xfr_iter *it)
{
    if (!it)
        return;
    free(it->g.u);
    free(it->g.arena);
    free(it->g.emitting);
    free(it);
}

int xfr_records_at(const struct zone *z, MDB_txn *txn, const struct store_changes *ch, uint32_t now,
                   xfr_rr_fn fn, void *ud, struct xfr_stats *st)
{
    struct gen g = { .z = z, .now = now, .txn = txn, .ch = ch, .fn = fn, .ud = ud, .st = st };
    memset(st, 0, sizeof *st);
    int rc = store_read_meta(txn, z->dbi, &g.meta) < 0 ? -1 : emit_apex(&g);
    g.chunk_bytes = (uint8_t)chunkable(z, &g.meta);
    if (rc == 0)
        rc = g.chunk_bytes ? by_chunks(&g, txn) : whole(&g);
    free(g.u);
    free(g.arena);
    free(g.emitting);
    return rc;
}

/* ---- the names a change touches (IXFR) ---- */

static int name_cmp(const void *a, const void *b)
{
    const struct xfr_name *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->p ? x->p : x->buf, y->p ? y->p : y->buf, n);     /* p: a probe's name */
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

static unsigned name_hash(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;       /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return (h ^ h >> 16) & 65535;
}

static int name_in(const struct xfr_region *r, const struct xfr_name *set, size_t n, const uint8_t *p, size_t len)
{
    unsigned h = name_hash(p, len);
    if (!(r->bloom[h / 64] >> (h % 64) & 1))
        return 0;                   /* the common case, for a zone's millions of names */
    struct xfr_name probe = { .p = p, .len = len };
    return n && bsearch(&probe, set, n, sizeof *set, name_cmp) != NULL;
}

/* The node of a changed key in wire form below the zone: the whole octets (IPv4) or nibbles (IPv6)
 * of its network, or the domain. Returns its length, 0 for the apex, -1 for a key that has no name. */
static int key_node(const uint8_t *key, size_t klen, uint8_t *out)
{
    struct ipnet net;
    char name[DOMAIN_MAX + 1];
    int kind = store_key_decode(key, klen, &net, name, sizeof name), pos = 0;
    if (kind == 'd') {          /* "a.b" as 1 a 1 b: labels in order, no root label */
        for (const char *l = name; *l && pos < 250;) {
            size_t n = strcspn(l, ".");
            out[pos++] = (uint8_t)n;
            memcpy(out + pos, l, n);
            pos += (int)n;
            l += n + (l[n] == '.');
        }
        return pos;
    }
    if (kind != 'n')
        return -1;
    int step = net.addr.family == ADDR_V4 ? 8 : 4, labels = net.plen / step;
    for (int i = labels - 1; i >= 0; i--) {     /* the last octet or nibble first */
        char label[4];
        int n = net.addr.family == ADDR_V4 ? snprintf(label, sizeof label, "%u", net.addr.bytes[i])
                                            : snprintf(label, sizeof label, "%x",
                                                       (net.addr.bytes[i / 2] >> (i % 2 ? 0 : 4)) & 15);
        out[pos++] = (uint8_t)n;
        memcpy(out + pos, label, (size_t)n);
        pos += n;
    }
    return pos;
}

static int name_add(struct xfr_region *r, struct xfr_name **set, size_t *n, const uint8_t *p, size_t len)
{
    unsigned h = name_hash(p, len);
    r->bloom[h / 64] |= 1ULL << (h % 64);
    struct xfr_name *grown = realloc(*set, (*n + 1) * sizeof **set);
    if (!grown)
        return -1;
    *set = grown;
    memcpy(grown[*n].buf, p, len);
    grown[*n].p = NULL;         /* the name is in buf, wherever sorting moves it */
    grown[*n].len = len;
    (*n)++;
    return 0;
}

void xfr_region_free(struct xfr_region *r)
{
    free(r->nodes);
    free(r->above);
}

int xfr_region_build(const struct store_changes *ch, struct xfr_region *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < ch->n && !r->all; i++) {
        uint8_t node[256];
        int len = key_node(ch->c[i].key, ch->c[i].klen, node);
        if (len < 0)
            continue;
        r->all = len == 0;
        if (name_add(r, &r->nodes, &r->nnodes, node, (size_t)len) < 0)
            return -1;
        for (int off = 0; off < len; off += 1 + node[off])      /* the names above it, the apex too */
            if (name_add(r, &r->above, &r->nabove, node + off + 1 + node[off], (size_t)(len - off - 1 - node[off])) < 0)
                return -1;
    }
    if (r->nnodes)
        qsort(r->nodes, r->nnodes, sizeof *r->nodes, name_cmp);
    if (r->nabove)
        qsort(r->above, r->nabove, sizeof *r->above, name_cmp);
    return 0;
}

int xfr_region_has(const struct xfr_region *r, const uint8_t *rel, size_t len)
{
    if (r->all)
        return 1;
    if (len >= 2 && rel[0] == 1 && rel[1] == '*')
        rel += 2, len -= 2;         /* a wildcard belongs with the name it is below */
    if (name_in(r, r->nodes, r->nnodes, rel, len) || name_in(r, r->above, r->nabove, rel, len))
        return 1;
    if (len > 0 && name_in(r, r->above, r->nabove, rel + 1 + rel[0], len - 1 - rel[0]))
        return 1;       /* a sibling of a name above a change: an allow hole's expansion (walk) */
    for (size_t off = 0; off < len; off += 1u + rel[off])       /* below a node */
        if (name_in(r, r->nodes, r->nnodes, rel + off, len - off))
            return 1;
    return 0;
}
