/* test_addr.c - addresses, networks, reversed names, domain names, account labels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Splits "4.3.2.1" at every dot into labels pointing into s (empty labels included). */
static int split(const char *s, struct label *out, int max)
{
    int n = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            cr_assert_lt(n, max, "too many labels for the test array");
            out[n].p = (const uint8_t *)start;
            out[n].len = (uint8_t)(p - start);
            n++;
            if (!*p)
                break;
            start = p + 1;
        }
    }
    return n;
}

static int from_rev(const char *s, struct ipaddr *a)
{
    struct label labels[64];
    int n = split(s, labels, 64);
    return addr_from_reversed(labels, n, a);
}

static struct ipaddr parse_ok(const char *s)
{
    struct ipaddr a;
    cr_assert_eq(addr_parse(s, &a), 0, "addr_parse(%s)", s);
    return a;
}

static struct ipnet net_ok(const char *s)
{
    struct ipnet n;
    int rc = net_parse(s, &n);
    cr_assert(rc == 0 || rc == 1, "net_parse(%s) = %d", s, rc);
    return n;
}

/* The 32 nibble labels of an IPv6 address, written independently of addr_reversed. */
static void nibbles(const struct ipaddr *a, char out[64])
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    for (int i = 15; i >= 0; i--) {
        out[pos++] = hex[a->bytes[i] & 15];
        out[pos++] = '.';
        out[pos++] = hex[a->bytes[i] >> 4];
        out[pos++] = i ? '.' : '\0';
    }
}

/* ---- addr_parse ---- */

Test(addr_parse, ipv4)
{
    struct ipaddr a = parse_ok("192.0.2.1");
    cr_assert_eq(a.family, ADDR_V4);
    uint8_t want[16] = { 192, 0, 2, 1 };
    cr_assert_arr_eq(a.bytes, want, 16);
}

Test(addr_parse, ipv6)
{
    struct ipaddr a = parse_ok("2001:db8::1");
    cr_assert_eq(a.family, ADDR_V6);
    uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
    cr_assert_arr_eq(a.bytes, want, 16);
}

Test(addr_parse, rejects_garbage)
{
    struct ipaddr a;
    const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "x", "2001:db8:::1", "::g", "1.2.3.-1" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(addr_parse(bad[i], &a), -1, "addr_parse(\"%s\") accepted", bad[i]);
}

/* ---- net_parse ---- */

Test(net_parse, bare_address_is_host_route)
{
    struct ipnet n;
    cr_assert_eq(net_parse("10.1.2.3", &n), 0);
    cr_assert_eq(n.plen, 32);
    cr_assert_eq(net_parse("2001:db8::5", &n), 0);
    cr_assert_eq(n.plen, 128);
}

Test(net_parse, clean_network)
{
    struct ipnet n;
    cr_assert_eq(net_parse("10.1.2.0/24", &n), 0);
    cr_assert_eq(n.plen, 24);
    uint8_t want[16] = { 10, 1, 2, 0 };
    cr_assert_arr_eq(n.addr.bytes, want, 16);
}

Test(net_parse, host_bits_cleared_and_reported)
{
    struct ipnet n;
    cr_assert_eq(net_parse("10.1.2.3/24", &n), 1);
    uint8_t want[16] = { 10, 1, 2, 0 };
    cr_assert_arr_eq(n.addr.bytes, want, 16);
    cr_assert_eq(n.plen, 24);

    cr_assert_eq(net_parse("10.1.2.255/25", &n), 1);
    cr_assert_eq(n.addr.bytes[3], 128);

    cr_assert_eq(net_parse("2001:db8::1/64", &n), 1);
    uint8_t want6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    cr_assert_arr_eq(n.addr.bytes, want6, 16);
}

Test(net_parse, zero_and_full_prefix)
{
    struct ipnet n;
    cr_assert_eq(net_parse("0.0.0.0/0", &n), 0);
    cr_assert_eq(n.plen, 0);
    cr_assert_eq(net_parse("1.2.3.4/0", &n), 1);
    uint8_t zero[16] = { 0 };
    cr_assert_arr_eq(n.addr.bytes, zero, 16);
    cr_assert_eq(net_parse("1.2.3.4/32", &n), 0);
    cr_assert_eq(net_parse("::/0", &n), 0);
    cr_assert_eq(net_parse("2001:db8::1/128", &n), 0);
    cr_assert_eq(n.plen, 128);
}

