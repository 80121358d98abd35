/* test_store.c - keys, values and lookups of the LMDB store, on a real environment in a temp dir. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

#define CODE(d) (0x7f000000u | (d))     /* 127.0.0.d */
#define NOW 1700000000u

static char dir[64];
static struct store st;
static MDB_dbi dbi;

static void setup(void)
{
    char err[256];
    tmpdir_make(dir, sizeof dir, "test_store");
    cr_assert_eq(store_open(&st, dir, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_zone_dbi(&st, "bl.example", &dbi, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
    store_close(&st);
    tmpdir_remove(dir);
}

static struct listing one_reason(uint8_t flags, uint32_t code, uint32_t expires, const char *text)
{
    struct listing l = { .flags = flags, .nreasons = 1, .since = NOW - 10 };
    l.reasons[0] = (struct reason){ code, expires, (uint8_t)strlen(text), text };
    return l;
}

static struct ipnet net(const char *s)
{
    struct ipnet n;
    cr_assert_geq(net_parse(s, &n), 0, "%s", s);
    return n;
}

static struct ipaddr addr(const char *s)
{
    struct ipaddr a;
    cr_assert_eq(addr_parse(s, &a), 0, "%s", s);
    return a;
}

/* One write transaction holding one entry, committed at NOW. */
static void put_net(const char *cidr, const struct listing *l)
{
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net(cidr);
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

static void put_domain(const char *name, const struct listing *l)
{
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, dbi, key, store_key_domain(name, strlen(name), key), l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

static MDB_txn *rtxn(void)
{
    MDB_txn *t;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &t), 0);
    return t;
}

static struct zone_meta meta(void)
{
    struct zone_meta m;
    MDB_txn *t = rtxn();
    cr_assert_eq(store_read_meta(t, dbi, &m), 0);
    mdb_txn_abort(t);
    return m;
}

/* store_lookup_ip at `now`: returns its result and the first reason's code (0 if none). */
static int lookup_ip(const char *a, uint32_t now, uint32_t *code, struct ipnet *matched)
{
    struct listing l;
    struct zone_meta m;
    struct ipaddr ip = addr(a);
    MDB_txn *t = rtxn();
    cr_assert_eq(store_read_meta(t, dbi, &m), 0);
    int rc = store_lookup_ip(t, dbi, &m, &ip, now, &l, matched);
    if (code)
        *code = rc == 1 && l.nreasons ? l.reasons[0].code : 0;
    mdb_txn_abort(t);
    return rc;
}

static int lookup_domain(const char *name, uint32_t now, uint32_t *code, size_t *off)
{
    struct listing l;
    MDB_txn *t = rtxn();
    int rc = store_lookup_domain(t, dbi, name, strlen(name), now, &l, off);
    if (code)
        *code = rc == 1 && l.nreasons ? l.reasons[0].code : 0;
    mdb_txn_abort(t);
    return rc;
}

/* ---- keys ---- */

Test(keys, net_v4_layout_and_round_trip)
{
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("192.0.2.0/24"), back;
    size_t len = store_key_net(&n, key);
    const uint8_t want[] = { 4, 192, 0, 2, 0, 24 };
    cr_assert_eq(len, sizeof want);
    cr_assert_arr_eq(key, want, sizeof want);
    char dom[8];
    cr_assert_eq(store_key_decode(key, len, &back, dom, sizeof dom), 'n');
    cr_assert_eq(back.addr.family, ADDR_V4);
    cr_assert_eq(back.plen, 24);
    cr_assert_arr_eq(back.addr.bytes, n.addr.bytes, 16);
}

Test(keys, net_v6_round_trip)
{
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("2001:db8:1:2::/64"), back;
    size_t len = store_key_net(&n, key);
    cr_assert_eq(len, 18);
    cr_assert_eq(key[0], ADDR_V6);
    cr_assert_eq(key[17], 64);
    char dom[8];
    cr_assert_eq(store_key_decode(key, len, &back, dom, sizeof dom), 'n');
    cr_assert_eq(back.addr.family, ADDR_V6);
    cr_assert_eq(back.plen, 64);
    cr_assert_arr_eq(back.addr.bytes, n.addr.bytes, 16);
}

Test(keys, domain_round_trip)
{
    uint8_t key[STORE_KEY_MAX];
    char dom[DOMAIN_MAX + 1];
    struct ipnet n;
    size_t len = store_key_domain("mail.example.com", 16, key);
    cr_assert_eq(len, 17);
    cr_assert_eq(key[0], 'D');
    cr_assert_eq(memcmp(key + 1, "mail.example.com", 16), 0);
    cr_assert_eq(store_key_decode(key, len, &n, dom, sizeof dom), 'd');
    cr_assert_str_eq(dom, "mail.example.com");
}

Test(keys, decode_rejects_others)
{
    struct ipnet n;
    char dom[8];
    const uint8_t meta_key[] = { 0, 'm', 'e', 't', 'a' };
    cr_assert_eq(store_key_decode(meta_key, sizeof meta_key, &n, dom, sizeof dom), 0);
    const uint8_t short4[] = { 4, 1, 2, 3, 24 };
    cr_assert_eq(store_key_decode(short4, sizeof short4, &n, dom, sizeof dom), 0, "v4 key of 5 bytes");
    const uint8_t d_only[] = { 'D' };
    cr_assert_eq(store_key_decode(d_only, 1, &n, dom, sizeof dom), 0, "empty domain");
    const uint8_t long_dom[] = { 'D', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
    cr_assert_eq(store_key_decode(long_dom, sizeof long_dom, &n, dom, sizeof dom), 0, "no room");
    cr_assert_eq(store_key_decode(long_dom, 8, &n, dom, sizeof dom), 'd', "7 chars + NUL fit in 8");
    cr_assert_str_eq(dom, "abcdefg");
    cr_assert_eq(store_key_decode(meta_key, 0, &n, dom, sizeof dom), 0);
}

/* ---- values ---- */

static struct listing sample(void)
{
    static char long_text[255];
    memset(long_text, 'z', sizeof long_text);
    struct listing l = { .flags = LISTING_MANUAL | LISTING_WILDCARD, .nreasons = 3, .since = 0x01020304 };
    l.reasons[0] = (struct reason){ CODE(2), 0, 5, "hello" };
    l.reasons[1] = (struct reason){ CODE(4), 0xfedcba98, 0, "" };
    l.reasons[2] = (struct reason){ CODE(10), NOW + 60, 255, long_text };
    return l;
}

Test(values, round_trip)
{
    uint8_t buf[STORE_VALUE_MAX];
    struct listing l = sample(), back;
    int len = listing_encode(&l, buf, sizeof buf);
    cr_assert_eq(len, 6 + (9 + 5) + (9 + 0) + (9 + 255));
    cr_assert_eq(listing_decode(buf, (size_t)len, &back), 0);
    cr_assert_eq(back.flags, l.flags);
    cr_assert_eq(back.nreasons, 3);
    cr_assert_eq(back.since, 0x01020304u);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(back.reasons[i].code, l.reasons[i].code);
        cr_expect_eq(back.reasons[i].expires, l.reasons[i].expires);
        cr_expect_eq(back.reasons[i].text_len, l.reasons[i].text_len);
        cr_expect_eq(memcmp(back.reasons[i].text, l.reasons[i].text, l.reasons[i].text_len), 0);
    }
}

Test(values, byte_layout)
{
    uint8_t buf[64];
    struct listing l = one_reason(LISTING_ALLOW, CODE(2), 0x11223344, "ab");
    l.since = 0xa1b2c3d4;
    cr_assert_eq(listing_encode(&l, buf, sizeof buf), 17);
    /* flags, n, since LE, code BE (network order), expires LE, len, text */
    const uint8_t want[] = { 1, 1, 0xd4, 0xc3, 0xb2, 0xa1, 127, 0, 0, 2, 0x44, 0x33, 0x22, 0x11, 2, 'a', 'b' };
    cr_assert_arr_eq(buf, want, sizeof want);
}

Test(values, full_listing_fits_value_max)
{
    static char text[255];
    uint8_t buf[STORE_VALUE_MAX];
    struct listing l = { .nreasons = LISTING_MAX_REASONS }, back;
    memset(text, 'x', sizeof text);
    for (int i = 0; i < LISTING_MAX_REASONS; i++)
        l.reasons[i] = (struct reason){ CODE(2 + i), 0, 255, text };
    cr_assert_eq(listing_encode(&l, buf, sizeof buf), STORE_VALUE_MAX);
    cr_assert_eq(listing_decode(buf, sizeof buf, &back), 0);
    cr_assert_eq(back.nreasons, LISTING_MAX_REASONS);
}

Test(values, encode_refuses)
{
    uint8_t buf[STORE_VALUE_MAX];
    struct listing l = sample();
    cr_assert_eq(listing_encode(&l, buf, 5), -1);
    cr_assert_eq(listing_encode(&l, buf, 6 + 14 + 9 + 264 - 1), -1, "one byte short");
    cr_assert_eq(listing_encode(&l, buf, 6 + 14 + 9 + 264), 6 + 14 + 9 + 264);
    l.nreasons = LISTING_MAX_REASONS + 1;
    cr_assert_eq(listing_encode(&l, buf, sizeof buf), -1);
}

Test(values, every_truncation_fails)
{
    uint8_t buf[STORE_VALUE_MAX];
    struct listing l = sample(), back;
    int len = listing_encode(&l, buf, sizeof buf);
    cr_assert_gt(len, 0);
    for (int n = 0; n < len; n++) {
        /* a copy of exactly n bytes, so that ASan sees any read past it */
        uint8_t *copy = malloc(n ? (size_t)n : 1);
        memcpy(copy, buf, (size_t)n);
        cr_expect_eq(listing_decode(copy, (size_t)n, &back), -1, "truncated to %d of %d", n, len);
        free(copy);
    }
}

Test(values, overlong_and_bad_counts)
{
    uint8_t buf[STORE_VALUE_MAX + 1];
    struct listing l = sample(), back;
    int len = listing_encode(&l, buf, sizeof buf);
    buf[len] = 0;
    cr_assert_eq(listing_decode(buf, (size_t)len + 1, &back), -1, "a trailing byte");
    buf[1] = LISTING_MAX_REASONS + 1;
    cr_assert_eq(listing_decode(buf, (size_t)len, &back), -1, "too many reasons");
    buf[1] = 2;
    cr_assert_eq(listing_decode(buf, (size_t)len, &back), -1, "fewer reasons than bytes");
    buf[1] = 3;
    buf[6 + 8] = 200;     /* the first text's length now runs past the end */
    cr_assert_eq(listing_decode(buf, (size_t)len, &back), -1);
    const uint8_t empty[6] = { 0, 0, 1, 0, 0, 0 };
    cr_assert_eq(listing_decode(empty, 6, &back), 0, "no reasons is well formed");
    cr_assert_eq(back.nreasons, 0);
}

Test(values, garbage_never_crashes)
{
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 300);
        uint8_t *p = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[i] = (uint8_t)x;
        }
        if (len > 1)
            p[1] &= 7;      /* a plausible count, so that the reason parsing runs */
        struct listing back;
        if (listing_decode(p, len, &back) == 0) {
            size_t total = 6;
            for (int i = 0; i < back.nreasons; i++)
                total += 9 + back.reasons[i].text_len;
            cr_assert_eq(total, len, "an accepted value must be exactly its encoding");
        }
        free(p);
    }
}

