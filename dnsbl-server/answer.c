/* answer.c - see answer.h.
 *
 * A query's path: parsed once by the caller (query.c: the struct the prefetch, the answer, the zone
 * transfer check and the query log all read), pick the zone with the longest matching suffix, serve
 * a static apex record if the name has one, otherwise decode the name below the zone into an address
 * or a domain, look it up in the store and write A/TXT records, or NXDOMAIN/NODATA with the SOA. Names in
 * answers are compression pointers into the question, so the question is echoed exactly as sent. */
#include "answer.h"

#include <stdio.h>
#include <string.h>

#include "listing_text.h"
#include "store_index.h"
#include "query.h"

#define TXT_MAX 1024

struct response {
    uint8_t *buf;
    size_t len, cap;
    int full;                   /* something did not fit: the answer gets truncated */
    uint16_t an, ns;
    uint8_t aa, rcode;
    uint8_t tcp;                /* over UDP, ANY gets one RRset (RFC 8482): no amplification */
    uint8_t store_failed;       /* a store read failed: the answer is SERVFAIL, whatever the zone kind */
};

static void put(struct response *r, const void *p, size_t n)
{
    if (r->full || r->len + n > r->cap) {
        r->full = 1;
        return;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
}

static void put16(struct response *r, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(r, b, 2);
}

static void put32(struct response *r, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put(r, b, 4);
}

/* An RR whose owner is a pointer to name_off in the packet. */
static void put_rr_head(struct response *r, size_t name_off, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
    put16(r, (uint16_t)(0xc000 | name_off));
    put16(r, type);
    put16(r, DNS_CLASS_IN);
    put32(r, ttl);
    put16(r, rdlen);
}

static const struct zone_meta *zone_meta(struct answer_ctx *ctx, int zi)
{
    size_t id = mdb_txn_id(ctx->txn);
    if (id != ctx->txnid) {
        ctx->txnid = id;
        ctx->meta_valid = ctx->map_checked = ctx->kmap_checked = ctx->meta_failed = 0;
    }
    if (!(ctx->meta_valid & (1ULL << zi))) {
        if (store_read_meta(ctx->txn, ctx->zones->zones[zi].dbi, &ctx->meta[zi]) < 0) {
            memset(&ctx->meta[zi], 0, sizeof ctx->meta[zi]);
            ctx->meta_failed |= 1ULL << zi;     /* answers from it would lie: resolve says SERVFAIL */
        }
        ctx->meta_valid |= 1ULL << zi;
    }
    return &ctx->meta[zi];
}

/* The zone's key filter if it covers this snapshot, else NULL (search the B-tree). */
/* May zone zi's copy of a map (the /24 map or the key filter) answer for this snapshot? Synced once
 * per snapshot (bit zi of *checked), the verdict kept in *ok. */
static int map_usable(struct answer_ctx *ctx, int zi, struct v4map *map,
                      int (*sync)(struct v4map *, MDB_txn *, MDB_dbi, uint32_t), uint32_t gen,
                      uint64_t *checked, uint64_t *ok)
{
    uint64_t bit = 1ULL << zi;
    if (!(*checked & bit)) {
        *checked |= bit;
        *ok = sync(map, ctx->txn, ctx->zones->zones[zi].dbi, gen) ? *ok | bit : *ok & ~bit;
    }
    return (*ok & bit) != 0;
}

static const struct v4map *zone_keymap(struct answer_ctx *ctx, int zi)
{
    const struct zone_meta *meta = zone_meta(ctx, zi);
    const struct zone *z = &ctx->zones->zones[zi];
    struct v4map *map = ctx->keymaps && z->slot ? ctx->keymaps[z->slot] : NULL;
    return map && map_usable(ctx, zi, map, keymap_sync, meta->key_map_gen, &ctx->kmap_checked, &ctx->kmap_ok)
               ? map : NULL;
}

/* The zone's index if it holds this snapshot's entries, else NULL (search the B-tree). Loaded for each
 * question, never kept: the indexer frees an index it replaced only once every batch that may have
 * loaded it has ended. */
static const struct store_index *zone_index(struct answer_ctx *ctx, int zi)
{
    const struct zone *z = &ctx->zones->zones[zi];
    if (!ctx->indexes || !z->slot)
        return NULL;
    const struct store_index *ix = atomic_load_explicit(&ctx->indexes[z->slot], memory_order_acquire);
    const struct zone_meta *meta = zone_meta(ctx, zi);
    if (!ix || ix->dbi != z->dbi || ix->serial != meta->serial || (ctx->meta_failed & 1ULL << zi))
        return NULL;
    ctx->index_used |= 1ULL << zi;
    return ix;
}

/* The key filter for the store's lookups, with the hashes prepare() worked out: the keys a domain
 * lookup tests are 'D' + a label suffix of prep->domain, one per length; an address lookup's are the
 * address's networks, one per prefix length, of prep->addr's family. map NULL: no filter, the hashes
 * only serve the index (with neither, pass no callback: nothing needs a hash). */
struct key_filter {
    const struct v4map *map;
    const struct answer_prep *prep;
};

static int domain_key_may_hold(const void *arg, const uint8_t *key, size_t klen, uint64_t *hash)
{
    const struct key_filter *f = arg;
    int i = 0;
    while (key[0] == 'D' && i < f->prep->nhash && f->prep->hash_tag[i] != klen)
        i++;
    *hash = key[0] == 'D' && i < f->prep->nhash ? f->prep->hash[i] : store_key_hash(key, klen);
    return !f->map || keymap_may_hold_hash(f->map, *hash);
}

/* The filter hash of a network key, from prep when prepare() worked it out. */
static uint64_t net_key_hash(const struct answer_prep *prep, const struct ipnet *net)
{
    if (prep->has_addr && prep->addr.family == net->addr.family)
        for (int i = 0; i < prep->nhash; i++)
            if (prep->hash_tag[i] == net->plen)
                return prep->hash[i];
    uint8_t key[18];
    return store_key_hash(key, store_key_net(net, key));
}

/* For an address lookup the zone_meta it is given is already narrowed by the filters (lookup_meta):
 * this only hands the index prep's hashes. */
static int net_key_may_hold(const void *arg, const uint8_t *key, size_t klen, uint64_t *hash)
{
    const struct key_filter *f = arg;
    const struct answer_prep *p = f->prep;
    int i = 0;
    if (p->has_addr && p->addr.family == key[0])    /* the key's family byte: ADDR_V4 or ADDR_V6 */
        while (i < p->nhash && p->hash_tag[i] != key[klen - 1])
            i++;
    else
        i = p->nhash;
    *hash = i < p->nhash ? p->hash[i] : store_key_hash(key, klen);
    return 1;
}

/* An IPv6 address: only the prefix lengths whose key the filter may hold need a B-tree get. Every
 * entry that covers the address, allow entries included, is one of those keys, so none is missed. */
static const struct zone_meta *lookup_meta_v6(struct answer_ctx *ctx, int zi, const struct answer_prep *prep,
                                              const struct ipaddr *a, const struct zone_meta *meta,
                                              struct zone_meta *narrowed)
{
    const struct v4map *map = zone_keymap(ctx, zi);
    if (!map)
        return meta;
    *narrowed = *meta;
    for (int w = 0; w < 3; w++)
        for (uint64_t bits = meta->v6_plens[w]; bits; bits &= bits - 1) {
            int plen = w * 64 + __builtin_ctzll(bits);
            struct ipnet net = { *a, (uint8_t)plen };
            net_clear_host_bits(&net);
            if (!keymap_may_hold_hash(map, net_key_hash(prep, &net)))
                narrowed->v6_plens[w] &= ~(1ULL << (plen % 64));
        }
    return narrowed;
}

/* Most questions are about addresses that are not listed. When the zone's /24 map says the address's
 * /24 holds no entry, only prefix lengths under 24 need a search (usually none: no B-tree at all).
 * Every entry that can cover the address with a prefix of 24 or more, allow entries included, lies in
 * its /24 and has its bit there, so the narrowed lookup still sees every covering entry it needs. */
static const struct zone_meta *lookup_meta(struct answer_ctx *ctx, int zi, const struct answer_prep *prep,
                                           const struct ipaddr *a, struct zone_meta *narrowed)
{
    const struct zone_meta *meta = zone_meta(ctx, zi);
    const struct zone *z = &ctx->zones->zones[zi];
    struct v4map *map = ctx->v4maps && z->slot ? ctx->v4maps[z->slot] : NULL;
    if (a->family == ADDR_V6)
        return lookup_meta_v6(ctx, zi, prep, a, meta, narrowed);
    if (!map || !map_usable(ctx, zi, map, v4map_sync, meta->v4_map_gen, &ctx->map_checked, &ctx->map_ok) ||
        v4map_may_hold(map, a->bytes))
        return meta;
    *narrowed = *meta;
    narrowed->v4_plens &= (1ULL << 24) - 1;
    return narrowed;
}

static void put_soa(struct answer_ctx *ctx, int zi, const struct dns_query *q, struct response *r)
{
    const struct zone *z = &ctx->zones->zones[zi];
    const struct zone_rr *soa = &z->rrs[z->soa];
    uint32_t serial = zone_meta(ctx, zi)->serial;
    size_t apex = DNS_HEADER_LEN + q->label_off[q->nlabels - z->nlabels];
    /* RFC 2308 3: the SOA of a negative answer lives min(its own TTL, MINIMUM) */
    put_rr_head(r, apex, DNS_TYPE_SOA, soa->ttl < z->negative_ttl ? soa->ttl : z->negative_ttl, soa->rdlen);
    put(r, soa->rdata, soa->rdlen - 20u);
    put32(r, serial ? serial : 1);
    put(r, soa->rdata + soa->rdlen - 16, 16);
    r->ns++;
}

/* Does a label of the owner start at offset off? */
static int label_boundary(const struct zone_rr *rr, size_t off)
{
    size_t pos = 0;
    while (pos < off && rr->owner[pos])
        pos += 1u + rr->owner[pos];
    return pos == off;
}

/* Apex records and anything else the apex file defines. Returns 1 if the name exists there. */
static int static_records(struct answer_ctx *ctx, int zi, const struct dns_query *q, struct response *r)
{
    const struct zone *z = &ctx->zones->zones[zi];
    int exists = q->nlabels == z->nlabels, any_type = 0;
    for (int i = 0; i < z->nrrs; i++) {
        const struct zone_rr *rr = &z->rrs[i];
        if (rr->owner_len != q->name_len || memcmp(rr->owner, q->name, q->name_len) != 0) {
            /* an owner below the name makes it an empty non-terminal: it exists (RFC 8020) */
            size_t below = rr->owner_len > q->name_len ? rr->owner_len - q->name_len : 0;
            if (below && !memcmp(rr->owner + below, q->name, q->name_len) && label_boundary(rr, below))
                exists = 1;
            continue;
        }
        exists = 1;
        if (q->qtype != rr->type && q->qtype != DNS_TYPE_ANY)
            continue;
        if (q->qtype == DNS_TYPE_ANY && !r->tcp && any_type && any_type != rr->type)
            continue;       /* RFC 8482: the first RRset only */
        any_type = rr->type;
        put_rr_head(r, DNS_HEADER_LEN, rr->type, rr->ttl, rr->rdlen);
        if (rr->type == DNS_TYPE_SOA) {
            put(r, rr->rdata, rr->rdlen - 20u);
            uint32_t serial = zone_meta(ctx, zi)->serial;
            put32(r, serial ? serial : 1);
            put(r, rr->rdata + rr->rdlen - 16, 16);
        } else {
            put(r, rr->rdata, rr->rdlen);
        }
        r->an++;
    }
    return exists;
}

static void label_view(const struct dns_query *q, int i, struct label *l)
{
    l->len = q->name[q->label_off[i]];
    l->p = q->name + q->label_off[i] + 1;
}

/* The part of the name below the zone as a domain ("mail.example.com"), -1 if it cannot be one. */
static int relative_domain(const struct dns_query *q, int rel, char *out, size_t cap)
{
    /* a-z 0-9 - _ as a bitmap of byte values: one test per byte, no branch */
    static const uint64_t host_chars[4] = { 0x03ff200000000000ULL, 0x07fffffe80000000ULL, 0, 0 };
    size_t pos = 0;
    uint64_t ok = 1;
    for (int i = 0; i < rel; i++) {
        struct label l;
        label_view(q, i, &l);
        if (pos + l.len + 1 > cap)
            return -1;
        for (int j = 0; j < l.len; j++) {
            uint8_t c = l.p[j];
            ok &= host_chars[c >> 6] >> (c & 63);
            out[pos + (size_t)j] = (char)c;
        }
        pos += l.len;
        out[pos++] = i + 1 < rel ? '.' : '\0';
    }
    return ok & 1 ? (int)pos - 1 : -1;
}

static void test_point(const struct zone *z, struct listing *l)
{
    static const char text[] = "RFC 5782 test point";
    memset(l, 0, sizeof *l);
    l->nreasons = 1;
    l->reasons[0].code = z->codes[z->default_code].addr;
    l->reasons[0].text = text;
    l->reasons[0].text_len = sizeof text - 1;
}

/* The IPv6 address 32 one-nibble labels name, read straight from the wire name (lower case, so only
 * 0-9 and a-f are nibbles): as addr_from_reversed, without a label array. -1 if they name none. */
static int question_v6(const struct dns_query *q, struct ipaddr *a)
{
    /* a table, not comparisons: random nibbles would make every other branch a misprediction;
     * it holds the value + 1, 0 for a character that is no nibble */
    static const uint8_t nibble[256] = {
        ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9,
        ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    };
    int bad = 0;
    memset(a, 0, sizeof *a);
    a->family = ADDR_V6;
    for (int i = 0; i < 32; i++) {
        int v = nibble[q->name[2 * i + 1]];
        bad |= (q->name[2 * i] != 1) | (v == 0);
        a->bytes[15 - i / 2] |= (uint8_t)(((v - 1) & 15) << (i % 2 * 4));  /* the last nibble comes first */
    }
    return bad ? -1 : 0;
}

/* The address the first rel labels name (4: IPv4, 32: IPv6), -1 if they name none. */
static int question_addr(const struct dns_query *q, int rel, struct ipaddr *a)
{
    struct label labels[32];
    if (rel == 32)
        return question_v6(q, a) < 0 ? (memset(a, 0, sizeof *a), -1) : 0;
    if (rel != 4)
        return -1;
    for (int i = 0; i < rel; i++)
        label_view(q, i, &labels[i]);
    return addr_from_reversed(labels, rel, a);
}

/* 1 listed, 0 not, -1 store error. addr gets the address an IP zone question names (formatted only
 * if a TXT answer needs it). */
static int lookup(struct answer_ctx *ctx, int zi, const struct dns_query *q, const struct answer_prep *prep,
                  struct listing *l, struct ipaddr *addr)
{
    const struct zone *z = &ctx->zones->zones[zi];
    int rel = q->nlabels - z->nlabels;
    if (z->kind == ZONE_IP) {
        struct ipaddr a;
        if (prep->has_addr)
            a = prep->addr;
        else if (question_addr(q, rel, &a) < 0)
            return 0;
        addr_unmap_v4(&a);      /* ::ffff:a.b.c.d is answered from the IPv4 listings */
        *addr = a;
        if (z->test_points && a.family == ADDR_V4 && a.bytes[0] == 127 && !a.bytes[1] && !a.bytes[2] &&
            (a.bytes[3] == 1 || a.bytes[3] == 2)) {
            test_point(z, l);
            return a.bytes[3] == 2;
        }
        struct zone_meta narrowed;
        const struct zone_meta *meta = lookup_meta(ctx, zi, prep, &a, &narrowed);
        const struct store_index *ix = zone_index(ctx, zi);    /* the hashes serve only the index */
        return store_lookup_ip_indexed(ctx->txn, z->dbi, ix, meta, &a, ctx->now, ix ? net_key_may_hold : NULL,
                                       &(struct key_filter){ NULL, prep }, l, NULL);
    }
    const char *name = prep->domain;
    int len = prep->domain_len;
    if (len < 0)
        return 0;
    if (z->test_points && (!strcmp(name, "test") || !strcmp(name, "invalid"))) {
        test_point(z, l);
        return name[0] == 't';
    }
    const struct v4map *map = zone_keymap(ctx, zi);
    const struct store_index *ix = zone_index(ctx, zi);
    return store_lookup_domain_filtered(ctx->txn, z->dbi, name, (size_t)len, ctx->now,
                                        map || ix ? domain_key_may_hold : NULL, &(struct key_filter){ map, prep },
                                        ix, l);
}

/* ---- empty non-terminals (RFC 8020) ----
 * A name above a listing exists although nothing is listed at it: "2.0.192" when 192.0.2.5 is, the
 * nibble names above a listed /64, "sub.example" when *.sub.example is. Such a name gets NODATA, never
 * NXDOMAIN, which a resolver that trusts NXDOMAIN (RFC 8020, QNAME minimisation) would apply to every
 * name below it. IPv4 and IPv6 names share ancestors ("1.0.0.2" is IPv4 2.0.0.1 and above every
 * 2001::/16 listing), so a name is tried as both. */

/* The network the first rel labels name, as IPv4 octets (v6 = 0) or IPv6 nibbles; -1 if they cannot. */
static int name_prefix(const struct dns_query *q, int rel, int v6, struct ipnet *out)
{
    struct label labels[32];
    if (rel < 1 || rel > 32)
        return -1;
    for (int i = 0; i < rel; i++)
        label_view(q, i, &labels[i]);
    return net_from_reversed(labels, rel, v6 ? ADDR_V6 : ADDR_V4, out);
}

static int prefix_exists(struct answer_ctx *ctx, int zi, const struct ipnet *p)
{
    const struct zone *z = &ctx->zones->zones[zi];
    static const struct ipaddr tp4 = { ADDR_V4, { 127, 0, 0, 2 } };
    static const struct ipaddr tp6 = { ADDR_V6, { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0, 0, 2 } };
    if (z->test_points && net_contains(p, p->addr.family == ADDR_V4 ? &tp4 : &tp6))
        return 1;
    return store_prefix_exists(ctx->txn, z->dbi, zone_meta(ctx, zi), p, ctx->now);
}

/* Would a child of the domain, one listed by no entry of its own, be listed, i.e. does a live wildcard
 * above the name cover its subdomains? Asked of "*.name" ('*' is in no stored key and no question),
 * whose lookup sees the wildcard entries at and above the name and the allow entries that take their
 * subdomains with them. 1, 0, or -1 on a store error. */
static int children_covered(struct answer_ctx *ctx, int zi, const struct answer_prep *prep)
{
    const struct zone *z = &ctx->zones->zones[zi];
    char child[DOMAIN_MAX + 1];
    struct listing l;
    if (prep->domain_len + 2 > DOMAIN_MAX)
        return 0;       /* no room for a child */
    int len = snprintf(child, sizeof child, "*.%s", prep->domain);
    const struct v4map *map = zone_keymap(ctx, zi);    /* the name's suffixes are the child's: prep's */
    const struct store_index *ix = zone_index(ctx, zi);    /* hashes serve */
    return store_lookup_domain_filtered(ctx->txn, z->dbi, child, (size_t)len, ctx->now,
                                        map || ix ? domain_key_may_hold : NULL, &(struct key_filter){ map, prep },
                                        ix, &l);
}

/* Does the name exist although nothing is listed at it (l: what the lookup found)? 1, 0, or -1 on a
 * store error. */
static int empty_non_terminal(struct answer_ctx *ctx, int zi, const struct dns_query *q,
                              const struct answer_prep *prep, const struct listing *l)
{
    const struct zone *z = &ctx->zones->zones[zi];
    int rel = q->nlabels - z->nlabels, rc = 0;
    struct ipnet p;
    if (z->kind != ZONE_IP) {       /* "*.sub.example" is listed: store_lookup_domain says so */
        if ((l->flags & LISTING_SUBDOMAINS) && !(l->flags & LISTING_ALLOW))
            return 1;
        /* "a.sub.example" is: the descendant index says so */
        int len = z->kind == ZONE_DOMAIN ? prep->domain_len : -1;
        if (len <= 0)               /* (account names are one label: nothing is below them) */
            return 0;
        if ((l->flags & LISTING_ALLOW) && !(l->flags & LISTING_WILDCARD)) {
            int covered = children_covered(ctx, zi, prep);  /* allowed alone: its children may be listed */
            if (covered != 0)
                return covered;
        }
        const struct zone_meta *meta = zone_meta(ctx, zi);
        const struct v4map *map = meta->key_map_format == STORE_KEY_MAP_FORMAT ? zone_keymap(ctx, zi) : NULL;
        if (map && !keymap_may_hold_hash(map, prep->parent_hash))
            return 0;               /* the filter: no domain key below the name (the common miss) */
        return store_domain_has_listed_descendant(ctx->txn, z->dbi, meta, prep->domain, (size_t)len, ctx->now);
    }
    if (rel < 4 && name_prefix(q, rel, 0, &p) == 0)
        rc = prefix_exists(ctx, zi, &p);
    if (rc == 0 && rel < 32 && name_prefix(q, rel, 1, &p) == 0)
        rc = prefix_exists(ctx, zi, &p);
    return rc;
}

/* The strings of a TXT record (at most 255 bytes each): each ends after a space where one falls in
 * its last 64 bytes, so that a reader joining them never sees a word cut in two. */
static void put_txt(struct response *r, uint32_t ttl, const char *text, size_t n)
{
    uint16_t ends[TXT_MAX];
    size_t nstr = 0, off = 0;
    do {
        size_t end = n - off > 255 ? off + 255 : n;
        for (size_t i = end; end < n && i > end - 64; i--)
            if (text[i - 1] == ' ') {
                end = i;
                break;
            }
        ends[nstr++] = (uint16_t)end;
        off = end;
    } while (off < n);
    put_rr_head(r, DNS_HEADER_LEN, DNS_TYPE_TXT, ttl, (uint16_t)(n + nstr));
    off = 0;
    for (size_t i = 0; i < nstr; i++) {
        uint8_t len = (uint8_t)(ends[i] - off);
        put(r, &len, 1);
        put(r, text + off, len);
        off = ends[i];
    }
    r->an++;
}

static void put_listing(struct answer_ctx *ctx, int zi, const struct dns_query *q, const struct answer_prep *prep,
                        const struct listing *l, const struct ipaddr *addr, struct response *r)
{
    const struct zone *z = &ctx->zones->zones[zi];
    uint32_t ttl = listing_ttl(z, l, ctx->now);
    if (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY) {
        uint32_t codes[LISTING_MAX_REASONS];
        int n = listing_live_codes(l, ctx->now, codes);
        for (int i = 0; i < n; i++) {
            put_rr_head(r, DNS_HEADER_LEN, DNS_TYPE_A, ttl, 4);
            put32(r, codes[i]);
            r->an++;
        }
    }
    if (q->qtype == DNS_TYPE_TXT || (q->qtype == DNS_TYPE_ANY && r->tcp)) {
        char text[TXT_MAX], formatted[DOMAIN_MAX + 1];
        const char *subject = prep->domain;     /* {addr} in the template: the domain, or the address */
        if (prep->domain_len < 0)
            subject = addr_format(addr, formatted, sizeof formatted);
        put_txt(r, ttl, text, listing_txt(z, l, ctx->now, subject, text, sizeof text));
    }
}

static void resolve(struct answer_ctx *ctx, int zi, const struct dns_query *q, const struct answer_prep *prep,
                    struct response *r)
{
    struct listing l;
    struct ipaddr addr;
    r->aa = 1;
    if (static_records(ctx, zi, q, r)) {
        if (r->an == 0)
            put_soa(ctx, zi, q, r);
        return;
    }
    l.flags = l.nreasons = 0;
    int listed = lookup(ctx, zi, q, prep, &l, &addr);
    if (listed < 0) {
        r->store_failed = 1;
        return;
    }
    if (listed) {
        put_listing(ctx, zi, q, prep, &l, &addr, r);
    } else {
        int exists = empty_non_terminal(ctx, zi, q, prep, &l);
        if (exists < 0) {
            r->store_failed = 1;
            return;
        }
        r->rcode = exists ? RCODE_NOERROR : RCODE_NXDOMAIN;
    }
    if (r->an == 0)
        put_soa(ctx, zi, q, r);
}

/* One policy for a failed store read, in every zone kind: SERVFAIL (RFC 2308 7.1: the server cannot
 * say), never an answer built from what could not be read, and not NXDOMAIN, which caches. The zone's
 * meta record counts too: without it an IP zone would search no prefix at all. */
static void resolve_or_fail(struct answer_ctx *ctx, int zi, const struct dns_query *q,
                            const struct answer_prep *prep, struct response *r)
{
    resolve(ctx, zi, q, prep, r);
    if (ctx->meta_failed & (1ULL << zi))
        r->store_failed = 1;
}

/* The zone whose name is the longest suffix of the question, or -1. */
static int find_zone(const struct zoneset *zs, const struct dns_query *q)
{
    int best = -1;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        if (z->nlabels > q->nlabels || (best >= 0 && zs->zones[best].nlabels >= z->nlabels))
            continue;
        size_t off = q->label_off[q->nlabels - z->nlabels];
        if (q->name_len - off == z->wire_len && memcmp(q->name + off, z->wire, z->wire_len) == 0)
            best = i;
    }
    return best;
}

