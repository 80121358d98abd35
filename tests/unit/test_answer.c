/* test_answer.c - answer_query against the shipped zones and a temp store; responses read by ldns. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "answer.h"
#include "query.h"
#include "store_index.h"
#include "testutil.h"

#define NOW 1700000000u
#define CODE(c, d) (0x7f000000u | (c) << 8 | (d))      /* 127.0.c.d */
#define R(code, exp, text) ((struct reason){ (code), (exp), (uint8_t)(sizeof(text) - 1), (text) })

static struct zoneset zs;
static struct store st;
static char dir[64];
static uint32_t now = NOW;

/* what the last ask() produced */
static uint8_t out[65535];
static size_t out_len;
static struct answer_info info;
static ldns_pkt *resp;

/* ---- setup ---- */

static void open_store(void)
{
    char err[512];
    tmpdir_make(dir, sizeof dir, "test_answer");
    cr_assert_eq(store_open(&st, dir, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zoneset_bind(&zs, &st, err, sizeof err), 0, "%s", err);
}

static void setup(void)
{
    char err[512], zdir[512];
    shipped_zones_dir(zdir, sizeof zdir);
    cr_assert_eq(zoneset_load(zdir, &zs, err, sizeof err), 0, "%s", err);
    open_store();
}

static void teardown(void)
{
    if (resp)
        ldns_pkt_free(resp);
    resp = NULL;
    store_close(&st);
    zoneset_free(&zs);
    tmpdir_remove(dir);
}

TestSuite(answer, .init = setup, .fini = teardown);

/* ---- store ---- */

static void put(const char *zname, const char *entry, uint8_t flags, int n, const struct reason *rs)
{
    struct zone *z = zoneset_find(&zs, zname);
    cr_assert_not_null(z, "zone %s", zname);
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    if (z->kind == ZONE_IP) {
        struct ipnet net;
        cr_assert_geq(net_parse(entry, &net), 0, "%s", entry);
        klen = store_key_net(&net, key);
    } else {
        klen = store_key_domain(entry, strlen(entry), key);
    }
    struct listing l = { .flags = flags, .nreasons = (uint8_t)n, .since = NOW - 1000 };
    memcpy(l.reasons, rs, (size_t)n * sizeof *rs);
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, z->dbi, key, klen, &l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

/* ---- packets ---- */

static void build(struct pkt *p, const char *qname, uint16_t qtype, uint16_t qclass, uint16_t edns)
{
    p->len = 0;
    u16(p, 0x1234);
    u16(p, 0x0100);     /* RD */
    u16(p, 1);
    u16(p, 0);
    u16(p, 0);
    u16(p, edns ? 1 : 0);
    pkt_name(p, qname);
    u16(p, qtype);
    u16(p, qclass);
    if (edns) {
        u8(p, 0);
        u16(p, DNS_TYPE_OPT);
        u16(p, edns);
        u16(p, 0);
        u16(p, 0);
        u16(p, 0);
    }
}

/* Answers the packet; NULL when there is no response. */
static ldns_pkt *send_pkt(const struct pkt *p, int tcp)
{
    MDB_txn *txn;
    struct answer_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    ctx.zones = &zs;
    ctx.txn = txn;
    ctx.now = now;
    answer_ctx_invalidate(&ctx);
    out_len = answer_query(&ctx, p->b, p->len, out, sizeof out, tcp, &info);
    mdb_txn_abort(txn);
    if (resp)
        ldns_pkt_free(resp);
    resp = NULL;
    if (out_len == 0)
        return NULL;
    cr_assert_eq(ldns_wire2pkt(&resp, out, out_len), LDNS_STATUS_OK, "the response must parse");
    cr_assert_eq(out[0], 0x12);
    cr_assert_eq(out[1], 0x34, "ID echoed");
    cr_assert(ldns_pkt_qr(resp));
    cr_assert_not(ldns_pkt_ra(resp), "an authoritative server offers no recursion");
    return resp;
}

static ldns_pkt *ask_full(const char *qname, uint16_t qtype, uint16_t qclass, uint16_t edns, int tcp)
{
    struct pkt p;
    build(&p, qname, qtype, qclass, edns);
    ldns_pkt *r = send_pkt(&p, tcp);
    cr_assert_not_null(r);
    return r;
}

static ldns_pkt *ask(const char *qname, uint16_t qtype)
{
    return ask_full(qname, qtype, DNS_CLASS_IN, 0, 0);
}

/* ---- reading responses ---- */

static int count(ldns_rr_list *l, ldns_rr_type t)
{
    int n = 0;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
    return n;
}

static ldns_rr *nth(ldns_rr_list *l, ldns_rr_type t, int k)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t && k-- == 0)
            return ldns_rr_list_rr(l, i);
    cr_assert_fail("no record %d of type %d", k, t);
    return NULL;
}

static uint32_t a_value(ldns_rr *rr)
{
    const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, 0));
    return (uint32_t)d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3];
}

/* The TXT strings of rr joined. */
static size_t txt_value(ldns_rr *rr, char *buf, size_t cap)
{
    size_t pos = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
        const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(rr, i));
        cr_assert_lt(pos + d[0], cap);
        memcpy(buf + pos, d + 1, d[0]);
        pos += d[0];
    }
    buf[pos] = '\0';
    return pos;
}

static void expect_name(const ldns_rdf *rdf, const char *want)
{
    char *s = ldns_rdf2str(rdf);
    cr_assert_str_eq(s, want);
    free(s);
}

static int has_a(uint32_t code)
{
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(resp)); i++) {
        ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(resp), i);
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && a_value(rr) == code)
            return 1;
    }
    return 0;
}

/* NXDOMAIN or NODATA: no answer, the zone's SOA in the authority section with the negative TTL. */
static void expect_negative(ldns_pkt_rcode rcode, const char *apex)
{
    cr_assert_eq(ldns_pkt_get_rcode(resp), rcode);
    cr_assert(ldns_pkt_aa(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
    cr_assert_eq(ldns_pkt_nscount(resp), 1);
    ldns_rr *soa = nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0);
    expect_name(ldns_rr_owner(soa), apex);
    cr_assert_eq(ldns_rr_ttl(soa), 60, "the zone's negative-ttl");
}

/* "4.3.2.1" style name of an IPv4 address, and the 32-nibble name of an IPv6 one */
static const char *rev4(const char *a, const char *zone)
{
    static char buf[300];
    unsigned x[4];
    cr_assert_eq(sscanf(a, "%u.%u.%u.%u", &x[0], &x[1], &x[2], &x[3]), 4);
    snprintf(buf, sizeof buf, "%u.%u.%u.%u.%s", x[3], x[2], x[1], x[0], zone);
    return buf;
}

static const char *rev6(const char *a, const char *zone)
{
    static char buf[300];
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    cr_assert_eq(inet_pton(AF_INET6, a, b), 1);
    size_t pos = 0;
    for (int i = 15; i >= 0; i--)
        pos += (size_t)snprintf(buf + pos, sizeof buf - pos, "%c.%c.", hex[b[i] & 15], hex[b[i] >> 4]);
    snprintf(buf + pos, sizeof buf - pos, "%s", zone);
    return buf;
}

/* ---- listings ---- */

Test(answer, listed_ipv4_a)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "harvest"), R(CODE(0, 4), NOW + 3600, "auth"),
                           R(CODE(0, 5), NOW - 1, "expired volume") };
    put("bl.example", "192.0.2.1", 0, 3, rs);
    ask(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(ldns_pkt_aa(resp));
    cr_assert(ldns_pkt_rd(resp), "RD echoed");
    cr_assert_eq(ldns_pkt_ancount(resp), 2, "one A per live reason");
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_A), 2);
    cr_assert(has_a(CODE(0, 2)));
    cr_assert(has_a(CODE(0, 4)));
    cr_assert_not(has_a(CODE(0, 5)), "the expired reason is not answered");
    cr_assert_eq(ldns_pkt_nscount(resp), 0);
    ldns_rr *a = nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_A, 0);
    expect_name(ldns_rr_owner(a), "1.2.0.192.bl.example.");
    cr_assert_eq(ldns_rr_ttl(a), 300, "the zone ttl: one reason never expires");
    cr_assert_eq(info.listed, 1);
    cr_assert_eq(info.rcode, RCODE_NOERROR);
    cr_assert_str_eq(zs.zones[info.zone].name, "bl.example");
}

Test(answer, listed_ipv4_txt)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "harvest"), R(CODE(0, 5), NOW - 1, "old"),
                           R(CODE(0, 4), 0, "auth failures") };
    put("bl.example", "192.0.2.1", 0, 3, rs);
    ask(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_TXT);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    char text[2048];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "harvest; auth failures", "the live reasons, joined (template {reason})");
}