Test(net_parse, bad_prefix_lengths)
{
    struct ipnet n;
    const char *bad[] = { "1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4/08", "1.2.3.4/", "1.2.3.4/1000",
                          "1.2.3.4/24x", "1.2.3.4/ 24", "1.2.3.4/+8", "2001:db8::/129", "2001:db8::/064",
                          "/24", "", "1.2.3/24", "1.2.3.4//24" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(net_parse(bad[i], &n), -1, "net_parse(\"%s\") accepted", bad[i]);
}

/* ---- net_contains ---- */

/* net_clear_host_bits works a byte at a time: the same bits as clearing them one by one, for every
 * prefix length of both families, and a prefix longer than the family changes nothing. */
Test(net_clear_host_bits, every_prefix_length_matches_bit_by_bit)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 20; round++)
        for (int fam = ADDR_V4; fam <= ADDR_V6; fam++) {
            struct ipaddr a = { .family = (uint8_t)fam };
            for (int i = 0; i < 16; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                a.bytes[i] = (uint8_t)(x >> 56);
            }
            int bits = addr_bits(fam);
            for (int plen = 0; plen <= bits + 1; plen++) {
                struct ipnet got = { a, (uint8_t)plen }, want = got;
                for (int i = plen; i < bits; i++)
                    want.addr.bytes[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
                net_clear_host_bits(&got);
                cr_assert(!memcmp(&got, &want, sizeof got), "family %d /%d", fam, plen);
            }
        }
}

Test(net_contains, v4)
{
    struct ipnet n = net_ok("192.0.2.0/24");
    struct ipaddr in1 = parse_ok("192.0.2.0"), in2 = parse_ok("192.0.2.255");
    struct ipaddr out1 = parse_ok("192.0.3.0"), out2 = parse_ok("192.0.1.255");
    cr_assert(net_contains(&n, &in1));
    cr_assert(net_contains(&n, &in2));
    cr_assert_not(net_contains(&n, &out1));
    cr_assert_not(net_contains(&n, &out2));
}

Test(net_contains, odd_prefix_and_zero)
{
    struct ipnet n = net_ok("10.0.0.0/9");
    struct ipaddr a = parse_ok("10.127.255.255"), b = parse_ok("10.128.0.0");
    cr_assert(net_contains(&n, &a));
    cr_assert_not(net_contains(&n, &b));
    struct ipnet all = net_ok("0.0.0.0/0");
    struct ipaddr c = parse_ok("255.255.255.255");
    cr_assert(net_contains(&all, &c));
}

Test(net_contains, v6_and_family_mismatch)
{
    struct ipnet n = net_ok("2001:db8:1::/48");
    struct ipaddr a = parse_ok("2001:db8:1:ffff::1"), b = parse_ok("2001:db8:2::1");
    cr_assert(net_contains(&n, &a));
    cr_assert_not(net_contains(&n, &b));
    struct ipnet all6 = net_ok("::/0");
    struct ipaddr v4 = parse_ok("1.2.3.4");
    cr_assert_not(net_contains(&all6, &v4), "an IPv6 network never contains an IPv4 address");
}

/* ---- formatting ---- */

Test(format, addr_and_net)
{
    char buf[64];
    struct ipaddr a = parse_ok("192.0.2.1");
    cr_assert_str_eq(addr_format(&a, buf, sizeof buf), "192.0.2.1");
    struct ipaddr b = parse_ok("2001:0db8:0000:0000:0000:0000:0000:0001");
    cr_assert_str_eq(addr_format(&b, buf, sizeof buf), "2001:db8::1");

    struct ipnet n = net_ok("10.0.0.0/8");
    cr_assert_str_eq(net_format(&n, buf, sizeof buf), "10.0.0.0/8");
    n = net_ok("10.1.2.3");
    cr_assert_str_eq(net_format(&n, buf, sizeof buf), "10.1.2.3", "a host route has no /32");
    n = net_ok("2001:db8::/32");
    cr_assert_str_eq(net_format(&n, buf, sizeof buf), "2001:db8::/32");
    n = net_ok("2001:db8::7");
    cr_assert_str_eq(net_format(&n, buf, sizeof buf), "2001:db8::7");
    n = net_ok("0.0.0.0/0");
    cr_assert_str_eq(net_format(&n, buf, sizeof buf), "0.0.0.0/0");
}