static size_t udp_limit(const struct dns_query *q)
{
    if (!q->edns || q->edns_size <= 512)
        return 512;
    return q->edns_size < ANSWER_EDNS_SIZE ? q->edns_size : ANSWER_EDNS_SIZE;
}

static void put_opt(struct response *r, uint8_t rcode, uint8_t dnssec_ok)
{
    static const uint8_t root = 0;
    put(r, &root, 1);
    put16(r, DNS_TYPE_OPT);
    put16(r, ANSWER_EDNS_SIZE);
    /* extended rcode, version 0, the DO bit as the query had it (RFC 3225) */
    put32(r, (uint32_t)(rcode >> 4) << 24 | (uint32_t)(dnssec_ok ? 0x8000 : 0));
    put16(r, 0);
}

/* IXFR over UDP (RFC 1995 4): the current SOA alone, which sends the client to TCP for the rest. */
static void ixfr_udp(struct answer_ctx *ctx, int zi, const struct dns_query *q, struct response *r)
{
    const struct zone *z = &ctx->zones->zones[zi];
    if (q->nlabels != z->nlabels) {
        r->rcode = RCODE_REFUSED;
        return;
    }
    r->aa = 1;
    struct dns_query soa = *q;
    soa.qtype = DNS_TYPE_SOA;
    static_records(ctx, zi, &soa, r);
    if (ctx->meta_failed & (1ULL << zi))
        r->store_failed = 1;
}

