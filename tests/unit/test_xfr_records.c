/* test_xfr_records.c - the records a zone transfer gives, resolved by the ordinary DNS rules (an
 * exact name, else the wildcard of the closest existing ancestor, RFC 4592), answer every name as
 * answer_query does: random overlapping IPv4 and IPv6 networks and wildcard domains, compared name
 * by name; plus the expansions, fill-ins, holes and test points one by one. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "query.h"
#include "testutil.h"
#include "xfr_records.h"

#define NOW 1700000000u
#define CODE(d) (0x7f000000u | (d))

static struct zoneset zs;
static struct store st;
static char dir[64];

struct rec {
    char owner[260];            /* relative to the zone, "" for the apex, "*" labels as they are */
    uint16_t type;
    uint32_t a;
    char txt[256];              /* the first string of a TXT */
};
static struct rec *recs;
static int listed_seen;         /* names the random tests found listed */
static size_t nrecs, caprecs;
static struct xfr_stats stats;

static void setup(void)
{
    shipped_store_open(&zs, &st, dir, sizeof dir, "test_xfr");
}

static void teardown(void)
{
    free(recs);
    recs = NULL;
    nrecs = caprecs = 0;
    shipped_store_close(&zs, &st, dir);
}

TestSuite(xfr, .init = setup, .fini = teardown);

/* ---- the store ---- */

static void put(struct store_txn *w, const char *zname, const char *entry, uint8_t flags, uint32_t code,
                uint32_t expires)
{
    struct zone *z = zoneset_find(&zs, zname);
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    if (z->kind == ZONE_IP) {
        struct ipnet net;
        cr_assert_geq(net_parse(entry, &net), 0, "%s", entry);
        klen = store_key_net(&net, key);
    } else {
        klen = store_key_domain(entry, strlen(entry), key);
    }
    struct listing l = { .flags = flags, .nreasons = 1, .since = NOW - 10 };
    l.reasons[0] = (struct reason){ code, expires, 0, "" };
    cr_assert_eq(store_put(w, z->dbi, key, klen, &l, 0), 0);
}