Test(values, live_and_expires)
{
    struct listing l = { .nreasons = 2 };
    l.reasons[0].expires = NOW + 10;
    l.reasons[1].expires = NOW + 50;
    cr_assert(listing_live(&l, NOW));
    cr_assert(listing_live(&l, NOW + 49));
    cr_assert_not(listing_live(&l, NOW + 50), "expires is the first second it is gone");
    cr_assert_eq(listing_expires(&l), NOW + 50);
    l.reasons[0].expires = 0;
    cr_assert(listing_live(&l, 0xffffffffu));
    cr_assert_eq(listing_expires(&l), 0, "one reason never expires");
    l.nreasons = 0;
    cr_assert_not(listing_live(&l, NOW), "no reasons: nothing to answer");
}

Test(values, set_reason_replace_and_full)
{
    struct listing l = one_reason(0, CODE(2), 0, "first");
    struct reason r = { CODE(2), NOW + 5, 6, "second" };
    cr_assert_eq(listing_set_reason(&l, &r), 0);
    cr_assert_eq(l.nreasons, 1, "same code replaces");
    cr_assert_eq(l.reasons[0].expires, NOW + 5);
    cr_assert_eq(memcmp(l.reasons[0].text, "second", 6), 0);
    for (uint32_t d = 3; d < 3 + LISTING_MAX_REASONS - 1; d++) {
        struct reason x = { CODE(d), 0, 0, "" };
        cr_assert_eq(listing_set_reason(&l, &x), 0);
    }
    cr_assert_eq(l.nreasons, LISTING_MAX_REASONS);
    struct reason extra = { CODE(99), 0, 0, "" };
    cr_assert_eq(listing_set_reason(&l, &extra), -1, "full");
    cr_assert_eq(l.nreasons, LISTING_MAX_REASONS);
    struct reason again = { CODE(5), 7, 1, "y" };
    cr_assert_eq(listing_set_reason(&l, &again), 0, "replacing still works when full");
    cr_assert_eq(l.reasons[3].expires, 7u);
}

/* ---- CIDR lookups ---- */

TestSuite(ip, .init = setup, .fini = teardown);

Test(ip, slash24_inside_and_outside)
{
    struct listing l = one_reason(0, CODE(3), 0, "net");
    put_net("192.0.2.0/24", &l);
    uint32_t code;
    struct ipnet m;
    for (int i = 0; i < 256; i++) {
        char a[32];
        snprintf(a, sizeof a, "192.0.2.%d", i);
        cr_expect_eq(lookup_ip(a, NOW, &code, &m), 1, "%s", a);
        cr_expect_eq(code, CODE(3));
        cr_expect_eq(m.plen, 24);
    }
    const char *outside[] = { "192.0.1.255", "192.0.3.0", "193.0.2.1", "0.0.0.0", "255.255.255.255" };
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++)
        cr_expect_eq(lookup_ip(outside[i], NOW, NULL, NULL), 0, "%s", outside[i]);
}

Test(ip, most_specific_wins)
{
    struct listing wide = one_reason(0, CODE(3), 0, "wide");
    struct listing narrow = one_reason(0, CODE(2), 0, "narrow");
    put_net("192.0.2.0/24", &wide);
    put_net("192.0.2.7/32", &narrow);
    uint32_t code;
    struct ipnet m;
    cr_assert_eq(lookup_ip("192.0.2.7", NOW, &code, &m), 1);
    cr_assert_eq(code, CODE(2));
    cr_assert_eq(m.plen, 32);
    cr_assert_eq(lookup_ip("192.0.2.8", NOW, &code, &m), 1);
    cr_assert_eq(code, CODE(3));
    cr_assert_eq(m.plen, 24);
}

Test(ip, allow_punches_a_hole)
{
    struct listing wide = one_reason(0, CODE(3), 0, "wide");
    struct listing allow = one_reason(LISTING_ALLOW, 0, 0, "");
    put_net("192.0.2.0/24", &wide);
    put_net("192.0.2.9/32", &allow);
    struct listing l;
    struct zone_meta m;
    struct ipaddr ip = addr("192.0.2.9");
    MDB_txn *t = rtxn();
    store_read_meta(t, dbi, &m);
    cr_assert_eq(store_lookup_ip(t, dbi, &m, &ip, NOW, &l, NULL), 0);
    cr_assert(l.flags & LISTING_ALLOW, "the caller can tell an allow entry");
    mdb_txn_abort(t);
    cr_assert_eq(lookup_ip("192.0.2.10", NOW, NULL, NULL), 1);
}

Test(ip, expired_specific_falls_back)
{
    struct listing wide = one_reason(0, CODE(3), 0, "wide");
    struct listing narrow = one_reason(0, CODE(2), NOW + 100, "narrow");
    put_net("192.0.2.0/24", &wide);
    put_net("192.0.2.7/32", &narrow);
    uint32_t code;
    cr_assert_eq(lookup_ip("192.0.2.7", NOW + 99, &code, NULL), 1);
    cr_assert_eq(code, CODE(2));
    cr_assert_eq(lookup_ip("192.0.2.7", NOW + 100, &code, NULL), 1);
    cr_assert_eq(code, CODE(3), "the /32 has expired: the /24 answers");
}