static void write_header(uint8_t *out, const struct dns_query *q, const struct response *r,
                         int tc, uint16_t qd, uint16_t ar)
{
    out[0] = (uint8_t)(q->id >> 8);
    out[1] = (uint8_t)q->id;
    out[2] = (uint8_t)(0x80 | q->opcode << 3 | (r->aa ? 0x04 : 0) | (tc ? 0x02 : 0) | q->rd);
    out[3] = (uint8_t)(q->cd | (r->rcode & 0x0f));
    uint16_t counts[4] = { qd, r->an, r->ns, ar };
    for (int i = 0; i < 4; i++) {
        out[4 + 2 * i] = (uint8_t)(counts[i] >> 8);
        out[5 + 2 * i] = (uint8_t)counts[i];
    }
}

/* hash[] for a domain zone: 'D' + each label suffix of the name, longest first (a longer name's
 * remaining suffixes are hashed when looked up), and the name's 'P' key. */
static void hash_domain_keys(struct answer_prep *p)
{
    uint8_t key[STORE_KEY_MAX];
    int n = p->domain_len;
    if (n <= 0)
        return;
    store_key_domain(p->domain, (size_t)n, key);
    for (int off = 0; off < n && p->nhash < ANSWER_PREP_HASHES;) {
        size_t klen = (size_t)(n - off) + 1;
        key[off] = 'D';     /* the suffix's key: 'D' over the dot before it */
        p->hash_tag[p->nhash] = (uint16_t)klen;
        p->hash[p->nhash++] = store_key_hash(key + off, klen);
        const char *dot = memchr(p->domain + off, '.', (size_t)(n - off));
        off = dot ? (int)(dot - p->domain) + 1 : n;
    }
    p->parent_hash = store_key_hash(key, store_key_parent(p->domain, (size_t)n, key));
}