Test(answer, txt_without_text_uses_code_meaning)
{
    struct reason rs[] = { R(CODE(0, 3), 0, "") };
    put("bl.example", "192.0.2.2", 0, 1, rs);
    ask(rev4("192.0.2.2", "bl.example"), LDNS_RR_TYPE_TXT);
    char text[512];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "backscatter: too many non-delivery reports", "[code 127.0.0.3] meaning");
}

Test(answer, duplicate_codes_one_a)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "one"), R(CODE(0, 2), 0, "two") };
    put("bl.example", "192.0.2.3", 0, 2, rs);
    ask(rev4("192.0.2.3", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
}

Test(answer, any_over_tcp_gives_a_and_txt)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "harvest"), R(CODE(0, 4), 0, "auth") };
    put("bl.example", "192.0.2.1", 0, 2, rs);
    ask_full(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_ANY, DNS_CLASS_IN, 0, 1);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_A), 2);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT), 1);
    cr_assert_eq(ldns_pkt_ancount(resp), 3);
}

/* RFC 8482: over UDP, ANY gets one RRset, so the server is no amplifier (the TXT is the big one). */
Test(answer, any_over_udp_is_minimal)
{
    char text[200];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    struct reason rs[] = { R(CODE(0, 2), 0, text), R(CODE(0, 4), 0, text) };
    put("bl.example", "192.0.2.1", 0, 2, rs);
    size_t qlen = strlen(rev4("192.0.2.1", "bl.example")) + 2 + 12 + 4;
    ask_full(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_ANY, DNS_CLASS_IN, 4096, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_A), 2, "the A RRset");
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT), 0, "and nothing else");
    cr_assert_lt(out_len, 3 * (qlen + 11), "at most 3x the query: %zu bytes", out_len);
    ask_full("bl.example", LDNS_RR_TYPE_ANY, DNS_CLASS_IN, 0, 0);
    cr_assert_eq(ldns_pkt_ancount(resp), 1, "the apex: the SOA alone");
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA), 1);
}

Test(answer, listed_other_type_nodata)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    ask(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_AAAA);
    expect_negative(LDNS_RCODE_NOERROR, "bl.example.");
}

Test(answer, not_listed_nxdomain)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    ask(rev4("192.0.2.2", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    ldns_rr *soa = nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0);
    cr_assert_eq(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), NOW, "the serial of the store's commit");
    cr_assert_eq(info.listed, 0);
}

Test(answer, cidr_listing)
{
    struct reason rs[] = { R(CODE(0, 5), 0, "net") };
    put("bl.example", "198.51.100.0/24", 0, 1, rs);
    ask(rev4("198.51.100.77", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 5)));
    ask(rev4("198.51.101.77", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
}

Test(answer, allow_hole_nxdomain)
{
    struct reason rs[] = { R(CODE(0, 5), 0, "net") }, allow[] = { R(0, 0, "") };
    put("bl.example", "198.51.100.0/24", 0, 1, rs);
    put("bl.example", "198.51.100.9", LISTING_ALLOW, 1, allow);
    ask(rev4("198.51.100.9", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    ask(rev4("198.51.100.10", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
}

Test(answer, covering_listings_answer_all_codes_and_texts)
{
    struct reason manual[] = { R(CODE(0, 3), 0, "hosting range, by the operator") };
    struct reason feeder[] = { R(CODE(0, 4), NOW + 600, "authentication failures 12 in 10m") };
    put("bl.example", "203.0.113.0/24", LISTING_MANUAL, 1, manual);
    put("bl.example", "203.0.113.9", 0, 1, feeder);
    ask(rev4("203.0.113.9", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_A), 2);
    cr_assert(has_a(CODE(0, 3)) && has_a(CODE(0, 4)));
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_A, 0)), 300, "the manual reason never expires");
    ask(rev4("203.0.113.9", "bl.example"), LDNS_RR_TYPE_TXT);
    char text[2048];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "authentication failures 12 in 10m; hosting range, by the operator");
    ask(rev4("203.0.113.10", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_A), 1);
}

Test(answer, allow_above_a_listing_nxdomain)
{
    struct reason rs[] = { R(CODE(0, 4), 0, "feeder") }, allow[] = { R(0, 0, "partner") },
                  gone[] = { R(0, NOW - 1, "was a partner") };
    put("bl.example", "203.0.0.0/16", LISTING_ALLOW | LISTING_MANUAL, 1, allow);
    put("bl.example", "203.0.113.9", 0, 1, rs);
    put("bl.example", "2001:db8:cc::/48", LISTING_ALLOW | LISTING_MANUAL, 1, allow);
    put("bl.example", "2001:db8:cc:1::/64", 0, 1, rs);
    put("bl.example", "198.51.0.0/16", LISTING_ALLOW | LISTING_MANUAL, 1, gone);
    put("bl.example", "198.51.100.9", 0, 1, rs);
    ask(rev4("203.0.113.9", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    ask(rev6("2001:db8:cc:1::9", "bl.example"), LDNS_RR_TYPE_TXT);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    ask(rev4("198.51.100.9", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 4)), "an expired allow entry shields nothing");
}

Test(answer, ipv6_listing_by_nibbles)
{
    struct reason rs[] = { R(CODE(0, 5), 0, "v6") };
    put("bl.example", "2001:db8:1:2::/64", 0, 1, rs);
    ask(rev6("2001:db8:1:2:aaaa::1", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(CODE(0, 5)));
    ask(rev6("2001:db8:1:3::1", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
}

/* The 32 nibble labels are read straight from the wire name: upper-case hex is the same address, a
 * label of two characters or a character that is no hex digit at any position names none (NXDOMAIN). */
Test(answer, ipv6_nibble_names_read_exactly)
{
    struct reason rs[] = { R(CODE(0, 6), 0, "v6 host") };
    put("bl.example", "2001:db8:abcd:ef01:2345:6789:abcd:ef0f", 0, 1, rs);
    char name[300];
    snprintf(name, sizeof name, "%s", rev6("2001:db8:abcd:ef01:2345:6789:abcd:ef0f", "bl.example"));
    ask(name, LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 6)), "lower case");
    for (char *c = name; *c && c < name + 64; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 32);
    ask(name, LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 6)), "upper case: %s", name);
    for (int pos = 0; pos < 64; pos += 2) {
        static const char bad[] = "g:/`G";
        for (const char *b = bad; *b; b++) {
            snprintf(name, sizeof name, "%s", rev6("2001:db8:abcd:ef01:2345:6789:abcd:ef0f", "bl.example"));
            name[pos] = *b;
            ask(name, LDNS_RR_TYPE_A);
            cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "%s", name);
        }
        snprintf(name, sizeof name, "%.*s0%s", pos + 1, rev6("2001:db8:abcd:ef01:2345:6789:abcd:ef0f", "bl.example"),
                 rev6("2001:db8:abcd:ef01:2345:6789:abcd:ef0f", "bl.example") + pos + 1);
        ask(name, LDNS_RR_TYPE_A);      /* one label of two characters */
        cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "%s", name);
    }
}

Test(answer, mapped_ipv6_uses_ipv4_listing)
{
    struct reason rs[] = { R(CODE(0, 4), 0, "v4") };
    put("bl.example", "192.0.2.50", 0, 1, rs);
    ask(rev6("::ffff:192.0.2.50", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 4)));
}

Test(answer, expired_listing_nxdomain)
{
    struct reason rs[] = { R(CODE(0, 2), NOW, "gone"), R(CODE(0, 3), NOW - 50, "gone too") };
    put("bl.example", "192.0.2.9", 0, 2, rs);
    ask(rev4("192.0.2.9", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    now = NOW - 1;
    ask(rev4("192.0.2.9", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR, "a second earlier it was listed");
}

Test(answer, ttl_cut_to_expiry)
{
    struct reason rs[] = { R(CODE(0, 2), NOW + 100, "soon"), R(CODE(0, 3), NOW + 40, "sooner") };
    put("bl.example", "192.0.2.9", 0, 2, rs);
    ask_full(rev4("192.0.2.9", "bl.example"), LDNS_RR_TYPE_ANY, DNS_CLASS_IN, 0, 1);
    cr_assert_eq(ldns_pkt_ancount(resp), 3);
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(resp)); i++) {
        uint32_t ttl = ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(resp), i));
        cr_expect_eq(ttl, 40, "the answer changes when the first reason expires: TTL %u", ttl);
    }
    now = NOW + 99;
    ask(rev4("192.0.2.9", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_ancount(resp), 1, "only the reason still live");
    cr_assert_leq(ldns_rr_ttl(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_A, 0)), 1);
}

/* ---- RFC 5782 test points ---- */