static void put1(const char *zname, const char *entry, uint8_t flags, uint32_t code)
{
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    put(&w, zname, entry, flags, code, 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

/* ---- the records ---- */

static int collect(void *ud, const struct xfr_rr *rr)
{
    (void)ud;
    if (nrecs == caprecs) {
        caprecs = caprecs ? caprecs * 2 : 1024;
        recs = realloc(recs, caprecs * sizeof *recs);
    }
    struct rec *r = &recs[nrecs++];
    size_t o = 0;
    for (size_t p = 0; p < rr->rel_len; p += 1u + rr->rel[p]) {
        o += (size_t)snprintf(r->owner + o, sizeof r->owner - o, "%s%.*s", o ? "." : "", rr->rel[p], rr->rel + p + 1);
    }
    r->owner[o] = '\0';
    r->type = rr->type;
    r->a = rr->type == DNS_TYPE_A ? (uint32_t)rr->rdata[0] << 24 | rr->rdata[1] << 16 | rr->rdata[2] << 8 | rr->rdata[3] : 0;
    r->txt[0] = '\0';
    if (rr->type == DNS_TYPE_TXT)
        snprintf(r->txt, sizeof r->txt, "%.*s", rr->rdata[0], rr->rdata + 1);
    return 0;
}

static void generate(const char *zname)
{
    MDB_txn *txn;
    nrecs = 0;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(xfr_records(zoneset_find(&zs, zname), txn, NOW, collect, NULL, &stats), 0);
    mdb_txn_abort(txn);
}

static int has_owner(const char *name)
{
    for (size_t i = 0; i < nrecs; i++)
        if (!strcmp(recs[i].owner, name))
            return 1;
    return 0;
}

/* Does the name exist in the zone: an owner, or an ancestor of one (an empty non-terminal)? */
static int exists(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return 1;
    for (size_t i = 0; i < nrecs; i++) {
        size_t m = strlen(recs[i].owner);
        if (!strcmp(recs[i].owner, name) || (m > n && recs[i].owner[m - n - 1] == '.' && !strcmp(recs[i].owner + m - n, name)))
            return 1;
    }
    return 0;
}

static void a_set(const char *owner, char *out, size_t cap)
{
    uint32_t a[16];
    int n = 0;
    for (size_t i = 0; i < nrecs && n < 16; i++)
        if (recs[i].type == DNS_TYPE_A && !strcmp(recs[i].owner, owner))
            a[n++] = recs[i].a;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && a[j] < a[j - 1]; j--) {
            uint32_t t = a[j];
            a[j] = a[j - 1], a[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%u ", a[i] & 255);
}

/* What a secondary answers from the records: RFC 1034 4.3.2 with RFC 4592 wildcards. */
static void secondary(const char *name, char *out, size_t cap)
{
    char wild[300];
    if (has_owner(name) || exists(name)) {     /* an empty non-terminal: NODATA, no wildcard */
        a_set(name, out, cap);
        return;
    }
    const char *enc = name;
    while (*enc) {                              /* the closest encloser: the nearest existing ancestor */
        const char *dot = strchr(enc, '.');
        enc = dot ? dot + 1 : "";
        if (exists(enc))
            break;
    }
    snprintf(wild, sizeof wild, "*%s%s", *enc ? "." : "", enc);
    if (has_owner(wild))
        a_set(wild, out, cap);
    else
        out[0] = '\0';
}

/* What answer_query says for NAME.ZONE A: the codes' last octets, sorted. */
static void primary(MDB_txn *txn, const char *zname, const char *name, char *out, size_t cap)
{
    uint8_t q[512], resp[4096];
    size_t len = 0;
    char full[400];
    snprintf(full, sizeof full, "%s.%s", name, zname);
    memcpy(q, "\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
    len = 12;
    for (char *s = full; *s;) {
        size_t n = strcspn(s, ".");
        q[len++] = (uint8_t)n;
        memcpy(q + len, s, n);
        len += n;
        s += n + (s[n] == '.');
    }
    memcpy(q + len, "\x00\x00\x01\x00\x01", 5);
    len += 5;
    struct answer_ctx ctx = { .zones = &zs, .txn = txn, .now = NOW + 1 };
    struct answer_info info;
    answer_ctx_invalidate(&ctx);
    size_t n = answer_query(&ctx, q, len, resp, sizeof resp, 1, &info);
    cr_assert_gt(n, 12u);
    uint32_t a[16];
    int na = 0, an = resp[6] << 8 | resp[7];
    size_t p = len;
    for (int i = 0; i < an && na < 16; i++) {   /* owners are pointers: 2 bytes */
        int type = resp[p + 2] << 8 | resp[p + 3], rdlen = resp[p + 10] << 8 | resp[p + 11];
        if (type == DNS_TYPE_A)
            a[na++] = resp[p + 12 + 3];
        p += 12u + (size_t)rdlen;
    }
    for (int i = 1; i < na; i++)
        for (int j = i; j > 0 && a[j] < a[j - 1]; j--) {
            uint32_t t = a[j];
            a[j] = a[j - 1], a[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < na; i++)
        o += (size_t)snprintf(out + o, cap - o, "%u ", a[i]);
}

static void agree(MDB_txn *txn, const char *zname, const char *name)
{
    char want[200], got[200];
    primary(txn, zname, name, want, sizeof want);
    secondary(name, got, sizeof got);
    cr_assert_str_eq(got, want, "%s.%s: the server says [%s], the records [%s]", name, zname, want, got);
    listed_seen += want[0] != '\0';
}

static const char *rev4(uint32_t a, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u", a & 255, (a >> 8) & 255, (a >> 16) & 255, a >> 24);
    return buf;
}

static const char *rev6(const uint8_t *b, char *buf, size_t cap)
{
    size_t o = 0;
    for (int i = 31; i >= 0; i--)
        o += (size_t)snprintf(buf + o, cap - o, "%x%s", (b[i / 2] >> (i % 2 ? 0 : 4)) & 15, i ? "." : "");
    return buf;
}

/* ---- random zones: every name answers alike ---- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* Addresses of 10.0-3.0-7.x: dense enough that networks of every length overlap. */
static uint32_t rnd_v4(void) { return 0x0a000000u | (rnd() % 4) << 16 | (rnd() % 8) << 8 | rnd() % 256; }

static void rnd_v6(uint8_t *b)
{
    static const uint8_t base[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    memcpy(b, base, 16);
    b[5] = (uint8_t)(rnd() % 3);               /* 2001:db8:00N::/48 */
    b[7] = (uint8_t)(rnd() % 3 * 16);
    b[15] = (uint8_t)(rnd() % 4 | (rnd() % 2) << 4);
}

Test(xfr, random_ip_networks_answer_alike)
{
    static const int plens4[] = { 8, 12, 14, 16, 19, 20, 22, 24, 26, 28, 30, 31, 32, 32, 32 };
    static const int plens6[] = { 32, 44, 48, 52, 56, 62, 64, 96, 120, 124, 125, 127, 128, 128 };
    struct store_txn w;
    char text[80], name[200];
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (int i = 0; i < 300; i++) {
        uint32_t a = rnd_v4(), code = CODE(2 + rnd() % 5), exp = rnd() % 10 ? 0 : NOW - 5;
        int plen = plens4[rnd() % (sizeof plens4 / sizeof *plens4)];
        snprintf(text, sizeof text, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, plen);
        struct ipnet net;
        net_parse(text, &net);
        net_format(&net, text, sizeof text);
        put(&w, "bl.example", text, 0, code, exp);
    }
    for (int i = 0; i < 150; i++) {
        struct ipnet net = { .addr.family = ADDR_V6, .plen = (uint8_t)plens6[rnd() % (sizeof plens6 / sizeof *plens6)] };
        rnd_v6(net.addr.bytes);
        net_clear_host_bits(&net);
        put(&w, "bl.example", net_format(&net, text, sizeof text), 0, CODE(2 + rnd() % 5), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    generate("bl.example");
    cr_assert_eq(stats.holes, 0);
    cr_assert_eq(stats.skipped, 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    for (int i = 0; i < 1500; i++)
        agree(txn, "bl.example", rev4(rnd_v4(), name, sizeof name));
    for (int i = 0; i < 1500; i++) {
        uint8_t b[16];
        rnd_v6(b);
        agree(txn, "bl.example", rev6(b, name, sizeof name));
    }
    mdb_txn_abort(txn);
    cr_assert_gt(listed_seen, 1000, "the random names hit listings often");
    cr_assert_gt(stats.fills, 10, "and need fill-in wildcards");
}

Test(xfr, random_domains_answer_alike)
{
    static const char *const labels[] = { "a", "b", "c" };
    static const uint8_t flags[] = { 0, 0, LISTING_WILDCARD, LISTING_WILDCARD | LISTING_SUBDOMAINS };
    struct store_txn w;
    char name[200];
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (int i = 0; i < 60; i++) {
        size_t o = 0;
        for (int d = 0, depth = 1 + (int)(rnd() % 4); d < depth; d++)
            o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", d ? "." : "", labels[rnd() % 3]);
        put(&w, "dbl.example", name, flags[rnd() % 4], CODE(0x100 | (rnd() % 2 ? 3 : 5)), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    generate("dbl.example");
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    for (int i = 0; i < 1500; i++) {
        size_t o = 0;
        for (int d = 0, depth = 1 + (int)(rnd() % 5); d < depth; d++)
            o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", d ? "." : "", labels[rnd() % 3]);
        agree(txn, "dbl.example", name);
    }
    mdb_txn_abort(txn);
    cr_assert_gt(listed_seen, 300, "the random names hit listings often");
    cr_assert_gt(stats.fills, 3, "and need fill-ins");
}

/* ---- one by one ---- */

Test(xfr, networks_become_wildcards_at_boundaries)
{
    put1("bl.example", "192.0.2.0/24", 0, CODE(2));
    put1("bl.example", "198.51.0.0/16", 0, CODE(3));
    put1("bl.example", "10.0.0.0/20", 0, CODE(4));
    put1("bl.example", "203.0.113.0/30", 0, CODE(5));
    put1("bl.example", "2001:db8:1:2::/64", 0, CODE(6));
    put1("bl.example", "2001:db8:ff::/47", 0, CODE(6));
    generate("bl.example");
    cr_assert(has_owner("*.2.0.192"));
    cr_assert(has_owner("*.51.198"));
    cr_assert(has_owner("*.0.0.10") && has_owner("*.15.0.10") && !has_owner("*.16.0.10"));
    cr_assert(has_owner("0.113.0.203") && has_owner("3.113.0.203") && !has_owner("4.113.0.203"));
    cr_assert(has_owner("*.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"), "a /64: 16 nibbles");
    cr_assert(has_owner("*.e.f.0.0.8.b.d.0.1.0.0.2") && has_owner("*.f.f.0.0.8.b.d.0.1.0.0.2"), "a /47: two /48");
    cr_assert(has_owner("2.0.0.127") && has_owner("2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"),
              "the test points");
    cr_assert_not(has_owner("1.0.0.127"));
    cr_assert_eq(stats.entries, 6);
}

Test(xfr, a_listing_inside_a_network_gets_the_network_beside_it)
{
    put1("bl.example", "198.51.0.0/16", 0, CODE(3));
    put1("bl.example", "198.51.100.9", 0, CODE(2));
    generate("bl.example");
    cr_assert(has_owner("*.100.51.198"), "the /16 repeated at the /24 the /32 makes exist");
    char a[64];
    a_set("*.100.51.198", a, sizeof a);
    cr_assert_str_eq(a, "3 ");
    cr_assert_eq(stats.fills, 1);
}

Test(xfr, allow_holes_are_expressed_by_the_wildcards_siblings)
{
    put1("bl.example", "198.51.0.0/16", 0, CODE(3));
    put1("bl.example", "198.51.100.0/24", LISTING_ALLOW, 0);
    put1("bl.example", "198.51.100.9", 0, CODE(2));              /* inside the allowed /24: not listed */
    put1("bl.example", "198.51.7.7", LISTING_ALLOW, 0);
    generate("bl.example");
    cr_assert_not(has_owner("*.51.198"), "the /16's wildcard would answer the holes");
    cr_assert(has_owner("*.99.51.198") && has_owner("*.255.51.198"), "its siblings stand in for it");
    cr_assert_not(has_owner("*.100.51.198") || has_owner("*.7.51.198"), "not where the holes are");
    cr_assert(has_owner("6.7.51.198") && !has_owner("7.7.51.198"), "the /32 hole: its 255 siblings by name");
    cr_assert_not(has_owner("9.100.51.198"), "the /32 is inside the allowed /24: not listed");
    cr_assert_eq(stats.holes, 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    static const char *const names[] = { "5.99.51.198", "5.100.51.198", "9.100.51.198", "7.7.51.198", "8.7.51.198",
                                         "0.0.51.198", "255.255.51.198", "7.7.52.198" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        agree(txn, "bl.example", names[i]);
    mdb_txn_abort(txn);
}

Test(xfr, random_allow_holes_answer_alike)
{
    static const int plens4[] = { 8, 16, 16, 20, 24, 24, 26, 32, 32 };
    static const int aplens4[] = { 16, 24, 26, 30, 32, 32, 32 };
    static const int plens6[] = { 32, 48, 64, 64, 120, 128 };
    static const int aplens6[] = { 56, 64, 124, 128, 128 };
    struct store_txn w;
    char text[80], name[200];
    uint32_t allows[60];
    uint8_t allows6[30][16];
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (int i = 0; i < 80; i++) {
        uint32_t a = rnd_v4();
        int allow = i < 60, plen = allow ? aplens4[rnd() % 7] : plens4[rnd() % 9];
        struct ipnet net;
        snprintf(text, sizeof text, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, plen);
        net_parse(text, &net);
        net_clear_host_bits(&net);
        if (allow)
            allows[i] = a;
        put(&w, "bl.example", net_format(&net, text, sizeof text), allow ? LISTING_ALLOW : 0, allow ? 0 : CODE(2 + rnd() % 5), 0);
    }
    put(&w, "bl.example", "10.0.0.0/8", 0, CODE(4), 0);
    for (int i = 0; i < 45; i++) {
        int allow = i < 30;
        struct ipnet net = { .addr.family = ADDR_V6, .plen = (uint8_t)(allow ? aplens6[rnd() % 5] : plens6[rnd() % 6]) };
        rnd_v6(net.addr.bytes);
        if (allow)
            memcpy(allows6[i], net.addr.bytes, 16);
        net_clear_host_bits(&net);
        put(&w, "bl.example", net_format(&net, text, sizeof text), allow ? LISTING_ALLOW : 0, allow ? 0 : CODE(2 + rnd() % 5), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    generate("bl.example");
    cr_assert_eq(stats.holes, 0, "every allow hole is expressed");
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    for (int i = 0; i < 60; i++) {
        agree(txn, "bl.example", rev4(allows[i], name, sizeof name));
        agree(txn, "bl.example", rev4(allows[i] ^ 1, name, sizeof name));
        agree(txn, "bl.example", rev4(allows[i] ^ 0x100, name, sizeof name));
    }
    for (int i = 0; i < 30; i++) {
        agree(txn, "bl.example", rev6(allows6[i], name, sizeof name));
        allows6[i][15] ^= 1;
        agree(txn, "bl.example", rev6(allows6[i], name, sizeof name));
    }
    for (int i = 0; i < 1500; i++)
        agree(txn, "bl.example", rev4(rnd_v4(), name, sizeof name));
    for (int i = 0; i < 1000; i++) {
        uint8_t b[16];
        rnd_v6(b);
        agree(txn, "bl.example", rev6(b, name, sizeof name));
    }
    mdb_txn_abort(txn);
}

Test(xfr, covering_listings_add_their_reasons_and_allow_entries_shield)
{
    put1("bl.example", "198.51.100.0/24", LISTING_MANUAL, CODE(3));
    put1("bl.example", "198.51.100.9", 0, CODE(2));
    put1("bl.example", "203.0.0.0/16", LISTING_ALLOW, 0);
    put1("bl.example", "203.0.113.0/24", 0, CODE(4));
    put1("bl.example", "203.0.113.9", 0, CODE(2));
    put1("bl.example", "2001:db8:cc::/48", LISTING_MANUAL, CODE(3));
    put1("bl.example", "2001:db8:cc:1::9", 0, CODE(2));
    generate("bl.example");
    char a[64];
    a_set("9.100.51.198", a, sizeof a);
    cr_assert_str_eq(a, "2 3 ", "the /32 answers the /24's code too");
    cr_assert_not(has_owner("9.113.0.203") || has_owner("*.113.0.203"), "inside the allowed /16");
    a_set("9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.c.c.0.0.8.b.d.0.1.0.0.2", a, sizeof a);
    cr_assert_str_eq(a, "2 3 ");
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    agree(txn, "bl.example", "9.100.51.198");
    agree(txn, "bl.example", "8.100.51.198");
    agree(txn, "bl.example", "9.113.0.203");
    agree(txn, "bl.example", "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.c.c.0.0.8.b.d.0.1.0.0.2");
    mdb_txn_abort(txn);
}

Test(xfr, domains_add_wildcard_reasons_and_wildcard_allow_shields)
{
    put1("dbl.example", "spam.example", LISTING_WILDCARD | LISTING_MANUAL, CODE(0x103));
    put1("dbl.example", "mx.spam.example", 0, CODE(0x105));
    put1("dbl.example", "partner.example", LISTING_WILDCARD | LISTING_ALLOW, 0);
    put1("dbl.example", "mx.partner.example", 0, CODE(0x105));
    generate("dbl.example");
    char a[64];
    a_set("mx.spam.example", a, sizeof a);
    cr_assert_str_eq(a, "3 5 ");
    cr_assert_not(has_owner("mx.partner.example"));
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    agree(txn, "dbl.example", "mx.spam.example");
    agree(txn, "dbl.example", "x.mx.spam.example");
    agree(txn, "dbl.example", "mx.partner.example");
    mdb_txn_abort(txn);
}

Test(xfr, a_domain_allowed_under_a_listed_wildcard_is_a_hole_on_secondaries_too)
{
    put1("dbl.example", "bounces.example", LISTING_WILDCARD, CODE(0x103));
    put1("dbl.example", "ok.bounces.example", LISTING_ALLOW, 0);
    generate("dbl.example");
    cr_assert(has_owner("*.ok.bounces.example"), "its subdomains are still listed, and it exists");
    cr_assert_not(has_owner("ok.bounces.example"));
    cr_assert_eq(stats.holes, 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    agree(txn, "dbl.example", "ok.bounces.example");
    agree(txn, "dbl.example", "a.ok.bounces.example");
    agree(txn, "dbl.example", "x.bounces.example");
    agree(txn, "dbl.example", "bounces.example");
    mdb_txn_abort(txn);
}

Test(xfr, a_and_txt_as_the_server_says)
{
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    put(&w, "bl.example", "192.0.2.1", 0, CODE(2), NOW + 60);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    generate("bl.example");
    cr_assert_eq(stats.rrs, 1 + 2 + 2 + 2, "NS, the listing's A and TXT, two test points' A and TXT");
    int txt = 0;
    for (size_t i = 0; i < nrecs; i++)
        if (!strcmp(recs[i].owner, "1.2.0.192") && recs[i].type == DNS_TYPE_TXT) {
            cr_assert_str_eq(recs[i].txt, "directory harvest: many RCPTs to unknown users", "the code's meaning");
            txt++;
        } else if (!strcmp(recs[i].owner, "2.0.0.127") && recs[i].type == DNS_TYPE_TXT) {
            cr_assert_str_eq(recs[i].txt, "RFC 5782 test point");
            txt++;
        }
    cr_assert_eq(txt, 2);
}

static uint32_t last_ttl;
static int ttl_of(void *ud, const struct xfr_rr *rr)
{
    if (rr->type == DNS_TYPE_TXT && rr->rel_len && rr->rel[1] == '1')
        last_ttl = rr->ttl;
    return collect(ud, rr);
}

Test(xfr, ttl_cut_to_the_time_left)
{
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    put(&w, "bl.example", "192.0.2.1", 0, CODE(2), NOW + 60);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(xfr_records(zoneset_find(&zs, "bl.example"), txn, NOW, ttl_of, NULL, &stats), 0);
    mdb_txn_abort(txn);
    cr_assert_eq(last_ttl, 60);
}

Test(xfr, soa_carries_the_store_serial)
{
    put1("bl.example", "192.0.2.1", 0, CODE(2));
    MDB_txn *txn;
    uint8_t buf[XFR_SOA_MAX];
    struct xfr_rr soa;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    const struct zone *z = zoneset_find(&zs, "bl.example");
    uint32_t serial = xfr_serial(z, txn);
    mdb_txn_abort(txn);
    cr_assert_geq(serial, NOW);
    xfr_soa(z, serial, buf, &soa);
    const uint8_t *s = soa.rdata + soa.rdlen - 20;
    cr_assert_eq((uint32_t)s[0] << 24 | s[1] << 16 | s[2] << 8 | s[3], serial);
    cr_assert_eq(soa.type, DNS_TYPE_SOA);
}

Test(xfr, store_touch_raises_the_serial)
{
    put1("bl.example", "192.0.2.1", 0, CODE(2));
    const struct zone *z = zoneset_find(&zs, "bl.example");
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    uint32_t before = xfr_serial(z, txn);
    mdb_txn_abort(txn);
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_touch(&w, z->dbi), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(xfr_serial(z, txn), before + 1);
    mdb_txn_abort(txn);
}