/* hash[] for an address question: its network keys at the prefix lengths the zone had at the last
 * snapshot read (a hint: lookup_meta_v6 hashes any other length itself). */
static void hash_net_keys(const struct answer_ctx *ctx, int zi, struct answer_prep *p)
{
    if (!(ctx->meta_valid & (1ULL << zi)))
        return;
    const struct zone_meta *meta = &ctx->meta[zi];
    int v4 = p->addr.family == ADDR_V4;
    for (int w = 0; w < (v4 ? 1 : 3); w++)
        for (uint64_t bits = v4 ? meta->v4_plens : meta->v6_plens[w]; bits && p->nhash < ANSWER_PREP_HASHES;
             bits &= bits - 1) {
            struct ipnet net = { p->addr, (uint8_t)(w * 64 + __builtin_ctzll(bits)) };
            uint8_t key[18];
            net_clear_host_bits(&net);
            p->hash_tag[p->nhash] = net.plen;
            p->hash[p->nhash++] = store_key_hash(key, store_key_net(&net, key));
        }
}

/* The zone's index, whatever snapshot it holds: only to prefetch from. */
static const struct store_index *prefetch_index(const struct answer_ctx *ctx, const struct zone *z)
{
    const struct store_index *ix = ctx->indexes && z->slot
                                 ? atomic_load_explicit(&ctx->indexes[z->slot], memory_order_acquire) : NULL;
    return ix && ix->dbi == z->dbi ? ix : NULL;
}