Test(answer, test_points_ipv4)
{
    ask("2.0.0.127.bl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    cr_assert(has_a(CODE(0, 2)), "the zone's default code (the first one)");
    ask("2.0.0.127.bl.example", LDNS_RR_TYPE_TXT);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    ask("1.0.0.127.bl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
    ask("3.0.0.127.bl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "127.0.0.3 is no test point");
}

Test(answer, test_points_ipv6)
{
    ask(rev6("::ffff:7f00:2", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(CODE(0, 2)));
    ask(rev6("::ffff:7f00:1", "bl.example"), LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "bl.example.");
}

Test(answer, test_points_domain)
{
    ask("TEST.dbl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(CODE(1, 3)), "dbl.example's first code, 127.0.1.3");
    ask("INVALID.dbl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "dbl.example.");
    ask("test.bl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "not an address in an ip zone");
}

/* ---- domains ---- */

Test(answer, domain_wildcard)
{
    struct reason rs[] = { R(CODE(1, 5), 0, "mass volume") };
    put("dbl.example", "spam.example", LISTING_WILDCARD, 1, rs);
    ask("spam.example.dbl.example", LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(1, 5)));
    ask("a.b.Spam.Example.dbl.example", LDNS_RR_TYPE_TXT);
    char text[256];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "mass volume");
    ask("example.dbl.example", LDNS_RR_TYPE_A);    /* above the listing: it exists (RFC 8020) */
    expect_negative(LDNS_RCODE_NOERROR, "dbl.example.");
    ask("other.dbl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "dbl.example.");
}

/* Names above exact domain listings are empty non-terminals (RFC 8020): NODATA, found through the
 * descendant index; a name whose only descendants are allowed, or expired, does not exist. */
Test(answer, domain_parents_of_exact_listings_exist)
{
    struct reason rs[] = { R(CODE(1, 5), 0, "mass volume") }, gone[] = { R(CODE(1, 5), NOW - 10, "old") };
    struct reason allow[] = { R(0, 0, "partner") };
    put("dbl.example", "a.spam.co", 0, 1, rs);
    put("dbl.example", "x.old.co", 0, 1, gone);
    put("dbl.example", "b.good.co", 0, 1, rs);
    put("dbl.example", "good.co", LISTING_ALLOW | LISTING_WILDCARD, 1, allow);
    ask("a.spam.co.dbl.example", LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(1, 5)));
    static const char *const exist[] = { "spam.co.dbl.example", "co.dbl.example" };
    for (size_t i = 0; i < 2; i++) {
        ask(exist[i], LDNS_RR_TYPE_A);
        expect_negative(LDNS_RCODE_NOERROR, "dbl.example.");
    }
    static const char *const absent[] = { "pam.co.dbl.example", "b.spam.co.dbl.example", "old.co.dbl.example",
                                          "good.co.dbl.example", "o.dbl.example" };
    for (size_t i = 0; i < 5; i++) {
        ask(absent[i], LDNS_RR_TYPE_A);
        expect_negative(LDNS_RCODE_NXDOMAIN, "dbl.example.");
    }
}

/* A name allowed alone (not its subdomains) under a listed wildcard has listed children: it exists as an
 * empty non-terminal (RFC 8020; issue 10: "an allowed name with listed children"), NODATA as on a
 * secondary, while a name allowed with its subdomains, and an allowed name whose parent wildcard is
 * expired or allowed, do not exist. */
Test(answer, domain_allowed_alone_under_a_wildcard_exists)
{
    struct reason rs[] = { R(CODE(1, 5), 0, "mass volume") }, gone[] = { R(CODE(1, 5), NOW - 10, "old") };
    struct reason allow[] = { R(0, 0, "partner") };
    put("dbl.example", "spam.example", LISTING_WILDCARD, 1, rs);
    put("dbl.example", "good.spam.example", LISTING_ALLOW, 1, allow);
    put("dbl.example", "fine.spam.example", LISTING_ALLOW | LISTING_WILDCARD, 1, allow);
    put("dbl.example", "old.example", LISTING_WILDCARD, 1, gone);
    put("dbl.example", "good.old.example", LISTING_ALLOW, 1, allow);
    ask("x.good.spam.example.dbl.example", LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(1, 5)), "the allowed name's children stay listed");
    ask("good.spam.example.dbl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NOERROR, "dbl.example.");
    ask("good.spam.example.dbl.example", LDNS_RR_TYPE_TXT);
    expect_negative(LDNS_RCODE_NOERROR, "dbl.example.");
    static const char *const absent[] = { "fine.spam.example.dbl.example", "x.fine.spam.example.dbl.example",
                                          "good.old.example.dbl.example" };
    for (size_t i = 0; i < 3; i++) {
        ask(absent[i], LDNS_RR_TYPE_A);
        expect_negative(LDNS_RCODE_NXDOMAIN, "dbl.example.");
    }
}

Test(answer, domain_bad_characters_nxdomain)
{
    struct reason rs[] = { R(CODE(1, 5), 0, "x") };
    put("dbl.example", "spam.example", LISTING_WILDCARD, 1, rs);
    ask("a*b.spam.example.dbl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
}

Test(answer, account_zone)
{
    struct zone *z = zoneset_find(&zs, "acct.example");
    if (!z)
        cr_skip_test("the repo has no acct.example zone");
    cr_assert_eq(z->kind, ZONE_ACCOUNT);
    uint32_t code = z->codes[z->default_code].addr;
    struct reason rs[] = { R(code, 0, "guessing") };
    /* printf %s alice@example.jp | sha256sum | cut -c1-32 */
    put("acct.example", "dff1814457f5f95550f4ccecf8db4fd6", 0, 1, rs);
    ask("DFF1814457F5F95550F4CCECF8DB4FD6.acct.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(code));
    ask("00000000000000000000000000000000.acct.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "acct.example.");
}

/* ---- apex ---- */

Test(answer, apex_soa)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    ask("bl.example", LDNS_RR_TYPE_SOA);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(ldns_pkt_aa(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    ldns_rr *soa = nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA, 0);
    expect_name(ldns_rr_owner(soa), "bl.example.");
    expect_name(ldns_rr_rdf(soa, 0), "ns1.bl.example.");
    expect_name(ldns_rr_rdf(soa, 1), "hostmaster.bl.example.");
    cr_assert_eq(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), NOW, "serial from the store");
    cr_assert_eq(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), 60, "minimum = negative-ttl");
    cr_assert_eq(ldns_rr_ttl(soa), 300);
}

Test(answer, apex_soa_serial_without_data)
{
    ask("dbl.example", LDNS_RR_TYPE_SOA);
    ldns_rr *soa = nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA, 0);
    cr_assert_gt(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 0, "never serial 0");
}

Test(answer, apex_ns)
{
    ask("bl.example", LDNS_RR_TYPE_NS);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    expect_name(ldns_rr_rdf(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_NS, 0), 0), "ns1.bl.example.");
    ask_full("BL.EXAMPLE", LDNS_RR_TYPE_ANY, DNS_CLASS_IN, 0, 1);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA), 1);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_NS), 1);
}

Test(answer, apex_a_nodata)
{
    ask("bl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NOERROR, "bl.example.");
    cr_assert_eq(info.listed, 0);
}

/* ---- names that are not addresses ---- */

Test(answer, wrong_label_counts_nxdomain)
{
    const char *names[] = { "1.1.2.0.192.bl.example", "x.1.2.0.192.bl.example",
                            "256.2.0.192.bl.example", "01.2.0.192.bl.example", "a.bl.example" };
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.0/24", 0, 1, rs);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        ask(names[i], LDNS_RR_TYPE_A);
        cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "%s", names[i]);
        cr_expect_eq(ldns_pkt_nscount(resp), 1, "%s: SOA", names[i]);
    }
    /* 31 nibbles */
    char name[300];
    snprintf(name, sizeof name, "%s", rev6("2001:db8::1", "bl.example") + 2);
    ask(name, LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
}

Test(answer, question_echoed_as_sent)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "1.2.3.4", 0, 1, rs);
    struct pkt p;
    build(&p, "4.3.2.1.BL.Example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(CODE(0, 2)));
    cr_assert_eq(ldns_pkt_qdcount(resp), 1);
    cr_assert_eq(memcmp(out + 12, p.b + 12, p.len - 12), 0, "question bytes identical");
    char *s = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(resp), 0)));
    cr_assert_str_eq(s, "4.3.2.1.BL.Example.");
    free(s);
}

/* ---- refusals and errors ---- */

Test(answer, out_of_zone_refused)
{
    const char *names[] = { "www.example.com", "example", "xbl.example", "4.3.2.1.bl.example.org", "" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        ask(names[i], LDNS_RR_TYPE_A);
        cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_REFUSED, "'%s'", names[i]);
        cr_expect_not(ldns_pkt_aa(resp), "'%s': no AA", names[i]);
        cr_expect_eq(ldns_pkt_ancount(resp) + ldns_pkt_nscount(resp), 0);
        cr_expect_eq(info.zone, -1);
    }
}