/* ---- addr_unmap_v4 ---- */

Test(unmap, mapped_becomes_v4)
{
    struct ipaddr a = parse_ok("::ffff:192.0.2.1");
    addr_unmap_v4(&a);
    cr_assert_eq(a.family, ADDR_V4);
    uint8_t want[16] = { 192, 0, 2, 1 };
    cr_assert_arr_eq(a.bytes, want, 16, "the trailing 12 bytes must be zero");
}

Test(unmap, others_untouched)
{
    const char *keep[] = { "2001:db8::1", "::1", "::192.0.2.1", "::fffe:192.0.2.1", "1::ffff:c000:201" };
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        struct ipaddr a = parse_ok(keep[i]), b = a;
        addr_unmap_v4(&a);
        cr_expect_eq(a.family, ADDR_V6, "%s", keep[i]);
        cr_expect_arr_eq(a.bytes, b.bytes, 16, "%s", keep[i]);
    }
    struct ipaddr v4 = parse_ok("1.2.3.4"), copy = v4;
    addr_unmap_v4(&v4);
    cr_assert_eq(v4.family, ADDR_V4);
    cr_assert_arr_eq(v4.bytes, copy.bytes, 16);
}

/* ---- addr_from_reversed ---- */

Test(reversed, v4_basic)
{
    struct ipaddr a;
    cr_assert_eq(from_rev("4.3.2.1", &a), 0);
    cr_assert_eq(a.family, ADDR_V4);
    uint8_t want[16] = { 1, 2, 3, 4 };
    cr_assert_arr_eq(a.bytes, want, 16);
}

Test(reversed, v4_zero_and_255)
{
    struct ipaddr a;
    cr_assert_eq(from_rev("0.255.0.10", &a), 0);
    uint8_t want[16] = { 10, 0, 255, 0 };
    cr_assert_arr_eq(a.bytes, want, 16);
}