static void prepare(const struct answer_ctx *ctx, const struct dns_query *q, struct answer_prep *p)
{
    p->zone = -1;
    p->domain_len = -1;
    p->domain[0] = '\0';
    p->has_addr = 0;
    p->nhash = 0;
    if (q->status != QUERY_OK || (p->zone = find_zone(ctx->zones, q)) < 0)
        return;
    const struct zone *z = &ctx->zones->zones[p->zone];
    int rel = q->nlabels - z->nlabels;
    if (z->kind != ZONE_IP) {
        p->domain_len = relative_domain(q, rel, p->domain, sizeof p->domain);
        hash_domain_keys(p);
    } else if ((rel == 4 || rel == 32) && question_addr(q, rel, &p->addr) == 0) {
        p->has_addr = 1;    /* IPv4: hashed only for the index's prefetch */
        if (p->addr.family == ADDR_V6 || prefetch_index(ctx, z))
            hash_net_keys(ctx, p->zone, p);
    }
}

void answer_prefetch(const struct answer_ctx *ctx, const struct dns_query *q, struct answer_prep *prep)
{
    prepare(ctx, q, prep);
    if (q->status != QUERY_OK)
        return;
    const struct zone *z = prep->zone >= 0 ? &ctx->zones->zones[prep->zone] : NULL;
    const struct v4map *map = z && ctx->keymaps && z->slot ? ctx->keymaps[z->slot] : NULL;
    for (int i = 0; map && i < prep->nhash; i++)
        keymap_prefetch_hash(map, prep->hash[i]);
    if (map && prep->domain_len > 0)
        keymap_prefetch_hash(map, prep->parent_hash);
    const struct store_index *ix = z && !map ? prefetch_index(ctx, z) : NULL;
    for (int i = 0; ix && i < prep->nhash; i++)     /* (with a filter: answer_prefetch_index) */
        store_index_prefetch(ix, prep->hash[i]);
    struct v4map *map4 = prep->has_addr && ctx->v4maps && z->slot ? ctx->v4maps[z->slot] : NULL;
    if (map4) {
        struct ipaddr a = prep->addr;
        addr_unmap_v4(&a);  /* as lookup() does: ::ffff:a.b.c.d is an IPv4 question */
        if (a.family == ADDR_V4)
            v4map_prefetch(map4, a.bytes);
    }
}