Test(answer, class_ch_refused_any_ok)
{
    ask_full("version.bind", LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, 0, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_REFUSED);
    ask_full("2.0.0.127.bl.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_CH, 0, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_REFUSED);
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
    ask_full("2.0.0.127.bl.example", LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(has_a(CODE(0, 2)));
}

Test(answer, cd_and_rd_echoed_ad_not)
{
    struct pkt p;
    build(&p, "2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    p.b[3] = 0x30;      /* AD, CD */
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert(ldns_pkt_cd(resp));
    cr_assert_not(ldns_pkt_ad(resp));
    cr_assert(ldns_pkt_rd(resp));
    p.b[2] = 0;
    p.b[3] = 0;
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert_not(ldns_pkt_cd(resp));
    cr_assert_not(ldns_pkt_rd(resp));
}

Test(answer, notify_notimp)
{
    struct pkt p;
    build(&p, "bl.example", LDNS_RR_TYPE_SOA, DNS_CLASS_IN, 0);
    p.b[2] = 4 << 3 | 0x04;     /* NOTIFY, AA */
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOTIMPL);
    cr_assert_eq(ldns_pkt_get_opcode(resp), LDNS_PACKET_NOTIFY);
    cr_assert_not(ldns_pkt_aa(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
    cr_assert_eq(ldns_pkt_qdcount(resp), 1);
}

Test(answer, response_gets_no_answer)
{
    struct pkt p;
    build(&p, "2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    p.b[2] |= 0x80;
    cr_assert_null(send_pkt(&p, 0));
    cr_assert_eq(out_len, 0);
    p.len = 11;
    cr_assert_null(send_pkt(&p, 0), "too short");
}

Test(answer, formerr_keeps_header)
{
    struct pkt p;
    build(&p, "2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    p.b[5] = 0;     /* QDCOUNT 0 */
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_FORMERR);
    cr_assert_eq(ldns_pkt_qdcount(resp), 0);
    cr_assert_eq(out_len, 12);

    build(&p, "2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    p.b[7] = 1;     /* ANCOUNT 1: the question parsed and is echoed */
    cr_assert_not_null(send_pkt(&p, 0));
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_FORMERR);
    cr_assert_eq(ldns_pkt_qdcount(resp), 1);
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
}

/* ---- EDNS and sizes ---- */

Test(answer, edns_echoed)
{
    ask_full("2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 4096, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert(ldns_pkt_edns(resp));
    cr_assert_eq(ldns_pkt_edns_udp_size(resp), ANSWER_EDNS_SIZE);
    cr_assert_eq(ANSWER_EDNS_SIZE, 1232);
    cr_assert_eq(ldns_pkt_edns_version(resp), 0);
    cr_assert_eq(out[11], 1, "ARCOUNT 1: the OPT");

    ask("2.0.0.127.bl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(out[10] << 8 | out[11], 0, "no OPT without EDNS in the query");
    cr_assert_not(ldns_pkt_edns(resp));
}

Test(answer, edns_version_1_badvers)
{
    struct pkt p;
    build(&p, "2.0.0.127.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 1232);
    p.b[p.len - 5] = 1;     /* the OPT's version byte */
    cr_assert_not_null(send_pkt(&p, 0));
    /* BADVERS is 16: 0 in the header, 1 in the OPT's extended rcode */
    cr_assert_eq(out[3] & 0x0f, 0);
    cr_assert_eq(ldns_pkt_edns_extended_rcode(resp), 1);
    cr_assert_eq(info.rcode, RCODE_BADVERS);
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
}

static char long_texts[8][255];

static void put_big_listing(void)
{
    struct reason rs[8];
    for (int i = 0; i < 8; i++) {
        memset(long_texts[i], 'a' + i, 255);
        rs[i] = (struct reason){ CODE(0, 2 + i), 0, 255, long_texts[i] };
    }
    put("bl.example", "192.0.2.77", 0, 8, rs);
}

Test(answer, too_big_for_udp_truncated)
{
    put_big_listing();
    ask(rev4("192.0.2.77", "bl.example"), LDNS_RR_TYPE_TXT);
    cr_assert(ldns_pkt_tc(resp), "TC");
    cr_assert_leq(out_len, 512);
    cr_assert_eq(ldns_pkt_qdcount(resp), 1, "the question stays");
    cr_assert_eq(ldns_pkt_ancount(resp) + ldns_pkt_nscount(resp) + ldns_pkt_arcount(resp), 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
}

Test(answer, too_big_for_udp_whole_over_tcp)
{
    put_big_listing();
    ask_full(rev4("192.0.2.77", "bl.example"), LDNS_RR_TYPE_TXT, DNS_CLASS_IN, 0, 1);
    cr_assert_not(ldns_pkt_tc(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    cr_assert_gt(out_len, 512);
    char text[4096], want[4096];
    size_t n = txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    size_t wn = 0;
    for (int i = 0; i < 8; i++) {
        if (i)
            wn += (size_t)snprintf(want + wn, sizeof want - wn, "; ");
        memcpy(want + wn, long_texts[i], 255);
        wn += 255;
    }
    cr_assert_gt(n, 512);
    cr_assert_leq(n, wn);
    cr_assert_eq(memcmp(text, want, n), 0, "the reasons in order (the server may cut the tail)");
}

Test(answer, too_big_for_udp_fits_edns)
{
    put_big_listing();
    ask_full(rev4("192.0.2.77", "bl.example"), LDNS_RR_TYPE_TXT, DNS_CLASS_IN, 4096, 0);
    cr_assert_not(ldns_pkt_tc(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    cr_assert_leq(out_len, ANSWER_EDNS_SIZE);
    ask_full(rev4("192.0.2.77", "bl.example"), LDNS_RR_TYPE_TXT, DNS_CLASS_IN, 600, 0);
    cr_assert(ldns_pkt_tc(resp), "a 600-byte EDNS buffer is too small");
    cr_assert_leq(out_len, 600);
    cr_assert(ldns_pkt_edns(resp), "the OPT stays on a truncated answer");
}

Test(answer, eight_a_records_fit)
{
    put_big_listing();
    ask(rev4("192.0.2.77", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_not(ldns_pkt_tc(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 8);
    for (uint32_t d = 2; d < 10; d++)
        cr_expect(has_a(CODE(0, d)), "127.0.0.%u", d);
}

/* ---- a zone with an apex file ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Writes files[i][0] with text files[i][1] into a temp dir, loads it as the zoneset, opens a store. */
static void load_zone_files(const char *const files[][2], int n)
{
    char err[512], zdir[128], path[160];
    tmpdir_make(zdir, sizeof zdir, "test_answer_zones");
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", zdir, files[i][0]);
        write_file(path, files[i][1]);
    }
    int rc = zoneset_load(zdir, &zs, err, sizeof err);
    tmpdir_remove(zdir);
    cr_assert_eq(rc, 0, "%s", err);
    open_store();
}

static void setup_apex(void)
{
    static const char *const files[][2] = {
        { "t.conf", "[zone]\nname = t.example\nkind = ip\napex-file = t.zone\n"
                    "[code 127.0.0.2]\nmeaning = listed\n" },
        { "t.zone", "$TTL 600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 120\n@ IN NS ns1\n"
                    "ns1 IN A 192.0.2.53\nx.deep IN TXT \"hello\"\n" },
    };
    load_zone_files(files, 2);
}

TestSuite(apex_file, .init = setup_apex, .fini = teardown);

Test(apex_file, static_records_served)
{
    ask("ns1.t.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    ldns_rr *a = nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_A, 0);
    cr_assert_eq(a_value(a), 0xc0000235u);
    cr_assert_eq(ldns_rr_ttl(a), 600);
    ask("ns1.t.example", LDNS_RR_TYPE_TXT);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR, "the name exists: NODATA");
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
    cr_assert_eq(ldns_pkt_nscount(resp), 1);
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0)), 120,
                 "no negative-ttl: the SOA minimum");
    ask("ns2.t.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
}

Test(apex_file, deeper_static_name)
{
    ask("x.deep.t.example", LDNS_RR_TYPE_TXT);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    char text[64];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "hello");
}

/* Guards: dnsbl-server/answer.c static_records/resolve answer an empty non-terminal of the apex file
 * ("deep.t.example" when the file has "x.deep.t.example") NOERROR/NODATA with the SOA, as the name
 * exists (RFC 1034 4.3.2, RFC 8020). (Found by this test and fixed: it was once answered NXDOMAIN,
 * and a resolver that trusts the NXDOMAIN then treats x.deep.t.example as nonexistent too.) */
Test(apex_file, empty_non_terminal_exists)
{
    ask("deep.t.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 0);
    ldns_rr *soa = nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0);
    expect_name(ldns_rr_owner(soa), "t.example.");
    cr_assert_eq(ldns_rr_ttl(soa), 120, "no negative-ttl: the SOA minimum");
}

/* ---- nested zones and TXT templates ---- */

static void setup_nested(void)
{
    static const char *const files[][2] = {
        { "a.conf", "[zone]\nname = example\nkind = domain\nns = ns1.example.\ntest-points = no\n"
                    "txt = {code} {addr} in {zone}: {reason}\n"
                    "[code 127.0.3.2]\nmeaning = outer meaning\n" },
        { "b.conf", "[zone]\nname = bl.example\nkind = ip\nns = ns1.example.\nnegative-ttl = 45\n"
                    "txt = {code} {addr} in {zone}: {reason}\n"
                    "[code 127.0.0.2]\nmeaning = inner meaning\n"
                    "[code 127.0.0.3]\nmeaning = other\n" },
    };
    load_zone_files(files, 2);
}

TestSuite(nested, .init = setup_nested, .fini = teardown);

Test(nested, longest_suffix_wins)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "1.2.3.4", 0, 1, rs);
    ask("4.3.2.1.bl.example", LDNS_RR_TYPE_A);
    cr_assert(has_a(CODE(0, 2)));
    cr_assert_str_eq(zs.zones[info.zone].name, "bl.example");
    ask("9.9.9.9.bl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0)), 45);
    expect_name(ldns_rr_owner(nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0)), "bl.example.");
    ask("BL.example", LDNS_RR_TYPE_SOA);
    expect_name(ldns_rr_owner(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA, 0)), "BL.example.");
    cr_assert_str_eq(zs.zones[info.zone].name, "bl.example");

    ask("xbl.example", LDNS_RR_TYPE_A);
    expect_negative(LDNS_RCODE_NXDOMAIN, "example.");
    cr_assert_str_eq(zs.zones[info.zone].name, "example");
    ask("test.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "test-points = no");
}

Test(nested, txt_template_ip)
{
    struct reason rs[] = { R(CODE(0, 3), NOW - 1, "old"), R(CODE(0, 2), 0, "") };
    put("bl.example", "192.0.2.1", 0, 2, rs);
    ask("1.2.0.192.bl.example", LDNS_RR_TYPE_TXT);
    char text[512];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "127.0.0.2 192.0.2.1 in bl.example: inner meaning");
}

Test(nested, txt_template_ipv6)
{
    struct reason rs[] = { R(CODE(0, 3), 0, "v6 why") };
    put("bl.example", "2001:db8::/64", 0, 1, rs);
    ask(rev6("2001:db8::5", "bl.example"), LDNS_RR_TYPE_TXT);
    char text[512];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "127.0.0.3 2001:db8::5 in bl.example: v6 why");
}

Test(nested, txt_template_domain)
{
    struct reason rs[] = { R(CODE(3, 2), 0, "why") };
    put("example", "spam.test", LISTING_WILDCARD, 1, rs);
    ask("a.Spam.TEST.example", LDNS_RR_TYPE_TXT);
    char text[512];
    txt_value(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0), text, sizeof text);
    cr_assert_str_eq(text, "127.0.3.2 a.spam.test in example: why");
}

/* One context across snapshots, as the server keeps it: a new snapshot must not use stale meta
 * (here the /24 prefix length appears only in the second one). */
Test(nested, context_follows_new_snapshots)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    struct answer_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.zones = &zs;
    ctx.now = NOW;
    answer_ctx_invalidate(&ctx);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    ctx.txn = txn;
    struct pkt p;
    build(&p, "7.100.51.198.bl.example", LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    size_t n = answer_query(&ctx, p.b, p.len, out, sizeof out, 0, &info);
    cr_assert_gt(n, 0);
    cr_assert_eq(out[3] & 15, RCODE_NXDOMAIN);
    mdb_txn_reset(txn);

    put("bl.example", "198.51.100.0/24", 0, 1, rs);
    cr_assert_eq(mdb_txn_renew(txn), 0);
    n = answer_query(&ctx, p.b, p.len, out, sizeof out, 0, &info);
    cr_assert_gt(n, 0);
    cr_assert_eq(out[3] & 15, RCODE_NOERROR, "the new snapshot's /24 is seen");
    cr_assert_eq(info.listed, 1);
    mdb_txn_abort(txn);
}

/* ---- the /24 map (v4map.h) ---- */

/* One context with maps kept across snapshots, as a server worker keeps it, against a fresh context
 * without maps, over random writes: every answer must be byte-identical, and the maps must be in use. */
struct map_run {
    struct v4map *maps[ZONESET_MAX + 1];
    _Atomic(struct store_index *) indexes[ZONESET_MAX + 1];
    struct answer_ctx with;
    unsigned seed;
    int index_fresh;            /* the zone's index was built at the snapshot compared */
};

static unsigned rnd(struct map_run *r)
{
    r->seed = r->seed * 1103515245u + 12345u;
    return r->seed >> 8;
}

/* Addresses crowd into a few /24s of a few chunks, so that lookups hit, miss and share /24s. */
static void random_addr(struct map_run *r, char *buf, size_t cap)
{
    static const int firsts[] = { 10, 77, 200 };
    snprintf(buf, cap, "%d.%u.%u.%u", firsts[rnd(r) % 3], rnd(r) % 3, rnd(r) % 6, rnd(r) % 8);
}

static void random_write(struct map_run *r, struct store_txn *w, const struct zone *z)
{
    MDB_dbi dbi = z->dbi;
    char a[64];
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n;
    unsigned what = rnd(r) % 10;
    static const char *const texts[] = { "dha", "mass" };
    struct listing l = { .nreasons = 1, .since = NOW - 10 };
    l.reasons[0] = (struct reason){ CODE(0, 2 + rnd(r) % 3), rnd(r) % 5 ? 0 : NOW - 1, 3, texts[rnd(r) % 2] };
    random_addr(r, a, sizeof a);
    cr_assert_eq(addr_parse(a, &n.addr), 0, "%s", a);
    /* mostly single addresses; some /24../31 and /16 networks (host bits cleared) */
    n.plen = (uint8_t)(what == 5 ? 24 + rnd(r) % 8 : what == 6 ? 16 : 32);
    net_clear_host_bits(&n);
    size_t klen = store_key_net(&n, key);
    if (what == 4) {    /* an IPv6 /32 beside the IPv4 /32s: its key hash must never answer for theirs */
        struct ipnet v6 = { .plen = 32 };
        cr_assert_eq(addr_parse("2001:db8::", &v6.addr), 0);
        uint8_t k6[STORE_KEY_MAX];
        cr_assert_eq(store_put(w, dbi, k6, store_key_net(&v6, k6), &l, 0), 0);
    }
    if (what == 7)
        l.flags = LISTING_ALLOW;
    if (what >= 8) {
        int rc = store_del(w, dbi, key, klen);
        cr_assert(rc == 0 || rc == MDB_NOTFOUND);
    } else {
        cr_assert_eq(store_put(w, dbi, key, klen, &l, 0), 0);
    }
}

/* An index answers for the snapshot it was built at, and never for a later serial. */
static void expect_index_use(struct map_run *r, int zi)
{
    if (!r->with.indexes)
        return;
    if (r->index_fresh)
        cr_assert(r->with.index_used & (1ULL << zi), "the index was in use");
    else
        cr_assert_not(r->with.index_used & (1ULL << zi), "a stale index answered");
    r->with.index_used = 0;
}

/* A read transaction for r->with and for *without, a context with neither the map nor the filter. */
static MDB_txn *begin_compare(struct map_run *r, struct answer_ctx *without)
{
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    r->with.txn = txn;
    memset(without, 0, sizeof *without);
    without->zones = &zs;
    without->txn = txn;
    without->now = NOW;
    answer_ctx_invalidate(without);
    return txn;
}

/* The question answered with r->with, from what answer_prefetch worked out (after prefetch hints from
 * every prefix of the packet when hints is set: a hint may never change an answer), and without:
 * byte-identical answers. */
static void expect_same_answer(struct map_run *r, struct answer_ctx *without, const char *qname, uint16_t type,
                               int hints, const char *what)
{
    static uint8_t plain[4096];
    struct pkt p;
    build(&p, qname, type, DNS_CLASS_IN, 0);
    struct dns_query q;
    struct answer_prep prep;
    for (size_t cut = 0; hints && cut <= p.len; cut += 7) {
        query_parse(p.b, cut, &q);
        answer_prefetch(&r->with, &q, &prep);
        answer_prefetch_index(&r->with, &prep);
    }
    query_parse(p.b, p.len, &q);
    answer_prefetch(&r->with, &q, &prep);   /* the answer from what the prefetch worked out */
    answer_prefetch_index(&r->with, &prep);
    struct answer_info i1, i2;
    size_t n1 = answer_parsed(&r->with, &q, &prep, p.b, out, sizeof out, 0, &i1);
    size_t n2 = answer_query(without, p.b, p.len, plain, sizeof plain, 0, &i2);
    cr_assert_eq(n1, n2, "%s: lengths", qname);
    cr_assert(n1 > 0 && !memcmp(out, plain, n1), "%s: the %s changed the answer", qname, what);
    cr_assert_eq(i1.listed, i2.listed);
}

static void compare_answers(struct map_run *r, const struct zone *z, int zi)
{
    (void)z;
    struct answer_ctx without;
    MDB_txn *txn = begin_compare(r, &without);
    for (int i = 0; i < 40; i++) {
        char a[64], qname[128];
        random_addr(r, a, sizeof a);
        struct ipaddr ip;
        cr_assert_eq(addr_parse(a, &ip), 0);
        if (i % 4 == 3) {   /* ::ffff:a.b.c.d, answered from the IPv4 listings */
            char mapped[80];
            snprintf(mapped, sizeof mapped, "::ffff:%s", a);
            snprintf(qname, sizeof qname, "%s", rev6(mapped, "bl.example"));
        } else {
            snprintf(qname, sizeof qname, "%u.%u.%u.%u.bl.example", ip.bytes[3], ip.bytes[2], ip.bytes[1],
                     ip.bytes[0]);
        }
        expect_same_answer(r, &without, qname, LDNS_RR_TYPE_A, 0, "map");
    }
    cr_assert(r->with.map_ok & (1ULL << zi), "the map was in use");
    expect_index_use(r, zi);
    mdb_txn_abort(txn);
}

/* After a commit: the zone's index, rebuilt at the new snapshot two rounds in three, else left as it
 * was (stale: its serial is the previous one, and it must not answer). */
static void index_round(struct map_run *r, const struct zone *z, int round)
{
    struct store_index *cur = atomic_load(&r->indexes[z->slot]);
    if (round % 3 == 2 && cur) {
        MDB_txn *txn;
        struct zone_meta meta;
        cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
        cr_assert_eq(store_read_meta(txn, z->dbi, &meta), 0);
        mdb_txn_abort(txn);
        r->index_fresh = cur->serial == meta.serial;    /* a commit that changed nothing keeps it */
        return;
    }
    struct store_index *ix;
    char err[256];
    cr_assert_eq(store_index_build(st.env, z->dbi, (size_t)64 << 20, &ix, err, sizeof err), 0, "%s", err);
    store_index_free(atomic_exchange(&r->indexes[z->slot], ix));
    r->index_fresh = 1;
}

/* 150 rounds of random commits (every 50th clears the zone, every 20th writes rebuild_writes entries:
 * the map's rebuild path) to zone zname, each followed by compare(): answers through the zone's map (the
 * /24 map, or the key filter when keymap is set), and through its index too when index is set, must
 * stay byte-identical to answers without either. */
static void map_never_changes_an_answer(const char *zname, int keymap, int index, unsigned seed,
                                        int rebuild_writes,
                                        void (*write)(struct map_run *, struct store_txn *, const struct zone *),
                                        void (*compare)(struct map_run *, const struct zone *, int))
{
    struct zone *z = zoneset_find(&zs, zname);
    cr_assert_not_null(z);
    int zi = (int)(z - zs.zones);
    struct map_run r = { .seed = seed };
    for (int i = 0; i < zs.n; i++)
        zs.zones[i].slot = i + 1;
    r.maps[z->slot] = v4map_new();
    cr_assert_not_null(r.maps[z->slot]);
    r.with.zones = &zs;
    r.with.now = NOW;
    if (keymap)
        r.with.keymaps = r.maps;
    else
        r.with.v4maps = r.maps;
    if (index)
        r.with.indexes = r.indexes;
    answer_ctx_invalidate(&r.with);
    for (int round = 0; round < 150; round++) {
        struct store_txn w;
        cr_assert_eq(store_write_begin(&st, &w), 0);
        if (round % 50 == 49)
            cr_assert_eq(store_clear_zone(&w, z->dbi), 0);
        int writes = round % 20 == 10 ? rebuild_writes : 1 + (int)(rnd(&r) % 4);
        for (int k = 0; k < writes; k++)
            write(&r, &w, z);
        cr_assert_eq(store_write_commit(&w, NOW + (uint32_t)round), 0);
        if (index)
            index_round(&r, z, round);
        compare(&r, z, zi);
    }
    v4map_free(r.maps[z->slot]);
    store_index_free(atomic_load(&r.indexes[z->slot]));
}

Test(answer, v4map_never_changes_an_answer)
{
    map_never_changes_an_answer("bl.example", 0, 0, 7, 100, random_write, compare_answers);
}

Test(answer, index_never_changes_an_ipv4_answer)
{
    map_never_changes_an_answer("bl.example", 0, 1, 8, 100, random_write, compare_answers);
}

Test(answer, v4map_waits_for_a_merge_in_progress)
{
    struct zone *z = zoneset_find(&zs, "bl.example");
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    struct v4map *m = v4map_new();
    MDB_txn *txn;
    struct zone_meta meta;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(store_read_meta(txn, z->dbi, &meta), 0);
    cr_assert_neq(meta.v4_map_gen, 0);
    cr_assert_eq(v4map_sync(m, txn, z->dbi, 0), 0, "generation 0: the zone has no map");
    pthread_mutex_lock(&m->merge_lock);     /* another worker is merging */
    cr_assert_eq(v4map_sync(m, txn, z->dbi, meta.v4_map_gen), 0, "not usable until merged");
    pthread_mutex_unlock(&m->merge_lock);
    cr_assert_eq(v4map_sync(m, txn, z->dbi, meta.v4_map_gen), 1);
    cr_assert(v4map_may_hold(m, (const uint8_t[]){ 192, 0, 2, 200 }));
    cr_assert_not(v4map_may_hold(m, (const uint8_t[]){ 192, 0, 3, 1 }));
    cr_assert_eq(v4map_sync(m, txn, z->dbi, meta.v4_map_gen - 1), 1, "an older snapshot: a superset is fine");
    mdb_txn_abort(txn);
    v4map_free(m);
}

/* ---- the key filter (IPv6 and domain keys, v4map.h) ---- */

/* IPv6 entries crowd into a few /48s so that lookups hit, miss and share prefixes. */
static void random_v6(struct map_run *r, struct ipaddr *a)
{
    memset(a, 0, sizeof *a);
    a->family = ADDR_V6;
    a->bytes[0] = 0x20, a->bytes[1] = 0x01, a->bytes[2] = 0x0d, a->bytes[3] = 0xb8;
    a->bytes[5] = (uint8_t)(rnd(r) % 3);
    a->bytes[7] = (uint8_t)(rnd(r) % 4);
    a->bytes[15] = (uint8_t)(rnd(r) % 6);
}

static void random_domain(struct map_run *r, char *buf, size_t cap)
{
    static const char *const l1[] = { "a", "b", "mail" }, *const l2[] = { "x", "y" },
                      *const l3[] = { "example", "test2" };
    switch (rnd(r) % 4) {
    case 0: snprintf(buf, cap, "%s", l3[rnd(r) % 2]); break;
    case 1: snprintf(buf, cap, "%s.%s", l2[rnd(r) % 2], l3[rnd(r) % 2]); break;
    case 2: snprintf(buf, cap, "%s.%s.%s", l1[rnd(r) % 3], l2[rnd(r) % 2], l3[rnd(r) % 2]); break;
    default: snprintf(buf, cap, "q.%s.%s.%s", l1[rnd(r) % 3], l2[rnd(r) % 2], l3[rnd(r) % 2]); break;
    }
}

static void random_filtered_write(struct map_run *r, struct store_txn *w, const struct zone *z)
{
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    unsigned what = rnd(r) % 10;
    static const char *const texts[] = { "dha", "mass" };
    struct listing l = { .nreasons = 1, .since = NOW - 10 };
    l.reasons[0] = (struct reason){ CODE(0, 2 + rnd(r) % 3), rnd(r) % 5 ? 0 : NOW - 1, 3, texts[rnd(r) % 2] };
    if (z->kind == ZONE_IP) {
        static const uint8_t plens[] = { 128, 128, 64, 64, 56, 48, 32 };
        struct ipnet n;
        random_v6(r, &n.addr);
        n.plen = plens[rnd(r) % sizeof plens];
        net_clear_host_bits(&n);
        klen = store_key_net(&n, key);
    } else {
        char d[64];
        random_domain(r, d, sizeof d);
        klen = store_key_domain(d, strlen(d), key);
        if (what == 5)
            l.flags = LISTING_WILDCARD;
        if (what == 6)
            l.flags = LISTING_WILDCARD | LISTING_SUBDOMAINS;
    }
    if (what == 7)
        l.flags |= LISTING_ALLOW;
    if (what >= 8) {
        int rc = store_del(w, z->dbi, key, klen);
        cr_assert(rc == 0 || rc == MDB_NOTFOUND);
    } else {
        cr_assert_eq(store_put(w, z->dbi, key, klen, &l, 0), 0);
    }
}

/* A full name, or (one in four) a name above one: empty non-terminals must stay exact. */
static void random_filtered_qname(struct map_run *r, const struct zone *z, char *q, size_t cap)
{
    size_t pos = 0;
    if (z->kind == ZONE_IP) {
        struct ipaddr a;
        random_v6(r, &a);
        int n = rnd(r) % 4 ? 32 : 1 + (int)(rnd(r) % 31);
        for (int i = 32 - n; i < 32; i++) {
            int nib = (a.bytes[(31 - i) / 2] >> ((31 - i) % 2 ? 0 : 4)) & 15;
            pos += (size_t)snprintf(q + pos, cap - pos, "%x.", nib);
        }
    } else {
        random_domain(r, q, cap);
        pos = strlen(q);
        q[pos++] = '.';
    }
    snprintf(q + pos, cap - pos, "%s", z->name);
}

static void compare_filtered_answers(struct map_run *r, const struct zone *z, int zi)
{
    struct answer_ctx without;
    MDB_txn *txn = begin_compare(r, &without);
    static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_AAAA };
    for (int i = 0; i < 40; i++) {
        char qname[300];
        random_filtered_qname(r, z, qname, sizeof qname);
        expect_same_answer(r, &without, qname, types[rnd(r) % 3], 1, "filter");
    }
    cr_assert(r->with.kmap_ok & (1ULL << zi), "the filter was in use");
    expect_index_use(r, zi);
    mdb_txn_abort(txn);
}

Test(answer, keymap_never_changes_an_ipv6_answer)
{
    map_never_changes_an_answer("bl.example", 1, 0, 5, 2 * STORE_TXN_NEWKEYS, random_filtered_write,
                                compare_filtered_answers);
}

Test(answer, keymap_never_changes_a_domain_answer)
{
    map_never_changes_an_answer("dbl.example", 1, 0, 5, 2 * STORE_TXN_NEWKEYS, random_filtered_write,
                                compare_filtered_answers);
}

Test(answer, index_never_changes_an_ipv6_answer)
{
    map_never_changes_an_answer("bl.example", 1, 1, 6, 2 * STORE_TXN_NEWKEYS, random_filtered_write,
                                compare_filtered_answers);
}

Test(answer, index_never_changes_a_domain_answer)
{
    map_never_changes_an_answer("dbl.example", 1, 1, 6, 2 * STORE_TXN_NEWKEYS, random_filtered_write,
                                compare_filtered_answers);
}

Test(answer, keymap_skips_the_store_for_absent_keys)
{
    struct zone *z = zoneset_find(&zs, "dbl.example");
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("dbl.example", "listed.example", 0, 1, rs);
    struct v4map *m = v4map_new();
    MDB_txn *txn;
    struct zone_meta meta;
    uint8_t key[STORE_KEY_MAX];
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(store_read_meta(txn, z->dbi, &meta), 0);
    cr_assert_neq(meta.key_map_gen, 0);
    cr_assert_eq(keymap_sync(m, txn, z->dbi, 0), 0, "generation 0: the zone has no filter");
    pthread_mutex_lock(&m->merge_lock);     /* another worker is merging */
    cr_assert_eq(keymap_sync(m, txn, z->dbi, meta.key_map_gen), 0, "not usable until merged");
    pthread_mutex_unlock(&m->merge_lock);
    cr_assert_eq(keymap_sync(m, txn, z->dbi, meta.key_map_gen), 1);
    cr_assert(keymap_may_hold(m, key, store_key_domain("listed.example", 14, key)));
    cr_assert_not(keymap_may_hold(m, key, store_key_domain("other.example", 13, key)));
    mdb_txn_abort(txn);
    v4map_free(m);
}

/* README: "an expiry ... the TTL is cut to the earliest": a reason expiring in 100 s beside one that
 * never expires answers with TTL 100, not the zone's 300. */
Test(answer, ttl_is_the_earliest_expiry_not_the_latest)
{
    struct reason rs[] = { R(CODE(0, 2), NOW + 100, "dha"), R(CODE(0, 10), 0, "manual") };
    put("bl.example", "192.0.2.10", 0, 2, rs);
    ask(rev4("192.0.2.10", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_ancount(resp), 2);
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_A, 0)), 100);
}

/* RFC 2308 3: the SOA in a negative answer lives min(SOA TTL, MINIMUM). */
Test(answer, negative_soa_ttl_is_min_of_ttl_and_minimum)
{
    struct zone *z = zoneset_find(&zs, "bl.example");
    z->negative_ttl = 3600;                     /* negative-ttl = 3600 with ttl = 300 */
    ask(rev4("192.0.2.200", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN);
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0)), z->ttl);
    z->negative_ttl = 30;
    ask(rev4("192.0.2.200", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_rr_ttl(nth(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA, 0)), 30);
}

/* A long TXT: strings of at most 255 bytes, none ending inside a word; past the 1,023-byte cap whole
 * reasons are left out. */
Test(answer, long_txt_split_between_words)
{
    static char texts[8][241];
    struct reason rs[8];
    for (int i = 0; i < 8; i++) {
        size_t pos = 0;
        while (pos + 8 < sizeof texts[i])
            pos += (size_t)snprintf(texts[i] + pos, sizeof texts[i] - pos, "word%02d%c ", i, 'a' + (int)(pos % 26));
        texts[i][pos - 1] = '\0';
        rs[i] = (struct reason){ CODE(0, 2 + i), 0, (uint8_t)strlen(texts[i]), texts[i] };
    }
    put("bl.example", "192.0.2.11", 0, 8, rs);
    ask_full(rev4("192.0.2.11", "bl.example"), LDNS_RR_TYPE_TXT, DNS_CLASS_IN, 0, 1);
    ldns_rr *txt = nth(ldns_pkt_answer(resp), LDNS_RR_TYPE_TXT, 0);
    size_t total = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(txt); i++) {
        const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(txt, i));
        size_t n = d[0];
        cr_assert_leq(n, 255);
        total += n;
        if (i + 1 < ldns_rr_rd_count(txt))
            cr_assert_eq(d[n], ' ', "string %zu ends after a space, not inside a word", i);
    }
    cr_assert_leq(total, 1023, "the cap");
    cr_assert_gt(total, 700);
    char all[1100];
    size_t pos = 0;
    for (size_t i = 0; i < ldns_rr_rd_count(txt); i++) {
        const uint8_t *d = ldns_rdf_data(ldns_rr_rdf(txt, i));
        memcpy(all + pos, d + 1, d[0]);
        pos += d[0];
    }
    all[pos] = '\0';
    cr_assert(pos >= 2 && all[pos - 1] != ' ' && strncmp(all + pos - 2, "; ", 2), "no half reason at the end: [%s]", all + pos - 20);
    size_t last = strlen(texts[0]);
    cr_assert(!strncmp(all, texts[0], last), "the first reason whole");
}

/* RFC 1995 4: IXFR over UDP, with the client's SOA in the authority section, gets our SOA alone. */
Test(answer, ixfr_over_udp_gets_the_soa)
{
    struct pkt p;
    build(&p, "bl.example", DNS_TYPE_IXFR, DNS_CLASS_IN, 0);
    p.b[9] = 1;                                 /* NSCOUNT 1 */
    pkt_name(&p, "bl.example");
    u16(&p, DNS_TYPE_SOA);
    u16(&p, DNS_CLASS_IN);
    u16(&p, 0), u16(&p, 0);                     /* TTL */
    u16(&p, 22);                                /* rdata: root, root, five numbers */
    u8(&p, 0), u8(&p, 0);
    for (int i = 0; i < 5; i++)
        u16(&p, 0), u16(&p, 1);
    send_pkt(&p, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR);
    cr_assert_eq(ldns_pkt_ancount(resp), 1);
    cr_assert_eq(count(ldns_pkt_answer(resp), LDNS_RR_TYPE_SOA), 1);
    cr_assert(ldns_pkt_aa(resp));
}

/* RFC 6891 / 3225: a response to a query with an OPT has one, FORMERR included; DO is copied. */
Test(answer, opt_everywhere_and_do_copied)
{
    struct pkt p;
    build(&p, rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A, DNS_CLASS_IN, 1232);
    p.b[p.len - 4] = 0x80;                      /* the OPT's flags: DO */
    send_pkt(&p, 0);
    cr_assert(ldns_pkt_edns(resp));
    cr_assert(ldns_pkt_edns_do(resp), "DO copied");
    build(&p, rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A, DNS_CLASS_IN, 1232);
    send_pkt(&p, 0);
    cr_assert_not(ldns_pkt_edns_do(resp), "no DO when the query had none");
    /* an answer record in a query is malformed: FORMERR, and still an OPT */
    build(&p, rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A, DNS_CLASS_IN, 0);
    p.b[7] = 1;                                 /* ANCOUNT 1 */
    pkt_name(&p, "x.bl.example");
    u16(&p, LDNS_RR_TYPE_A), u16(&p, DNS_CLASS_IN), u16(&p, 0), u16(&p, 60), u16(&p, 4), u16(&p, 0x7f00), u16(&p, 2);
    p.b[11] = 1;                                /* ARCOUNT 1 */
    u8(&p, 0), u16(&p, DNS_TYPE_OPT), u16(&p, 1232), u16(&p, 0), u16(&p, 0), u16(&p, 0);
    send_pkt(&p, 0);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_FORMERR);
    cr_assert(ldns_pkt_edns(resp), "FORMERR carries the OPT");
}