Test(ip, expired_allow_no_longer_a_hole)
{
    struct listing wide = one_reason(0, CODE(3), 0, "wide");
    struct listing allow = one_reason(LISTING_ALLOW, 0, NOW + 5, "");
    put_net("192.0.2.0/24", &wide);
    put_net("192.0.2.9/32", &allow);
    cr_assert_eq(lookup_ip("192.0.2.9", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_ip("192.0.2.9", NOW + 5, NULL, NULL), 1);
}

Test(ip, expired_only_is_invisible)
{
    struct listing l = one_reason(0, CODE(3), NOW + 1, "x");
    put_net("198.51.100.1", &l);
    cr_assert_eq(lookup_ip("198.51.100.1", NOW, NULL, NULL), 1);
    struct listing out;
    struct zone_meta m;
    struct ipaddr ip = addr("198.51.100.1");
    MDB_txn *t = rtxn();
    store_read_meta(t, dbi, &m);
    cr_assert_eq(store_lookup_ip(t, dbi, &m, &ip, NOW + 1, &out, NULL), 0);
    cr_assert_eq(out.nreasons, 0);
    cr_assert_eq(out.flags, 0);
    /* store_get still sees it */
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("198.51.100.1");
    cr_assert_eq(store_get(t, dbi, key, store_key_net(&n, key), &out), 1);
    mdb_txn_abort(t);
}

Test(ip, ipv6_64_and_128)
{
    struct listing l64 = one_reason(0, CODE(5), 0, "v6 net");
    struct listing l128 = one_reason(0, CODE(4), 0, "v6 host");
    put_net("2001:db8:1:2::/64", &l64);
    put_net("2001:db8:1:2::99", &l128);
    uint32_t code;
    struct ipnet m;
    cr_assert_eq(lookup_ip("2001:db8:1:2:ffff:ffff:ffff:ffff", NOW, &code, &m), 1);
    cr_assert_eq(code, CODE(5));
    cr_assert_eq(m.plen, 64);
    cr_assert_eq(lookup_ip("2001:db8:1:2::99", NOW, &code, &m), 1);
    cr_assert_eq(code, CODE(4));
    cr_assert_eq(m.plen, 128);
    cr_assert_eq(lookup_ip("2001:db8:1:3::", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_ip("2001:db8:1:1:ffff:ffff:ffff:ffff", NOW, NULL, NULL), 0);
}

/* A lookup visits only the prefix lengths the zone has, longest first, across the 64-bit words of
 * the v6 mask: a listing at each edge length is found beside an entry at every other edge length
 * (present in the mask but covering another address), and the most specific of two covering wins. */
Test(ip, every_present_prefix_length_is_visited)
{
    static const int v6[] = { 0, 1, 62, 63, 64, 65, 126, 127, 128 }, v4[] = { 0, 1, 8, 23, 24, 25, 31, 32 };
    for (int fam = 0; fam < 2; fam++) {
        const int *plens = fam ? v4 : v6;
        int n = fam ? 8 : 9;
        const char *target = fam ? "203.0.113.77" : "2001:db8:ffff:ffff:8000::77";
        const char *other = fam ? "10.51.100.9" : "3fff:1::9";      /* not in the target's /1 */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                teardown();
                setup();
                char cidr[80];
                struct listing l = one_reason(0, CODE(1), 0, "target"), o = one_reason(0, CODE(2), 0, "other");
                snprintf(cidr, sizeof cidr, "%s/%d", target, plens[i]);
                struct ipnet tn = net(cidr);
                net_clear_host_bits(&tn);
                struct store_txn w;
                uint8_t key[STORE_KEY_MAX];
                cr_assert_eq(store_write_begin(&st, &w), 0);
                cr_assert_eq(store_put(&w, dbi, key, store_key_net(&tn, key), &l, 0), 0);
                snprintf(cidr, sizeof cidr, "%s/%d", other, plens[j]);
                struct ipnet on = net(cidr);
                net_clear_host_bits(&on);
                struct ipaddr ta = addr(target);
                if (plens[j] > 0 && !net_contains(&on, &ta))
                    cr_assert_eq(store_put(&w, dbi, key, store_key_net(&on, key), &o, 0), 0);
                cr_assert_eq(store_write_commit(&w, NOW), 0);
                uint32_t code;
                struct ipnet m;
                cr_assert_eq(lookup_ip(target, NOW, &code, &m), 1, "/%d beside /%d", plens[i], plens[j]);
                cr_assert_eq(code, CODE(1));
                cr_assert_eq(m.plen, plens[i], "/%d beside /%d", plens[i], plens[j]);
            }
    }
}

Test(ip, families_do_not_mix)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("0.0.0.0/0", &l);
    cr_assert_eq(lookup_ip("203.0.113.5", NOW, NULL, NULL), 1);
    cr_assert_eq(lookup_ip("::ffff:203.0.113.5", NOW, NULL, NULL), 0, "the store does not unmap");
    cr_assert_eq(lookup_ip("2001:db8::1", NOW, NULL, NULL), 0);
}

Test(ip, meta_masks)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    const char *nets[] = { "10.0.0.0/8", "192.0.2.0/24", "192.0.2.1", "2001:db8::/32", "2001:db8::/64",
                           "2001:db8::1", "::/0" };
    cr_assert_eq(store_write_begin(&st, &w), 0);
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        struct ipnet n = net(nets[i]);
        cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    struct zone_meta m = meta();
    cr_assert_eq(m.v4_plens, (1ull << 8) | (1ull << 24) | (1ull << 32));
    cr_assert_eq(m.v6_plens[0], (1ull << 0) | (1ull << 32));
    cr_assert_eq(m.v6_plens[1], 1ull << 0, "/64 is bit 0 of the second word");
    cr_assert_eq(m.v6_plens[2], 1ull << 0, "/128 is bit 0 of the third word");
    cr_assert_eq(lookup_ip("2001:db9::", NOW, NULL, NULL), 1, "::/0 covers it");
}

Test(ip, meta_masks_accumulate_and_domains_add_none)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("192.0.2.0/24", &l);
    put_domain("example.com", &l);
    put_net("198.51.100.0/25", &l);
    struct zone_meta m = meta();
    cr_assert_eq(m.v4_plens, (1ull << 24) | (1ull << 25));
    cr_assert_eq(m.v6_plens[0] | m.v6_plens[1] | m.v6_plens[2], 0);
}

Test(ip, serial_increases)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("192.0.2.1");
    size_t klen = store_key_net(&n, key);
    cr_assert_eq(meta().serial, 0, "no meta yet");
    uint32_t nows[] = { 1000, 1000, 1000, 5000, 10 };
    uint32_t want[] = { 1000, 1001, 1002, 5000, 5001 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(store_write_begin(&st, &w), 0);
        cr_assert_eq(store_put(&w, dbi, key, klen, &l, 0), 0);
        cr_assert_eq(store_write_commit(&w, nows[i]), 0);
        cr_expect_eq(meta().serial, want[i], "commit %d", i);
    }
}

Test(ip, abort_changes_nothing)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("192.0.2.1", &l);
    uint32_t serial = meta().serial;
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("192.0.2.2");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
    store_write_abort(&w);
    cr_assert_eq(meta().serial, serial);
    cr_assert_eq(lookup_ip("192.0.2.2", NOW, NULL, NULL), 0);
}

Test(ip, del_present_and_absent)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("192.0.2.1", &l);
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet present = net("192.0.2.1"), absent = net("192.0.2.2");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_del(&w, dbi, key, store_key_net(&absent, key)), MDB_NOTFOUND);
    cr_assert_eq(store_del(&w, dbi, key, store_key_domain("nope.example", 12, key)), MDB_NOTFOUND);
    cr_assert_eq(store_del(&w, dbi, key, store_key_net(&present, key)), 0);
    cr_assert_eq(store_del(&w, dbi, key, store_key_net(&present, key)), MDB_NOTFOUND, "already gone");
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    cr_assert_eq(lookup_ip("192.0.2.1", NOW, NULL, NULL), 0);
}

Test(ip, clear_zone_keeps_serial)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("192.0.2.0/24", &l);
    put_net("192.0.2.1", &l);
    uint32_t before = meta().serial;
    cr_assert_geq(before, NOW);

    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("203.0.113.0/26");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_clear_zone(&w, dbi), 0);
    cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
    cr_assert_eq(store_write_commit(&w, 10), 0, "a clock behind the serial");
    struct zone_meta m = meta();
    cr_assert_eq(m.serial, before + 1, "the serial goes on from where it was");
    cr_assert_eq(m.v4_plens, 1ull << 26, "only the new entries' prefix lengths");
    cr_assert_eq(lookup_ip("192.0.2.1", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_ip("203.0.113.63", NOW, NULL, NULL), 1);
}

Test(ip, zones_are_separate)
{
    char err[256];
    MDB_dbi other;
    cr_assert_eq(store_zone_dbi(&st, "other.example", &other, err, sizeof err), 0, "%s", err);
    struct listing l = one_reason(0, CODE(3), 0, "x");
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("192.0.2.1");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, other, key, store_key_net(&n, key), &l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    cr_assert_eq(lookup_ip("192.0.2.1", NOW, NULL, NULL), 0);
    cr_assert_eq(meta().serial, 0, "the untouched zone's serial did not move");
    struct zone_meta m;
    MDB_txn *t = rtxn();
    cr_assert_eq(store_read_meta(t, other, &m), 0);
    mdb_txn_abort(t);
    cr_assert_eq(m.serial, NOW);
    cr_assert_eq(m.v4_plens, 1ull << 32);
}

/* ---- domain lookups ---- */

TestSuite(domain, .init = setup, .fini = teardown);