Test(reversed, wrong_label_counts)
{
    struct ipaddr a;
    cr_assert_eq(from_rev("3.2.1", &a), -1);
    cr_assert_eq(from_rev("5.4.3.2.1", &a), -1);
    cr_assert_eq(from_rev("1", &a), -1);
    struct label none[1];
    cr_assert_eq(addr_from_reversed(none, 0, &a), -1);

    char buf[128];
    /* 31 and 33 nibbles */
    strcpy(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0");
    cr_assert_eq(from_rev(buf, &a), -1, "31 nibbles");
    strcpy(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.0");
    cr_assert_eq(from_rev(buf, &a), -1, "33 nibbles");
}

Test(reversed, v4_bad_octets)
{
    struct ipaddr a;
    const char *bad[] = { "256.2.3.4", "4.3.2.256", "01.2.3.4", "4.3.2.00", "4.3.2.000", "4..2.1",
                          "4.3.2.", "a.3.2.1", "4.3.2.1x", "-1.3.2.1", "1000.3.2.1", " 4.3.2.1", "4.3.2.0x1" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(from_rev(bad[i], &a), -1, "\"%s\" accepted", bad[i]);
}

Test(reversed, v6_nibbles)
{
    struct ipaddr a, want = parse_ok("2001:db8::1");
    cr_assert_eq(from_rev("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2", &a), 0);
    cr_assert_eq(a.family, ADDR_V6);
    cr_assert_arr_eq(a.bytes, want.bytes, 16);
}

Test(reversed, v6_uppercase_hex_accepted)
{
    struct ipaddr a, want = parse_ok("2001:db8::abcd:ef01");
    cr_assert_eq(from_rev("1.0.F.E.D.C.B.A.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2", &a), 0);
    cr_assert_arr_eq(a.bytes, want.bytes, 16);
}

Test(reversed, v6_bad_nibbles)
{
    struct ipaddr a;
    char buf[128];
    const char *good = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2";
    cr_assert_eq(from_rev(good, &a), 0);

    strcpy(buf, good);
    buf[0] = 'g';
    cr_expect_eq(from_rev(buf, &a), -1, "'g' nibble");
    strcpy(buf, good);
    buf[0] = 'G';
    cr_expect_eq(from_rev(buf, &a), -1, "'G' nibble");
    strcpy(buf, good);
    buf[0] = ':';
    cr_expect_eq(from_rev(buf, &a), -1, "':' nibble");
    strcpy(buf, good);
    buf[0] = '@';   /* 0x40 | 0x20 = '`', just below 'a' */
    cr_expect_eq(from_rev(buf, &a), -1, "'@' nibble");

    /* a two-character label in place of the first nibble: still 32 labels */
    snprintf(buf, sizeof buf, "10%s", good + 1);
    cr_expect_eq(from_rev(buf, &a), -1, "two-char nibble");
    /* an empty label: "..": still 32 labels */
    snprintf(buf, sizeof buf, "%s", good + 1);
    cr_expect_eq(from_rev(buf, &a), -1, "empty nibble");
}

/* ---- addr_reversed ---- */

Test(reversed, v4_round_trip)
{
    const char *addrs[] = { "1.2.3.4", "0.0.0.0", "255.255.255.255", "192.0.2.10" };
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        char buf[64];
        struct ipaddr a = parse_ok(addrs[i]), b;
        addr_reversed(&a, buf, sizeof buf);
        cr_expect_eq(from_rev(buf, &b), 0, "%s -> %s", addrs[i], buf);
        cr_expect_eq(b.family, ADDR_V4);
        cr_expect_arr_eq(a.bytes, b.bytes, 16, "%s", addrs[i]);
    }
    char buf[32];
    struct ipaddr a = parse_ok("1.2.3.4");
    cr_assert_str_eq(addr_reversed(&a, buf, sizeof buf), "4.3.2.1");
}

Test(reversed, v6_round_trip)
{
    const char *addrs[] = { "2001:db8::1", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                            "fe80::1234:5678:9abc:def0", "::ffff:127.0.0.2" };
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        char buf[128], want[64];
        struct ipaddr a = parse_ok(addrs[i]), b;
        nibbles(&a, want);
        cr_expect_str_eq(addr_reversed(&a, buf, sizeof buf), want, "%s", addrs[i]);
        cr_expect_eq(from_rev(buf, &b), 0, "%s -> %s", addrs[i], buf);
        cr_expect_eq(b.family, ADDR_V6);
        cr_expect_arr_eq(a.bytes, b.bytes, 16, "%s", addrs[i]);
    }
}

/* Guards: lib/addr.c addr_reversed writes every nibble when the buffer is exactly large enough
 * (32 nibbles + 31 dots + NUL = 64 bytes): 63 characters, the address's first nibble last. (Found by
 * this test and fixed: the loop guard "pos + 2 < n" once stopped one nibble early there; the result
 * was 62 characters ending in '.', with the first nibble of the address missing.) */
Test(reversed, v6_exact_buffer)
{
    char buf[64], want[64];
    struct ipaddr a = parse_ok("2001:db8::1");
    nibbles(&a, want);
    cr_assert_eq(strlen(want), 63);
    cr_assert_str_eq(addr_reversed(&a, buf, sizeof buf), want);
}

/* ---- domain_normalize ---- */

static int norm(const char *in, char *out)
{
    return domain_normalize(in, out, DOMAIN_MAX + 1);
}

Test(domain, lowercases_and_drops_trailing_dot)
{
    char out[DOMAIN_MAX + 1];
    cr_assert_eq(norm("Mail.Example.COM.", out), 16);
    cr_assert_str_eq(out, "mail.example.com");
    cr_assert_eq(norm("a-b_c.x1", out), 8);
    cr_assert_str_eq(out, "a-b_c.x1");
    cr_assert_eq(norm("x", out), 1);
    cr_assert_str_eq(out, "x");
}

Test(domain, empty_labels_rejected)
{
    char out[DOMAIN_MAX + 1];
    const char *bad[] = { "a..b", ".", "", ".a", "a.b..", "..", "a.b.." };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(norm(bad[i], out), -1, "\"%s\" accepted", bad[i]);
}

Test(domain, label_length)
{
    char in[300], out[DOMAIN_MAX + 1];
    memset(in, 'a', 63);
    strcpy(in + 63, ".com");
    cr_assert_eq(norm(in, out), 67, "a 63-character label is fine");
    memset(in, 'a', 64);
    strcpy(in + 64, ".com");
    cr_assert_eq(norm(in, out), -1, "a 64-character label is not");
    memset(in, 'a', 64);
    in[64] = '\0';
    cr_assert_eq(norm(in, out), -1, "nor as the last label");
}

/* "aaa...a.aaa...a.": labels of 63 joined by dots up to exactly len characters */
static void long_name(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (i % 64 == 63) ? '.' : 'a';
    buf[len] = '\0';
    if (buf[len - 1] == '.')
        buf[len - 1] = 'a';
}

Test(domain, total_length)
{
    char in[300], out[300];
    long_name(in, 253);
    cr_assert_eq(domain_normalize(in, out, sizeof out), 253);
    strcat(in, ".");
    cr_assert_eq(domain_normalize(in, out, sizeof out), 253, "253 + trailing dot is fine");
    long_name(in, 254);
    cr_assert_eq(domain_normalize(in, out, sizeof out), -1, "254 characters");
    long_name(in, 253);
    cr_assert_eq(domain_normalize(in, out, 253), -1, "no room for the NUL");
}

Test(domain, bad_characters)
{
    char out[DOMAIN_MAX + 1];
    const char *bad[] = { "a b.com", "a*.com", "exa mple", "ex@mple.com", "a/b", "caf\xc3\xa9.fr", "a\tb",
                          "*.example.com", "a:b" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(norm(bad[i], out), -1, "\"%s\" accepted", bad[i]);
}

/* ---- account_label ---- */

Test(account, sha256_prefix)
{
    char out[ACCOUNT_LABEL_LEN + 1];
    /* printf %s alice@example.jp | sha256sum | cut -c1-32 */
    account_label("alice@example.jp", 16, out);
    cr_assert_str_eq(out, "dff1814457f5f95550f4ccecf8db4fd6");
}

Test(account, lowercases_first)
{
    char a[ACCOUNT_LABEL_LEN + 1], b[ACCOUNT_LABEL_LEN + 1];
    account_label("Alice@Example.JP", 16, a);
    cr_assert_str_eq(a, "dff1814457f5f95550f4ccecf8db4fd6");
    account_label("bob@example.jp", 14, b);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strlen(b), ACCOUNT_LABEL_LEN);
    for (int i = 0; i < ACCOUNT_LABEL_LEN; i++)
        cr_assert((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f'), "lower-case hex");
}

Test(account, uses_len_not_nul)
{
    char a[ACCOUNT_LABEL_LEN + 1];
    account_label("alice@example.jpXXXX", 16, a);
    cr_assert_str_eq(a, "dff1814457f5f95550f4ccecf8db4fd6");
}

/* Guards: lib/addr.c account_label hashes the whole name, however long, so the label is SHA-256 of
 * the name and two long names sharing a 512-byte prefix do not collide. 600 x 'A': expected
 * ba35c170729417f1499e0886e7e12fcd (python3 hashlib.sha256(b"a"*600)). (Found by this test and
 * fixed: a name longer than 512 bytes was once silently cut to its first 512 bytes before hashing,
 * and the result was the hash of 512 'a'.) */
Test(account, long_name_hashed_whole)
{
    char name[600], out[ACCOUNT_LABEL_LEN + 1];
    memset(name, 'A', sizeof name);
    account_label(name, sizeof name, out);
    cr_assert_str_eq(out, "ba35c170729417f1499e0886e7e12fcd");
}