/* RFC 8020: a name above a listing exists (NOERROR, no answer, the SOA); NXDOMAIN would tell a
 * resolver that nothing below it exists either. */
static void expect_nodata(const char *name)
{
    ask(name, LDNS_RR_TYPE_A);
    cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR, "%s: NODATA, not NXDOMAIN", name);
    cr_expect_eq(ldns_pkt_ancount(resp), 0, "%s", name);
    cr_expect_eq(count(ldns_pkt_authority(resp), LDNS_RR_TYPE_SOA), 1, "%s: SOA", name);
}

static void expect_nxdomain(const char *name)
{
    ask(name, LDNS_RR_TYPE_A);
    cr_expect_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NXDOMAIN, "%s", name);
}

Test(answer, empty_non_terminals_exist)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.5", 0, 1, rs);
    put("bl.example", "2001:db8:aa:bb::/64", 0, 1, rs);
    put("bl.example", "10.1.0.0/16", 0, 1, rs);
    expect_nodata("2.0.192.bl.example");
    expect_nodata("0.192.bl.example");
    expect_nodata("192.bl.example");
    expect_nxdomain("3.0.192.bl.example");
    expect_nxdomain("193.bl.example");
    expect_nodata("0.0.127.bl.example");            /* above the test point 127.0.0.2 */
    expect_nodata("1.10.bl.example");               /* a name a /16 covers ... */
    expect_nodata("7.1.10.bl.example");             /* ... and one below it */
    expect_nodata("1.0.0.2.bl.example");            /* IPv4 2.0.0.1 is not listed, but 2001::/16 is above */
    expect_nodata("8.b.d.0.1.0.0.2.bl.example");    /* 2001:db8::/32 */
    expect_nodata("b.b.0.0.a.a.0.0.8.b.d.0.1.0.0.2.bl.example");   /* the /64 itself */
    expect_nxdomain("c.b.0.0.a.a.0.0.8.b.d.0.1.0.0.2.bl.example");
    expect_nxdomain("9.b.d.0.1.0.0.2.bl.example");
    /* an expired or allow entry makes nothing exist */
    struct reason old[] = { R(CODE(0, 2), NOW - 10, "gone") };
    put("bl.example", "198.51.100.7", 0, 1, old);
    expect_nxdomain("100.51.198.bl.example");
    struct reason allow[] = { R(0, 0, "") };
    put("bl.example", "203.0.113.9", LISTING_ALLOW, 1, allow);
    expect_nxdomain("113.0.203.bl.example");
}