Test(domain, exact)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_domain("spam.example", &l);
    uint32_t code;
    size_t off = 99;
    cr_assert_eq(lookup_domain("spam.example", NOW, &code, &off), 1);
    cr_assert_eq(code, CODE(3));
    cr_assert_eq(off, 0);
    cr_assert_eq(lookup_domain("a.spam.example", NOW, NULL, NULL), 0, "no wildcard: subdomains clean");
    cr_assert_eq(lookup_domain("example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("xspam.example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("pam.example", NOW, NULL, NULL), 0);
}

Test(domain, wildcard_matches_itself_and_below)
{
    struct listing l = one_reason(LISTING_WILDCARD, CODE(5), 0, "x");
    put_domain("spam.example", &l);
    size_t off;
    cr_assert_eq(lookup_domain("spam.example", NOW, NULL, &off), 1);
    cr_assert_eq(off, 0);
    cr_assert_eq(lookup_domain("a.spam.example", NOW, NULL, &off), 1);
    cr_assert_eq(off, 2);
    cr_assert_eq(lookup_domain("x.y.z.spam.example", NOW, NULL, &off), 1);
    cr_assert_eq(off, 6);
    cr_assert_eq(lookup_domain("notspam.example", NOW, NULL, NULL), 0, "a suffix that is not a label");
    cr_assert_eq(lookup_domain("example", NOW, NULL, NULL), 0);
}

Test(domain, subdomains_only)
{
    struct listing l = one_reason(LISTING_WILDCARD | LISTING_SUBDOMAINS, CODE(5), 0, "x");
    put_domain("spam.example", &l);
    cr_assert_eq(lookup_domain("spam.example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("www.spam.example", NOW, NULL, NULL), 1);
    cr_assert_eq(lookup_domain("a.b.spam.example", NOW, NULL, NULL), 1);
}

Test(domain, allow_inside_wildcard)
{
    struct listing wild = one_reason(LISTING_WILDCARD, CODE(5), 0, "x");
    struct listing allow = one_reason(LISTING_ALLOW, 0, 0, "");
    put_domain("spam.example", &wild);
    put_domain("good.spam.example", &allow);
    cr_assert_eq(lookup_domain("good.spam.example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("bad.spam.example", NOW, NULL, NULL), 1);
    /* a non-wildcard allow does not cover its subdomains */
    cr_assert_eq(lookup_domain("x.good.spam.example", NOW, NULL, NULL), 1);
}

Test(domain, nearest_wildcard_wins)
{
    struct listing outer = one_reason(LISTING_WILDCARD, CODE(5), 0, "outer");
    struct listing inner = one_reason(LISTING_WILDCARD, CODE(3), 0, "inner");
    put_domain("example", &outer);
    put_domain("b.example", &inner);
    uint32_t code;
    cr_assert_eq(lookup_domain("a.b.example", NOW, &code, NULL), 1);
    cr_assert_eq(code, CODE(3));
    cr_assert_eq(lookup_domain("c.example", NOW, &code, NULL), 1);
    cr_assert_eq(code, CODE(5));
}

Test(domain, expired_invisible)
{
    struct listing dead = one_reason(LISTING_WILDCARD, CODE(5), NOW - 1, "x");
    put_domain("old.example", &dead);
    cr_assert_eq(lookup_domain("old.example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("a.old.example", NOW, NULL, NULL), 0);
    cr_assert_eq(lookup_domain("old.example", NOW - 2, NULL, NULL), 1);
}

Test(domain, expired_exact_falls_back_to_wildcard)
{
    struct listing wild = one_reason(LISTING_WILDCARD, CODE(5), 0, "x");
    struct listing dead = one_reason(0, CODE(3), NOW - 1, "x");
    put_domain("example", &wild);
    put_domain("a.example", &dead);
    uint32_t code;
    cr_assert_eq(lookup_domain("a.example", NOW, &code, NULL), 1);
    cr_assert_eq(code, CODE(5));
}

Test(domain, bad_lengths)
{
    struct listing l;
    MDB_txn *t = rtxn();
    cr_assert_eq(store_lookup_domain(t, dbi, "", 0, NOW, &l, NULL), 0);
    char big[300];
    memset(big, 'a', sizeof big);
    cr_assert_eq(store_lookup_domain(t, dbi, big, DOMAIN_MAX + 1, NOW, &l, NULL), 0);
    mdb_txn_abort(t);
}

Test(domain, clear_zone)
{
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_domain("a.example", &l);
    uint32_t before = meta().serial;
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_clear_zone(&w, dbi), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    cr_assert_gt(meta().serial, before);
    cr_assert_eq(lookup_domain("a.example", NOW, NULL, NULL), 0);
}

/* ---- opening ---- */

Test(ip, read_only_open)
{
    char err[256];
    struct listing l = one_reason(0, CODE(3), 0, "x");
    put_net("192.0.2.1", &l);
    store_close(&st);

    cr_assert_eq(store_open(&st, dir, STORE_READONLY, err, sizeof err), 0, "%s", err);
    MDB_dbi ro;
    cr_assert_eq(store_zone_dbi(&st, "bl.example", &ro, err, sizeof err), 0, "%s", err);
    dbi = ro;
    cr_assert_eq(lookup_ip("192.0.2.1", NOW, NULL, NULL), 1, "data written before is readable");
    cr_assert_eq(store_zone_dbi(&st, "missing.example", &ro, err, sizeof err), -1,
                 "a read-only store cannot create a zone");
    cr_assert_not_null(strstr(err, "missing.example"), "%s", err);
    struct store_txn w;
    cr_assert_neq(store_write_begin(&st, &w), 0, "no writes to a read-only store");
}

Test(ip, open_fails_cleanly)
{
    char err[256], path[128];
    struct store bad;
    snprintf(path, sizeof path, "%s/data.mdb/sub", dir);    /* below a regular file */
    cr_assert_eq(store_open(&bad, path, 0, err, sizeof err), -1);
    cr_assert_null(bad.env);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

/* The zones' key order is LMDB's default (bytes, then length) even with the store's faster comparator:
 * any tool (mdb_dump, an older build) must see the same tree. Random IPv4, IPv6 and domain keys come
 * back from a cursor in exactly memcmp-then-length order. */
Test(order, cursor_order_is_bytes_then_length, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, 0x7f000002, 0, "x");
    srand(5782);
    for (int i = 0; i < 600; i++) {
        char text[64];
        int kind = rand() % 3;
        if (kind == 0)
            snprintf(text, sizeof text, "%d.%d.%d.%d/%d", rand() % 256, rand() % 256, rand() % 256, 0, 24 + rand() % 9 / 8 * 8);
        else if (kind == 1)
            snprintf(text, sizeof text, "2001:db8:%x::/%d", rand() % 65536, 48 + rand() % 3 * 8);
        if (kind < 2) {
            struct ipnet n;
            if (net_parse(text, &n) >= 0) {
                net_clear_host_bits(&n);
                char canon[64];
                put_net(net_format(&n, canon, sizeof canon), &l);
            }
        } else {
            snprintf(text, sizeof text, "h%x.example", rand());
            put_domain(text, &l);
        }
    }
    MDB_txn *txn = rtxn();
    MDB_cursor *c;
    MDB_val k, v, prev = { 0, NULL };
    uint8_t prevbuf[300];
    int n = 0;
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (prev.mv_data) {
            size_t m = prev.mv_size < k.mv_size ? prev.mv_size : k.mv_size;
            int d = memcmp(prev.mv_data, k.mv_data, m);
            cr_assert(d < 0 || (d == 0 && prev.mv_size < k.mv_size), "keys %d and %d out of order", n - 1, n);
        }
        memcpy(prevbuf, k.mv_data, k.mv_size);
        prev.mv_data = prevbuf;
        prev.mv_size = k.mv_size;
        n++;
    }
    cr_assert_gt(n, 500);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
}

/* ---- the IPv4 /24 map ---- */

static int collect_chunk(void *arg, unsigned chunk, const uint8_t *bits)
{
    memcpy((uint8_t *)arg + (size_t)chunk * STORE_V4MAP_CHUNK_BYTES, bits, STORE_V4MAP_CHUNK_BYTES);
    return 0;
}

/* The store's map, as one bitmap of 2^24 bits (caller frees). */
static uint8_t *read_map(void)
{
    uint8_t *m = calloc(STORE_V4MAP_CHUNKS, STORE_V4MAP_CHUNK_BYTES);
    cr_assert_not_null(m);
    MDB_txn *t = rtxn();
    cr_assert_eq(store_v4map_each(t, dbi, collect_chunk, m), 0);
    mdb_txn_abort(t);
    return m;
}

static int map_has(const uint8_t *m, const char *a)
{
    struct ipaddr ip = addr(a);
    uint32_t n = (uint32_t)ip.bytes[0] << 16 | (uint32_t)ip.bytes[1] << 8 | ip.bytes[2];
    return m[n / 8] >> (n % 8) & 1;
}

static size_t map_bits(const uint8_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)STORE_V4MAP_CHUNKS * STORE_V4MAP_CHUNK_BYTES; i++)
        n += (size_t)__builtin_popcount(m[i]);
    return n;
}

Test(v4map, commit_sets_the_24s_of_long_prefixes_only, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    put_net("198.51.100.128/25", &l);
    put_net("203.0.113.0/24", &l);
    put_net("10.0.0.0/8", &l);          /* shorter than /24: searched, never mapped */
    put_net("2001:db8::1", &l);
    struct zone_meta m = meta();
    cr_assert_eq(m.v4_map_gen, m.serial - 2, "the /24's commit: the /8 and the IPv6 one changed no bit");
    uint8_t *map = read_map();
    cr_expect(map_has(map, "192.0.2.77"));
    cr_expect(map_has(map, "198.51.100.1"), "the /24 of a /25");
    cr_expect(map_has(map, "203.0.113.9"));
    cr_expect_not(map_has(map, "10.0.0.1"));
    cr_expect_not(map_has(map, "192.0.3.1"));
    cr_expect_eq(map_bits(map), 3);
    free(map);
}

Test(v4map, generation_moves_only_with_new_bits, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("192.0.2.1");
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_eq(store_write_begin(&st, &w), 0);
        cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
        cr_assert_eq(store_write_commit(&w, 1000 + i), 0);
    }
    struct zone_meta m = meta();
    cr_expect_eq(m.serial, 1002);
    cr_expect_eq(m.v4_map_gen, 1000, "rewriting an entry of a mapped /24 changes no bit");
    put_net("192.0.2.0/24", &l);        /* same /24 again */
    put_domain("example.com", &l);
    cr_expect_eq(meta().v4_map_gen, 1000);
    put_net("192.0.9.1", &l);
    m = meta();
    cr_expect_eq(m.v4_map_gen, m.serial);
}

/* A writer that knows nothing of the map rewrites a shorter meta record and adds entries without
 * setting bits: the map then counts as absent, and the next writer that knows it rebuilds it. */
Test(v4map, a_meta_without_the_map_gets_a_rebuilt_map, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    struct zone_meta m = meta();
    cr_assert_neq(m.v4_map_gen, 0);
    MDB_txn *t;
    uint8_t key[STORE_KEY_MAX], val[STORE_VALUE_MAX];
    struct ipnet n = net("203.0.113.5");
    int vlen = listing_encode(&l, val, sizeof val);
    cr_assert_gt(vlen, 0);
    cr_assert_eq(mdb_txn_begin(st.env, NULL, 0, &t), 0);
    MDB_val k = { store_key_net(&n, key), key }, v = { (size_t)vlen, val };
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    const uint8_t meta_key[] = { 0, 'm', 'e', 't', 'a' };
    k = (MDB_val){ sizeof meta_key, (void *)meta_key };
    v = (MDB_val){ offsetof(struct zone_meta, v4_map_gen), &m };
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    cr_assert_eq(meta().v4_map_gen, 0, "an old-layout meta has no map");

    put_net("198.51.100.7", &l);
    m = meta();
    cr_assert_eq(m.v4_map_gen, m.serial);
    uint8_t *map = read_map();
    cr_expect(map_has(map, "203.0.113.5"), "the entry written behind the map's back is in the rebuilt map");
    cr_expect(map_has(map, "192.0.2.1"));
    cr_expect(map_has(map, "198.51.100.7"));
    cr_expect_eq(map_bits(map), 3);
    free(map);
}

Test(v4map, many_24s_in_one_commit_rebuild_and_drop_stale_bits, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet gone = net("192.0.2.1");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_del(&w, dbi, key, store_key_net(&gone, key)), 0);
    for (int i = 0; i < 3 * STORE_TXN_NEW24; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.1", i / 7, (i * 37) % 256);
        struct ipnet n = net(a);
        cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
    }
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    uint8_t *map = read_map();
    for (int i = 0; i < 3 * STORE_TXN_NEW24; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.200", i / 7, (i * 37) % 256);
        cr_expect(map_has(map, a), "%s", a);
    }
    cr_expect_not(map_has(map, "192.0.2.1"), "a rebuild maps what is there, nothing else");
    cr_expect_eq(map_bits(map), 3 * STORE_TXN_NEW24);
    free(map);
}

Test(v4map, clear_zone_takes_the_map_with_it, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net("203.0.113.9");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_clear_zone(&w, dbi), 0);
    cr_assert_eq(store_put(&w, dbi, key, store_key_net(&n, key), &l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW + 5), 0);
    struct zone_meta m = meta();
    cr_expect_eq(m.v4_map_gen, m.serial);
    uint8_t *map = read_map();
    cr_expect(map_has(map, "203.0.113.1"));
    cr_expect_not(map_has(map, "192.0.2.1"));
    free(map);
}