void answer_prefetch_index(const struct answer_ctx *ctx, const struct answer_prep *prep)
{
    const struct zone *z = prep->zone >= 0 ? &ctx->zones->zones[prep->zone] : NULL;
    const struct v4map *map = z && ctx->keymaps && z->slot ? ctx->keymaps[z->slot] : NULL;
    const struct store_index *ix = map ? prefetch_index(ctx, z) : NULL;
    for (int i = 0; ix && i < prep->nhash; i++)
        if (keymap_may_hold_hash(map, prep->hash[i]))
            store_index_prefetch(ix, prep->hash[i]);
}

void answer_ctx_invalidate(struct answer_ctx *ctx)
{
    ctx->meta_valid = ctx->map_checked = ctx->kmap_checked = ctx->meta_failed = 0;
    ctx->txnid = (size_t)-1;
}

size_t answer_parsed(struct answer_ctx *ctx, const struct dns_query *q, const struct answer_prep *prep,
                     const uint8_t *pkt, uint8_t *out, size_t outcap, int tcp, struct answer_info *info)
{
    struct answer_prep own;
    if (!prep) {
        prepare(ctx, q, &own);
        prep = &own;
    }
    enum query_status st = q->status;
    struct response r = { .buf = out, .len = DNS_HEADER_LEN, .tcp = (uint8_t)(tcp != 0) };
    info->zone = -1;
    info->qtype = q->qtype;
    info->listed = 0;
    if (st == QUERY_DROP)
        return 0;
    size_t limit = tcp ? 65535 : udp_limit(q);
    if (limit > outcap)
        limit = outcap;
    size_t opt_len = q->edns ? 11 : 0;
    r.cap = limit - opt_len;
    put(&r, pkt + DNS_HEADER_LEN, q->question_end ? q->question_end - DNS_HEADER_LEN : 0);
    size_t question_end = r.len;
    if (st == QUERY_FORMERR) r.rcode = RCODE_FORMERR;
    else if (st == QUERY_NOTIMP) r.rcode = RCODE_NOTIMP;
    else if (st == QUERY_BADVERS) r.rcode = RCODE_BADVERS;
    else if (q->qclass != DNS_CLASS_IN && q->qclass != DNS_CLASS_ANY) r.rcode = RCODE_REFUSED;
    else if (!tcp && q->qtype == DNS_TYPE_AXFR) r.full = 1;      /* TCP only */
    else if ((info->zone = prep->zone) < 0) r.rcode = RCODE_REFUSED;
    else if (q->qtype == DNS_TYPE_IXFR && !tcp) ixfr_udp(ctx, info->zone, q, &r);
    else resolve_or_fail(ctx, info->zone, q, prep, &r);
    if (r.store_failed) {   /* whatever was written came from a store that failed: none of it */
        r.len = question_end;
        r.an = r.ns = 0;
        r.full = 0;
        r.rcode = RCODE_SERVFAIL;
    }
    int tc = r.full;
    if (tc) {               /* RFC 2181 9: drop the sections, keep the question, set TC */
        r.len = question_end;
        r.an = r.ns = 0;
        r.full = 0;
    }
    r.cap = limit;
    if (q->edns)
        put_opt(&r, r.rcode, q->edns_do);
    write_header(out, q, &r, tc, q->question_end ? 1 : 0, q->edns ? 1 : 0);
    info->rcode = r.rcode;
    info->listed = r.rcode == RCODE_NOERROR && r.an > 0 && q->nlabels > 0 && info->zone >= 0 &&
                   q->nlabels > ctx->zones->zones[info->zone].nlabels;
    return r.len;
}

size_t answer_query(struct answer_ctx *ctx, const uint8_t *pkt, size_t len, uint8_t *out,
                    size_t outcap, int tcp, struct answer_info *info)
{
    struct dns_query q;
    query_parse(pkt, len, &q);
    return answer_parsed(ctx, &q, NULL, pkt, out, outcap, tcp, info);
}