/* Found by test_differential.sh (Knot answered NXDOMAIN, the primary NODATA): a name inside an allow
 * hole holds nothing listed, whatever covers the hole or lies inside it, so it does not exist. */
Test(answer, names_inside_an_allow_hole_do_not_exist)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") }, allow[] = { R(0, 0, "") };
    put("bl.example", "100.1.0.0/16", 0, 1, rs);
    put("bl.example", "100.1.252.0/24", LISTING_ALLOW, 1, allow);
    expect_nxdomain("252.1.100.bl.example");        /* the hole, under the listed /16 */
    expect_nodata("251.1.100.bl.example");          /* beside it, the /16 still covers */
    expect_nodata("1.100.bl.example");
    put("bl.example", "198.18.5.0/24", LISTING_ALLOW, 1, allow);
    put("bl.example", "198.18.5.9", 0, 1, rs);      /* listed, but inside the allowed /24: not listed */
    expect_nxdomain("5.18.198.bl.example");
    expect_nxdomain("18.198.bl.example");
    put("bl.example", "2001:db8:77::/48", 0, 1, rs);
    put("bl.example", "2001:db8:77:1::/64", LISTING_ALLOW, 1, allow);
    expect_nxdomain("1.0.0.0.7.7.0.0.8.b.d.0.1.0.0.2.bl.example");
    expect_nodata("2.0.0.0.7.7.0.0.8.b.d.0.1.0.0.2.bl.example");
    struct reason gone[] = { R(0, NOW - 5, "") };   /* an expired allow entry shields nothing */
    put("bl.example", "100.2.0.0/16", 0, 1, rs);
    put("bl.example", "100.2.9.0/24", LISTING_ALLOW, 1, gone);
    expect_nodata("9.2.100.bl.example");
}