Test(v4map, malformed_chunk_is_an_error_not_a_guess, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    MDB_txn *t;
    const uint8_t bad_key[] = { 0, 'm', 'a', 'p', 0x00, 0x07 };
    uint8_t short_value[16] = { 0xff };
    cr_assert_eq(mdb_txn_begin(st.env, NULL, 0, &t), 0);
    MDB_val k = { sizeof bad_key, (void *)bad_key }, v = { sizeof short_value, short_value };
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    uint8_t *m = calloc(STORE_V4MAP_CHUNKS, STORE_V4MAP_CHUNK_BYTES);
    t = rtxn();
    cr_expect_eq(store_v4map_each(t, dbi, collect_chunk, m), -1);
    mdb_txn_abort(t);
    free(m);
}

Test(v4map, rebuild_on_request_forgets_empty_24s, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);
    put_net("198.51.100.1", &l);
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    struct ipnet gone = net("192.0.2.1");
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_del(&w, dbi, key, store_key_net(&gone, key)), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    uint8_t *map = read_map();
    cr_expect(map_has(map, "192.0.2.1"), "a delete alone leaves the bit: a superset is enough");
    free(map);
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_rebuild_v4map(&w, dbi), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    map = read_map();
    cr_expect_not(map_has(map, "192.0.2.1"), "the rebuild forgets the empty /24");
    cr_expect(map_has(map, "198.51.100.1"));
    cr_expect_eq(map_bits(map), 1);
    struct zone_meta m = meta();
    cr_expect_eq(m.v4_map_gen, m.serial);
    free(map);
}

/* ---- the key filter (IPv6 and domain keys) ---- */

static uint8_t *read_keymap(void)
{
    uint8_t *m = calloc(STORE_V4MAP_CHUNKS, STORE_V4MAP_CHUNK_BYTES);
    cr_assert_not_null(m);
    MDB_txn *t = rtxn();
    cr_assert_eq(store_keymap_each(t, dbi, collect_chunk, m), 0);
    mdb_txn_abort(t);
    return m;
}

static int keymap_has(const uint8_t *m, const uint8_t *key, size_t klen)
{
    uint64_t h = store_key_hash(key, klen), mask = store_key_filter_mask(h), word = 0;
    const uint8_t *b = m + (size_t)store_key_filter_word(h) * 8;
    for (int i = 7; i >= 0; i--)
        word = word << 8 | b[i];
    return (word & mask) == mask;
}

static int keymap_has_net(const uint8_t *m, const char *n)
{
    uint8_t key[STORE_KEY_MAX];
    struct ipnet x = net(n);
    return keymap_has(m, key, store_key_net(&x, key));
}

static int keymap_has_domain(const uint8_t *m, const char *name)
{
    uint8_t key[STORE_KEY_MAX];
    return keymap_has(m, key, store_key_domain(name, strlen(name), key));
}