Test(answer, wildcard_parent_exists_in_domain_zones)
{
    struct reason rs[] = { R(CODE(1, 3), 0, "x") };
    put("dbl.example", "sub.example", LISTING_WILDCARD | LISTING_SUBDOMAINS, 1, rs);
    expect_nodata("sub.example.dbl.example");
    ask("a.sub.example.dbl.example", LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_ancount(resp), 1, "the subdomain is listed");
    expect_nxdomain("other.example.dbl.example");
}

/* ---- a store that cannot be read ---- */

/* Asks qname with the zone's database handle replaced by one LMDB refuses (EINVAL): every read of
 * the zone, its meta record included, fails. */
static void ask_unreadable(const char *zname, const char *qname, uint16_t qtype)
{
    struct zone *z = zoneset_find(&zs, zname);
    cr_assert_not_null(z, "zone %s", zname);
    MDB_dbi dbi = z->dbi;
    z->dbi = 4000;
    ask(qname, qtype);
    z->dbi = dbi;
}

static void expect_servfail(const char *what)
{
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_SERVFAIL, "%s: rcode %d", what, ldns_pkt_get_rcode(resp));
    cr_assert_eq(ldns_pkt_ancount(resp), 0, "%s: nothing from an unreadable store", what);
    cr_assert_eq(ldns_pkt_nscount(resp), 0, "%s", what);
    cr_assert_eq(ldns_pkt_qdcount(resp), 1, "%s: the question echoed", what);
}