Test(keymap, hash_is_fixed_by_the_schema)
{
    /* Filters written by one build are read by another: the hash must never change silently
     * (store.h: a new hash needs a new key prefix). */
    const uint8_t k1[] = { 'D', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm' };
    cr_expect_eq(store_key_hash(k1, sizeof k1), 0xba368a0392ff5256ULL);
    cr_expect_neq(store_key_hash(k1, sizeof k1), store_key_hash(k1, sizeof k1 - 1));
}

Test(keymap, hash_is_fixed_for_every_length_and_alignment)
{
    /* Every tail length and both word-aligned and unaligned keys: the hash reads words, and its
     * value is part of the schema. */
    static const uint64_t want[] = {
        0xd1f0dfa5400c070eULL, 0x49720d257f28f96aULL, 0x882d0a717435afd9ULL,
        0x1011ef111164cd36ULL, 0x30a3b053ae800c13ULL, 0x263d1227302238e0ULL,
        0x886f40eeb5fd06e1ULL, 0x3adc5b50b5b214a6ULL, 0x900fe08e651fc2a8ULL,
        0x909b1d780f89c53aULL, 0x6e9dcd7bae02e588ULL, 0xc860bac76d320dcbULL,
        0xe90154072b620437ULL, 0xcf0996890ce00af6ULL, 0x0f68914daeac87a7ULL,
        0x3e341847884d6535ULL, 0xa493fc0fde54f77cULL, 0xd644a7b70e967a03ULL,
        0x285060605d0ca184ULL, 0x9be4f4687384c9d5ULL, 0xcb443acf3eb02249ULL,
        0xef3bd2192e1aa0a1ULL, 0x33ef3f69f8afa1acULL, 0x02353d1b8902f421ULL,
        0xc0256c4a145b555fULL, 0x1bc16477acfec15cULL, 0x295a1814ac0728f4ULL,
        0x3e7104a498b15ec7ULL, 0x4473e9ece69b68faULL, 0x17274e29a3cceb81ULL,
        0x71a8dfd968c423ebULL, 0xcbf1964800ce0f93ULL, 0x2c944b2bd331d41fULL,
        0x291a9bb3cc873b32ULL,
    };
    uint8_t buf[48];
    for (int shift = 0; shift < 8; shift++) {
        uint8_t *k = buf + shift;
        for (int i = 0; i < 40; i++)
            k[i] = (uint8_t)(i * 37 + 11);
        for (size_t n = 0; n < sizeof want / sizeof want[0]; n++)
            cr_expect_eq(store_key_hash(k, n), want[n], "length %zu at offset %d", n, shift);
    }
}

Test(keymap, commit_sets_the_bits_of_ipv6_and_domain_keys, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_net("192.0.2.1", &l);                   /* IPv4: the /24 map's business */
    struct zone_meta m = meta();
    cr_expect_eq(m.key_map_gen, 0, "no IPv6 or domain key yet: no filter");
    put_net("2001:db8:1:2::/64", &l);
    put_net("2001:db8::1", &l);
    put_domain("example.com", &l);
    struct listing wild = l;
    wild.flags = LISTING_WILDCARD | LISTING_SUBDOMAINS;
    put_domain("sub.example.org", &wild);
    m = meta();
    cr_expect_eq(m.key_map_gen, m.serial);
    uint8_t *map = read_keymap();
    cr_expect(keymap_has_net(map, "2001:db8:1:2::/64"));
    cr_expect(keymap_has_net(map, "2001:db8::1"));
    cr_expect(keymap_has_domain(map, "example.com"));
    cr_expect(keymap_has_domain(map, "sub.example.org"));
    cr_expect_not(keymap_has_domain(map, "example.org"), "a bloom filter that answers yes to everything");
    cr_expect_not(keymap_has_net(map, "2001:db8:1:3::/64"));
    cr_expect_leq(map_bits(map), 21, "three bits per key: four keys and their parents com, example.org, org");
    uint8_t pk[STORE_KEY_MAX];
    cr_expect(keymap_has(map, pk, store_key_parent("example.org", 11, pk)), "something is below example.org");
    cr_expect(keymap_has(map, pk, store_key_parent("com", 3, pk)));
    cr_expect_not(keymap_has(map, pk, store_key_parent("example.com", 11, pk)), "nothing is below example.com");
    free(map);
}

/* Random writes of every kind (single commits, big ones that rebuild, deletes, clears): after each,
 * every key in the store is in the filter (no false negative), and most absent keys are not. */
static unsigned lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static size_t random_filtered_key(unsigned *s, uint8_t *key)
{
    if (lcg(s) % 2) {
        char name[64];
        static const char *const tlds[] = { "com", "net", "example" };
        snprintf(name, sizeof name, "%s%u.d%u.%s", lcg(s) % 3 ? "" : "w.", lcg(s) % 400, lcg(s) % 20,
                 tlds[lcg(s) % 3]);
        return store_key_domain(name, strlen(name), key);
    }
    struct ipnet n = { .addr = { .family = ADDR_V6 } };
    n.addr.bytes[0] = 0x20;
    n.addr.bytes[1] = 0x01;
    for (int i = 2; i < 16; i++)
        n.addr.bytes[i] = (uint8_t)(i < 8 ? lcg(s) % 4 : lcg(s));
    static const uint8_t plens[] = { 32, 48, 56, 64, 64, 64, 128 };
    n.plen = plens[lcg(s) % sizeof plens];
    net_clear_host_bits(&n);
    return store_key_net(&n, key);
}

static int keys_all_in_filter(void)
{
    uint8_t *map = read_keymap();
    MDB_txn *t = rtxn();
    MDB_cursor *cur;
    MDB_val k, v;
    int n = 0;
    cr_assert_eq(mdb_cursor_open(t, dbi, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!store_key_filtered(k.mv_data, k.mv_size))
            continue;
        cr_assert(keymap_has(map, k.mv_data, k.mv_size), "a key in the store is missing from the filter");
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    free(map);
    return n;
}

Test(keymap, no_false_negative_on_random_writes, .init = setup, .fini = teardown)
{
    unsigned s = 11;
    struct listing l = one_reason(0, CODE(2), 0, "x");
    int checked = 0;
    for (int round = 0; round < 60; round++) {
        struct store_txn w;
        uint8_t key[STORE_KEY_MAX];
        cr_assert_eq(store_write_begin(&st, &w), 0);
        if (round % 25 == 24)
            cr_assert_eq(store_clear_zone(&w, dbi), 0);
        int writes = round % 10 == 5 ? 3 * STORE_TXN_NEWKEYS : 1 + (int)(lcg(&s) % 20);
        for (int i = 0; i < writes; i++) {
            size_t klen = random_filtered_key(&s, key);
            l.flags = lcg(&s) % 6 == 0 ? LISTING_ALLOW : lcg(&s) % 4 == 0 ? LISTING_WILDCARD : 0;
            if (lcg(&s) % 5 == 0) {
                int rc = store_del(&w, dbi, key, klen);
                cr_assert(rc == 0 || rc == MDB_NOTFOUND);
            } else {
                cr_assert_eq(store_put(&w, dbi, key, klen, &l, 0), 0);
            }
        }
        if (round % 15 == 14)
            cr_assert_eq(store_rebuild_v4map(&w, dbi), 0);
        cr_assert_eq(store_write_commit(&w, NOW + (uint32_t)round), 0);
        checked += keys_all_in_filter();
    }
    cr_assert_gt(checked, 1000, "the test looked at keys");
    /* and the filter filters: random keys are absent (a few may be in the store; all count) */
    uint8_t *map = read_keymap(), key[STORE_KEY_MAX];
    int yes = 0;
    for (int i = 0; i < 10000; i++) {
        char name[64];
        snprintf(name, sizeof name, "absent%d.example", i);
        yes += keymap_has(map, key, store_key_domain(name, strlen(name), key));
    }
    cr_expect_lt(yes, 50, "%d of 10000 absent names pass the filter", yes);
    free(map);
}

Test(keymap, a_meta_without_the_filter_gets_a_rebuilt_one, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_domain("example.com", &l);
    struct zone_meta m = meta();
    cr_assert_neq(m.key_map_gen, 0);
    /* a writer that knows the /24 map but not the filter: adds a key and writes its shorter meta */
    MDB_txn *t;
    uint8_t key[STORE_KEY_MAX], val[STORE_VALUE_MAX];
    int vlen = listing_encode(&l, val, sizeof val);
    cr_assert_eq(mdb_txn_begin(st.env, NULL, 0, &t), 0);
    MDB_val k = { store_key_domain("behind.example", 14, key), key }, v = { (size_t)vlen, val };
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    const uint8_t meta_key[] = { 0, 'm', 'e', 't', 'a' };
    k = (MDB_val){ sizeof meta_key, (void *)meta_key };
    v = (MDB_val){ offsetof(struct zone_meta, key_map_gen), &m };
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    cr_assert_eq(meta().key_map_gen, 0, "an old-layout meta has no filter");
    put_domain("other.example", &l);
    m = meta();
    cr_assert_eq(m.key_map_gen, m.serial);
    uint8_t *map = read_keymap();
    cr_expect(keymap_has_domain(map, "behind.example"), "the key written behind the filter's back is in it");
    cr_expect(keymap_has_domain(map, "example.com"));
    cr_expect(keymap_has_domain(map, "other.example"));
    free(map);
}

Test(keymap, rebuild_on_request_forgets_deleted_keys, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x");
    put_domain("gone.example", &l);
    put_domain("kept.example", &l);
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_del(&w, dbi, key, store_key_domain("gone.example", 12, key)), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    uint8_t *map = read_keymap();
    cr_expect(keymap_has_domain(map, "gone.example"), "a delete alone leaves the bits: a superset is enough");
    free(map);
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_rebuild_v4map(&w, dbi), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
    map = read_keymap();
    cr_expect_not(keymap_has_domain(map, "gone.example"));
    cr_expect(keymap_has_domain(map, "kept.example"));
    free(map);
}

/* The filtered lookup answers exactly as the plain one, wildcards and allow entries included. */
static int filter_may_hold(const void *map, const uint8_t *key, size_t klen, uint64_t *hash)
{
    *hash = store_key_hash(key, klen);
    return keymap_has(map, key, klen);
}

Test(keymap, filtered_domain_lookup_equals_the_plain_one, .init = setup, .fini = teardown)
{
    struct listing l = one_reason(0, CODE(2), 0, "x"), wild = l, sub = l, allow = one_reason(LISTING_ALLOW, 0, 0, "");
    wild.flags = LISTING_WILDCARD;
    sub.flags = LISTING_WILDCARD | LISTING_SUBDOMAINS;
    put_domain("example.com", &l);
    put_domain("wild.example", &wild);
    put_domain("kids.example", &sub);
    put_domain("ok.wild.example", &allow);
    uint8_t *map = read_keymap();
    static const char *const names[] = { "example.com", "a.example.com", "wild.example", "x.y.wild.example",
                                         "ok.wild.example", "a.ok.wild.example", "kids.example", "a.kids.example",
                                         "example", "nothing.here", "com" };
    MDB_txn *t = rtxn();
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        struct listing a, b;
        int ra = store_lookup_domain(t, dbi, names[i], strlen(names[i]), NOW, &a, NULL);
        int rb = store_lookup_domain_filtered(t, dbi, names[i], strlen(names[i]), NOW, filter_may_hold, map, NULL, &b);
        cr_expect_eq(ra, rb, "%s", names[i]);
        cr_expect_eq(a.flags, b.flags, "%s", names[i]);
        cr_expect_eq(a.nreasons, b.nreasons, "%s", names[i]);
    }
    mdb_txn_abort(t);
    free(map);
}

/* ---- several covering entries: allow entries win at any prefix length, listings add up ---- */

TestSuite(cover, .init = setup, .fini = teardown);

/* The full answer for an address at NOW. */
static int lookup_full(const char *a, uint32_t now, struct listing *out, struct ipnet *matched)
{
    struct zone_meta m;
    struct ipaddr ip = addr(a);
    MDB_txn *t = rtxn();
    cr_assert_eq(store_read_meta(t, dbi, &m), 0);
    int rc = store_lookup_ip(t, dbi, &m, &ip, now, out, matched);
    mdb_txn_abort(t);
    return rc;      /* out's texts point into a finished snapshot: compare codes only */
}

static int has_code(const struct listing *l, uint32_t code)
{
    int n = 0;
    for (int i = 0; i < l->nreasons; i++)
        n += l->reasons[i].code == code;
    return n;
}

/* The allow entry wins over a listing at every other prefix length of the same family. */
static void allow_wins_everywhere(const char *host, const char *const *nets, int n)
{
    for (int a = 0; a < n; a++) {
        for (int b = 0; b < n; b++) {
            if (a == b)
                continue;
            teardown();
            setup();
            struct listing allow = one_reason(LISTING_ALLOW | LISTING_MANUAL, 0, 0, "partner");
            struct listing bad = one_reason(0, CODE(2), NOW + 3600, "feeder");
            put_net(nets[a], &allow);
            put_net(nets[b], &bad);
            struct listing l;
            struct ipnet m;
            cr_expect_eq(lookup_full(host, NOW, &l, &m), 0, "allow %s, listing %s: %s not listed", nets[a],
                         nets[b], host);
            cr_expect(l.flags & LISTING_ALLOW, "allow %s, listing %s", nets[a], nets[b]);
            cr_expect_eq(m.plen, net(nets[a]).plen, "matched is the allow entry");
        }
    }
}

Test(cover, v4_allow_above_and_below_a_listing_at_every_class)
{
    static const char *const nets[] = { "203.0.113.9", "203.0.113.0/24", "203.0.0.0/16", "203.0.0.0/8" };
    allow_wins_everywhere("203.0.113.9", nets, 4);
}

Test(cover, v6_allow_above_and_below_a_listing_at_every_class)
{
    static const char *const nets[] = { "2001:db8:cc:1::9", "2001:db8:cc:1::/64", "2001:db8:cc::/48" };
    allow_wins_everywhere("2001:db8:cc:1::9", nets, 3);
}

Test(cover, expired_allow_shields_nothing_at_any_class)
{
    static const char *const nets[] = { "203.0.113.0/24", "203.0.0.0/16", "203.0.0.0/8", "203.0.113.9" };
    for (int i = 0; i < 4; i++) {
        teardown();
        setup();
        struct listing allow = one_reason(LISTING_ALLOW | LISTING_MANUAL, 0, NOW - 1, "expired");
        struct listing bad = one_reason(0, CODE(2), 0, "feeder");
        put_net(nets[i], &allow);
        put_net(i == 3 ? "203.0.113.0/24" : "203.0.113.9", &bad);
        struct listing l;
        cr_expect_eq(lookup_full("203.0.113.9", NOW, &l, NULL), 1, "expired allow %s", nets[i]);
        cr_expect_eq(lookup_full("203.0.113.9", NOW - 2, &l, NULL), 0, "live allow %s", nets[i]);
    }
}

Test(cover, v4_reasons_of_every_covering_listing)
{
    struct listing s8 = one_reason(LISTING_MANUAL, CODE(10), 0, "the /8");
    struct listing s16 = one_reason(LISTING_MANUAL, CODE(3), 0, "the /16");
    struct listing s24 = one_reason(LISTING_MANUAL, CODE(4), 0, "the /24");
    struct listing s32 = one_reason(0, CODE(2), NOW + 3600, "the /32");
    put_net("203.0.0.0/8", &s8);
    put_net("203.0.0.0/16", &s16);
    put_net("203.0.113.0/24", &s24);
    put_net("203.0.113.9", &s32);
    struct listing l;
    struct ipnet m;
    cr_assert_eq(lookup_full("203.0.113.9", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 4);
    cr_expect_eq(l.reasons[0].code, CODE(2), "the most specific first");
    cr_expect(has_code(&l, CODE(10)) && has_code(&l, CODE(3)) && has_code(&l, CODE(4)));
    cr_expect_eq(m.plen, 32, "matched stays the most specific listing");
    cr_expect_eq(l.flags, 0, "the flags of the most specific listing");
    cr_assert_eq(lookup_full("203.0.113.10", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 3);
    cr_expect_eq(m.plen, 24);
    cr_assert_eq(lookup_full("203.0.7.1", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 2);
    cr_expect_eq(m.plen, 16);
}

Test(cover, v6_reasons_of_every_covering_listing)
{
    struct listing s48 = one_reason(LISTING_MANUAL, CODE(3), 0, "the /48");
    struct listing s64 = one_reason(0, CODE(2), NOW + 3600, "the /64");
    struct listing s128 = one_reason(LISTING_MANUAL, CODE(4), 0, "the /128");
    put_net("2001:db8:cc::/48", &s48);
    put_net("2001:db8:cc:1::/64", &s64);
    put_net("2001:db8:cc:1::9", &s128);
    struct listing l;
    struct ipnet m;
    cr_assert_eq(lookup_full("2001:db8:cc:1::9", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 3);
    cr_expect_eq(l.reasons[0].code, CODE(4));
    cr_expect_eq(m.plen, 128);
    cr_assert_eq(lookup_full("2001:db8:cc:1::8", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 2);
    cr_expect_eq(l.reasons[0].code, CODE(2));
    cr_expect_eq(m.plen, 64);
}

Test(cover, expired_listing_adds_nothing_and_is_not_matched)
{
    struct listing s24 = one_reason(LISTING_MANUAL, CODE(4), NOW - 1, "expired manual");
    struct listing s32 = one_reason(0, CODE(2), NOW + 3600, "feeder");
    put_net("203.0.113.0/24", &s24);
    put_net("203.0.113.9", &s32);
    struct listing l;
    struct ipnet m;
    cr_assert_eq(lookup_full("203.0.113.9", NOW, &l, &m), 1);
    cr_expect_eq(l.nreasons, 1);
    cr_expect_eq(l.reasons[0].code, CODE(2));
    cr_assert_eq(lookup_full("203.0.113.9", NOW + 3600, &l, &m), 0, "both expired");
    cr_expect_eq(l.nreasons, 0);
    cr_expect_eq(l.flags, 0);
}

Test(cover, same_code_twice_and_the_reason_cap)
{
    struct listing wide = one_reason(LISTING_MANUAL, CODE(2), 0, "range");
    struct listing narrow = one_reason(0, CODE(2), 0, "range");
    put_net("203.0.113.0/24", &wide);
    put_net("203.0.113.9", &narrow);
    struct listing l;
    cr_assert_eq(lookup_full("203.0.113.9", NOW, &l, NULL), 1);
    cr_expect_eq(l.nreasons, 1, "an identical reason once");
    uint32_t codes[LISTING_MAX_REASONS];
    cr_expect_eq(listing_live_codes(&l, NOW, codes), 1);
    /* a full /32 and a full /24: the most specific reasons, no more than LISTING_MAX_REASONS */
    struct listing full32 = { .nreasons = LISTING_MAX_REASONS }, full24 = { .nreasons = LISTING_MAX_REASONS };
    for (int i = 0; i < LISTING_MAX_REASONS; i++) {
        full32.reasons[i] = (struct reason){ CODE(20 + i), 0, 1, "a" };
        full24.reasons[i] = (struct reason){ CODE(40 + i), 0, 1, "b" };
    }
    put_net("198.51.100.0/24", &full24);
    put_net("198.51.100.1", &full32);
    cr_assert_eq(lookup_full("198.51.100.1", NOW, &l, NULL), 1);
    cr_expect_eq(l.nreasons, LISTING_MAX_REASONS);
    cr_expect_eq(l.reasons[LISTING_MAX_REASONS - 1].code, CODE(20 + LISTING_MAX_REASONS - 1));
}

Test(cover, texts_of_all_covering_listings_readable_in_the_snapshot)
{
    struct listing wide = one_reason(LISTING_MANUAL, CODE(4), 0, "manual range");
    struct listing narrow = one_reason(0, CODE(2), 0, "feeder host");
    put_net("203.0.113.0/24", &wide);
    put_net("203.0.113.9", &narrow);
    struct listing l;
    struct zone_meta m;
    struct ipaddr ip = addr("203.0.113.9");
    MDB_txn *t = rtxn();
    store_read_meta(t, dbi, &m);
    cr_assert_eq(store_lookup_ip(t, dbi, &m, &ip, NOW, &l, NULL), 1);
    cr_assert_eq(l.nreasons, 2);
    cr_expect_eq(l.reasons[0].text_len, 11);
    cr_expect(!memcmp(l.reasons[0].text, "feeder host", 11));
    cr_expect_eq(l.reasons[1].text_len, 12);
    cr_expect(!memcmp(l.reasons[1].text, "manual range", 12));
    mdb_txn_abort(t);
}

Test(cover, domain_wildcard_allow_above_a_listing)
{
    struct listing allow = one_reason(LISTING_ALLOW | LISTING_WILDCARD, 0, 0, "partner");
    struct listing bad = one_reason(0, CODE(2), 0, "feeder");
    put_domain("partner.example", &allow);
    put_domain("mx.partner.example", &bad);
    put_domain("spam.example", &bad);
    struct listing l;
    size_t off = 99;
    MDB_txn *t = rtxn();
    cr_expect_eq(store_lookup_domain(t, dbi, "mx.partner.example", 18, NOW, &l, &off), 0);
    cr_expect(l.flags & LISTING_ALLOW);
    cr_expect_eq(off, 3, "matched is the allow entry");
    mdb_txn_abort(t);
    cr_expect_eq(lookup_domain("spam.example", NOW, NULL, NULL), 1);
}

Test(cover, domain_expired_wildcard_allow_shields_nothing)
{
    struct listing allow = one_reason(LISTING_ALLOW | LISTING_WILDCARD, 0, NOW - 1, "was a partner");
    struct listing bad = one_reason(0, CODE(2), 0, "feeder");
    put_domain("partner.example", &allow);
    put_domain("mx.partner.example", &bad);
    cr_expect_eq(lookup_domain("mx.partner.example", NOW, NULL, NULL), 1);
    cr_expect_eq(lookup_domain("mx.partner.example", NOW - 2, NULL, NULL), 0);
}

Test(cover, domain_reasons_of_name_and_wildcards)
{
    struct listing outer = one_reason(LISTING_WILDCARD | LISTING_MANUAL, CODE(5), 0, "outer");
    struct listing inner = one_reason(LISTING_WILDCARD, CODE(3), 0, "inner");
    struct listing exact = one_reason(0, CODE(2), 0, "exact");
    put_domain("example", &outer);
    put_domain("b.example", &inner);
    put_domain("a.b.example", &exact);
    struct listing l;
    size_t off = 99;
    MDB_txn *t = rtxn();
    cr_assert_eq(store_lookup_domain(t, dbi, "a.b.example", 11, NOW, &l, &off), 1);
    cr_expect_eq(l.nreasons, 3);
    cr_expect_eq(l.reasons[0].code, CODE(2));
    cr_expect_eq(off, 0);
    cr_assert_eq(store_lookup_domain(t, dbi, "x.a.b.example", 13, NOW, &l, &off), 1);
    cr_expect_eq(l.nreasons, 2, "a.b.example is not a wildcard");
    cr_expect_eq(off, 4);
    mdb_txn_abort(t);
}

/* ---- store_allowed_key: what the feeder asks before it lists ---- */

static int allowed_key(const char *cidr, uint32_t now)
{
    uint8_t key[STORE_KEY_MAX];
    struct ipnet n = net(cidr);
    MDB_txn *t = rtxn();
    int rc = store_allowed_key(t, dbi, key, store_key_net(&n, key), now);
    mdb_txn_abort(t);
    return rc;
}

Test(cover, allowed_key_above_and_inside)
{
    struct listing allow = one_reason(LISTING_ALLOW | LISTING_MANUAL, 0, 0, "partner");
    struct listing bad = one_reason(0, CODE(2), 0, "feeder");
    put_net("203.0.0.0/16", &allow);
    put_net("2001:db8:cc::/48", &allow);
    put_net("2001:db8:dd:1::7", &allow);
    put_net("2001:db8:dd:2::/64", &bad);
    cr_expect_eq(allowed_key("203.0.113.9", NOW), 1);
    cr_expect_eq(allowed_key("203.1.113.9", NOW), 0);
    cr_expect_eq(allowed_key("2001:db8:cc:1::/64", NOW), 1, "a /64 inside the allowed /48");
    cr_expect_eq(allowed_key("2001:db8:dd:1::/64", NOW), 1, "a /64 with an allowed address in it");
    cr_expect_eq(allowed_key("2001:db8:dd:2::/64", NOW), 0);
    cr_expect_eq(allowed_key("2001:db8:dd::/64", NOW), 0);
    cr_expect_eq(allowed_key("2001:db8:dd:1::/64", NOW + 0), 1);
}

Test(cover, allowed_key_ignores_expired_allow_entries)
{
    struct listing allow = one_reason(LISTING_ALLOW | LISTING_MANUAL, 0, NOW + 10, "partner");
    put_net("203.0.113.0/24", &allow);
    put_net("2001:db8:dd:1::7", &allow);
    cr_expect_eq(allowed_key("203.0.113.9", NOW), 1);
    cr_expect_eq(allowed_key("203.0.113.9", NOW + 10), 0);
    cr_expect_eq(allowed_key("2001:db8:dd:1::/64", NOW + 10), 0);
}

Test(cover, allowed_key_domains)
{
    struct listing wild = one_reason(LISTING_ALLOW | LISTING_WILDCARD, 0, 0, "partner");
    struct listing exact = one_reason(LISTING_ALLOW, 0, 0, "one host");
    put_domain("partner.example", &wild);
    put_domain("host.example", &exact);
    uint8_t key[STORE_KEY_MAX];
    MDB_txn *t = rtxn();
    cr_expect_eq(store_allowed_key(t, dbi, key, store_key_domain("mx.partner.example", 18, key), NOW), 1);
    cr_expect_eq(store_allowed_key(t, dbi, key, store_key_domain("host.example", 12, key), NOW), 1);
    cr_expect_eq(store_allowed_key(t, dbi, key, store_key_domain("a.host.example", 14, key), NOW), 0);
    cr_expect_eq(store_allowed_key(t, dbi, key, store_key_domain("other.example", 13, key), NOW), 0);
    mdb_txn_abort(t);
}

Test(cover, an_expired_reason_neither_hides_a_live_twin_nor_takes_a_place)
{
    struct listing narrow = { .nreasons = LISTING_MAX_REASONS, .since = NOW - 10 };
    for (int i = 0; i < LISTING_MAX_REASONS; i++)      /* full, and all expired but the first */
        narrow.reasons[i] = (struct reason){ CODE(20 + i), i ? NOW - 1 : 0, 5, "range" };
    narrow.reasons[1].code = CODE(2);
    struct listing wide = one_reason(LISTING_MANUAL, CODE(2), 0, "range");
    put_net("203.0.113.0/24", &wide);
    put_net("203.0.113.9", &narrow);
    struct listing l;
    cr_assert_eq(lookup_full("203.0.113.9", NOW, &l, NULL), 1);
    cr_expect_eq(l.nreasons, 2, "the /32's live reason and the /24's");
    cr_expect(has_code(&l, CODE(20)) && has_code(&l, CODE(2)));
    for (int i = 0; i < l.nreasons; i++)
        cr_expect(reason_live(&l.reasons[i], NOW), "only live reasons");
}