Test(answer, store_error_servfail_ip_zone)
{
    struct reason rs[] = { R(CODE(0, 2), 0, "x") };
    put("bl.example", "192.0.2.1", 0, 1, rs);
    put("bl.example", "2001:db8::/32", 0, 1, rs);
    ask_unreadable("bl.example", rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A);
    expect_servfail("listed IPv4");
    ask_unreadable("bl.example", rev4("192.0.2.9", "bl.example"), LDNS_RR_TYPE_TXT);
    expect_servfail("unlisted IPv4");
    ask_unreadable("bl.example", rev6("2001:db8::1", "bl.example"), LDNS_RR_TYPE_A);
    expect_servfail("listed IPv6");
    ask_unreadable("bl.example", "2.0.192.bl.example", LDNS_RR_TYPE_A);
    expect_servfail("a prefix name");
    ask_unreadable("bl.example", "bl.example", LDNS_RR_TYPE_SOA);
    expect_servfail("the apex SOA (its serial)");
    ask(rev4("192.0.2.1", "bl.example"), LDNS_RR_TYPE_A);
    cr_assert_eq(ldns_pkt_get_rcode(resp), LDNS_RCODE_NOERROR, "readable again: answered again");
}

Test(answer, store_error_servfail_domain_zone)
{
    struct reason rs[] = { R(CODE(1, 3), 0, "x") };
    put("dbl.example", "example.com", 0, 1, rs);
    ask_unreadable("dbl.example", "example.com.dbl.example", LDNS_RR_TYPE_A);
    expect_servfail("listed domain");
    ask_unreadable("dbl.example", "not-listed.example.dbl.example", LDNS_RR_TYPE_TXT);
    expect_servfail("unlisted domain");
}

Test(answer, store_error_servfail_account_zone)
{
    struct zone *z = zoneset_find(&zs, "acct.example");
    if (!z)
        cr_skip_test("the repo has no acct.example zone");
    struct reason rs[] = { R(z->codes[z->default_code].addr, 0, "guessing") };
    put("acct.example", "dff1814457f5f95550f4ccecf8db4fd6", 0, 1, rs);
    ask_unreadable("acct.example", "dff1814457f5f95550f4ccecf8db4fd6.acct.example", LDNS_RR_TYPE_A);
    expect_servfail("listed account");
    ask_unreadable("acct.example", "00000000000000000000000000000000.acct.example", LDNS_RR_TYPE_A);
    expect_servfail("unlisted account");
}
