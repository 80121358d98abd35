/* test_query.c - query_parse on hand-built packets. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "testutil.h"

/* flags: the two bytes after the ID (QR, opcode, AA, TC, RD | RA, Z, AD, CD, RCODE) */
static void header(struct pkt *p, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    p->len = 0;
    u16(p, 0xbeef);
    u16(p, flags);
    u16(p, qd);
    u16(p, an);
    u16(p, ns);
    u16(p, ar);
}

static void opt(struct pkt *p, uint16_t size, uint8_t version)
{
    u8(p, 0);               /* root owner */
    u16(p, DNS_TYPE_OPT);
    u16(p, size);
    u8(p, 0);               /* extended rcode */
    u8(p, version);
    u16(p, 0);              /* flags */
    u16(p, 0);              /* rdlen */
}

/* A standard query: header, question, and an OPT when edns_size != 0. */
static void query(struct pkt *p, const char *qname, uint16_t qtype, uint16_t edns_size)
{
    header(p, 0x0100, 1, 0, 0, edns_size ? 1 : 0);
    pkt_name(p, qname);
    u16(p, qtype);
    u16(p, DNS_CLASS_IN);
    if (edns_size)
        opt(p, edns_size, 0);
}

static enum query_status parse(const struct pkt *p, struct dns_query *q)
{
    /* an exact-size copy, so that ASan catches any read past the packet */
    uint8_t *copy = malloc(p->len ? p->len : 1);
    memcpy(copy, p->b, p->len);
    enum query_status st = query_parse(copy, p->len, q);
    free(copy);
    return st;
}

/* "aaaa.aaaa...." with labels of the given lengths */
static void long_query(struct pkt *p, const int *lens, int n)
{
    char s[600];
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        memset(s + pos, 'a', (size_t)lens[i]);
        pos += (size_t)lens[i];
        s[pos++] = i + 1 < n ? '.' : '\0';
    }
    query(p, s, DNS_TYPE_A, 0);
}

/* ---- header ---- */

Test(header, short_packets_dropped)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "4.3.2.1.bl.example", DNS_TYPE_A, 0);
    for (size_t n = 0; n < DNS_HEADER_LEN; n++) {
        struct pkt s = p;
        s.len = n;
        cr_expect_eq(parse(&s, &q), QUERY_DROP, "%zu bytes", n);
    }
}

Test(header, responses_dropped)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "example", DNS_TYPE_A, 0);
    p.b[2] |= 0x80;
    cr_assert_eq(parse(&p, &q), QUERY_DROP);
}

Test(header, qdcount_must_be_one)
{
    struct pkt p;
    struct dns_query q;
    header(&p, 0x0100, 0, 0, 0, 0);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR, "QDCOUNT 0");
    cr_assert_eq(q.question_end, 0);

    header(&p, 0x0100, 2, 0, 0, 0);
    pkt_name(&p, "a.example");
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    pkt_name(&p, "b.example");
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR, "QDCOUNT 2");
}

Test(header, answer_or_authority_records)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[7] = 1;     /* ANCOUNT */
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[9] = 1;     /* NSCOUNT */
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(header, id_rd_cd)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[2] = 0x01;          /* RD */
    p.b[3] = 0x10;          /* CD */
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.id, 0xbeef);
    cr_assert(q.rd);
    cr_assert(q.cd);
    cr_assert_eq(q.opcode, 0);

    p.b[2] = 0x00;
    p.b[3] = 0x20;          /* AD only */
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_not(q.rd);
    cr_assert_not(q.cd);
}

Test(header, other_opcodes_notimp)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "bl.example", DNS_TYPE_SOA, 0);
    p.b[2] = 4 << 3;        /* NOTIFY */
    cr_assert_eq(parse(&p, &q), QUERY_NOTIMP);
    cr_assert_eq(q.opcode, 4);
    cr_assert_gt(q.question_end, 0, "the question parsed, for the echo");

    p.b[2] = 2 << 3;        /* STATUS */
    cr_assert_eq(parse(&p, &q), QUERY_NOTIMP);

    header(&p, (5 << 3) << 8, 0, 0, 0, 0);    /* UPDATE, no question */
    cr_assert_eq(parse(&p, &q), QUERY_NOTIMP);
    cr_assert_eq(q.question_end, 0);
}

/* ---- question name ---- */

Test(qname, lowercase_copy_and_offsets)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "Mail.EXAMPLE.com", DNS_TYPE_TXT, 0);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    const uint8_t want[] = "\4mail\7example\3com";
    cr_assert_eq(q.name_len, sizeof want);      /* including the root's zero byte */
    cr_assert_arr_eq(q.name, want, sizeof want);
    cr_assert_eq(q.nlabels, 3);
    cr_assert_eq(q.label_off[0], 0);
    cr_assert_eq(q.label_off[1], 5);
    cr_assert_eq(q.label_off[2], 13);
    cr_assert_eq(q.qtype, DNS_TYPE_TXT);
    cr_assert_eq(q.qclass, DNS_CLASS_IN);
    cr_assert_eq(q.question_end, p.len);
    cr_assert_eq(q.edns, 0);
    cr_assert_eq(p.b[13], 'M', "the packet itself is not modified");
}

Test(qname, only_ascii_letters_folded)
{
    struct pkt p;
    struct dns_query q;
    header(&p, 0x0100, 1, 0, 0, 0);
    const uint8_t raw[] = { 5, '@', '[', 0xc4, 'Z', '`', 0 };
    memcpy(p.b + p.len, raw, sizeof raw);
    p.len += sizeof raw;
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    const uint8_t want[] = { 5, '@', '[', 0xc4, 'z', '`', 0 };
    cr_assert_arr_eq(q.name, want, sizeof want);
}

Test(qname, root)
{
    struct pkt p;
    struct dns_query q;
    query(&p, ".", DNS_TYPE_NS, 0);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.nlabels, 0);
    cr_assert_eq(q.name_len, 1);
    cr_assert_eq(q.name[0], 0);
    cr_assert_eq(q.question_end, DNS_HEADER_LEN + 5);
}

Test(qname, compression_pointer_formerr)
{
    struct pkt p;
    struct dns_query q;
    header(&p, 0x0100, 1, 0, 0, 0);
    u8(&p, 1);
    u8(&p, 'a');
    u16(&p, 0xc00c);
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);

    header(&p, 0x0100, 1, 0, 0, 0);
    u8(&p, 0x41);           /* the reserved 01 label type */
    u8(&p, 'a');
    u8(&p, 0);
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(qname, runs_past_the_end)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "abcdef.example", DNS_TYPE_A, 0);
    /* every cut inside the question (name or type/class) */
    for (size_t n = DNS_HEADER_LEN; n < p.len; n++) {
        struct pkt s = p;
        s.len = n;
        cr_expect_eq(parse(&s, &q), QUERY_FORMERR, "cut at %zu", n);
    }
    header(&p, 0x0100, 1, 0, 0, 0);
    u8(&p, 40);             /* a label longer than what follows */
    memcpy(p.b + p.len, "short", 5);
    p.len += 5;
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(qname, length_limit)
{
    struct pkt p;
    struct dns_query q;
    const int ok[] = { 63, 63, 63, 61 };       /* 3*64 + 62 + 1 = 255 bytes */
    long_query(&p, ok, 4);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.name_len, 255);
    cr_assert_eq(q.nlabels, 4);
    cr_assert_eq(q.label_off[3], 192);

    const int too_long[] = { 63, 63, 63, 62 };  /* 256 bytes */
    long_query(&p, too_long, 4);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);

    const int way_too_long[] = { 63, 63, 63, 63, 63 };
    long_query(&p, way_too_long, 5);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(qname, most_labels)
{
    struct pkt p;
    struct dns_query q;
    int ones[128];
    for (int i = 0; i < 128; i++)
        ones[i] = 1;
    long_query(&p, ones, 127);      /* 127 * 2 + 1 = 255 */
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.nlabels, 127);
    cr_assert_eq(q.label_off[126], 252);
    long_query(&p, ones, 128);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

/* ---- EDNS ---- */

Test(edns, opt_parsed)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 4096);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.edns, 1);
    cr_assert_eq(q.edns_size, 4096);
    cr_assert_eq(q.edns_version, 0);
}

Test(edns, version_1_badvers)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[11] = 1;
    opt(&p, 1232, 1);
    cr_assert_eq(parse(&p, &q), QUERY_BADVERS);
    cr_assert_eq(q.edns, 1);
    cr_assert_eq(q.edns_version, 1);
    cr_assert_eq(q.edns_size, 1232);
}

Test(edns, two_opts_formerr)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[11] = 2;
    opt(&p, 1232, 0);
    opt(&p, 1232, 0);
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(edns, opt_owner_must_be_root)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[11] = 1;
    u8(&p, 1);
    u8(&p, 'x');
    opt(&p, 1232, 0);       /* "x." + the OPT's fields */
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(edns, other_additional_records_skipped)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 0);
    p.b[11] = 2;
    u16(&p, 0xc00c);        /* owner: pointer to the question name */
    u16(&p, DNS_TYPE_A);
    u16(&p, DNS_CLASS_IN);
    u16(&p, 0);
    u16(&p, 60);
    u16(&p, 4);
    u16(&p, 0x0102);
    u16(&p, 0x0304);
    opt(&p, 1400, 0);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.edns, 1);
    cr_assert_eq(q.edns_size, 1400);
}

Test(edns, truncated_additional_formerr)
{
    struct pkt p;
    struct dns_query q;
    query(&p, "a.example", DNS_TYPE_A, 512);
    size_t full = p.len;
    for (size_t n = full - 11; n < full; n++) {
        struct pkt s = p;
        s.len = n;
        cr_expect_eq(parse(&s, &q), QUERY_FORMERR, "OPT cut at %zu of %zu", n, full);
    }
    /* rdlen pointing past the end */
    p.b[full - 1] = 4;
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
    /* ARCOUNT larger than what is there */
    query(&p, "a.example", DNS_TYPE_A, 512);
    p.b[11] = 2;
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
}

Test(robustness, random_packets)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    struct dns_query q;
    for (int round = 0; round < 20000; round++) {
        struct pkt p;
        p.len = (size_t)(round % 80);
        for (size_t i = 0; i < p.len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p.b[i] = (uint8_t)x;
        }
        if (p.len >= 12) {      /* a query with one question now and then, so the parsing goes deep */
            p.b[2] &= 0x7f;
            p.b[4] = 0;
            p.b[5] = 1;
            p.b[6] = p.b[7] = p.b[8] = p.b[9] = 0;
            p.b[10] = 0;
            p.b[11] &= 3;
            for (size_t i = 12; i < p.len; i++)
                if (p.b[i] > 0x3f)
                    p.b[i] &= 7;
        }
        enum query_status st = parse(&p, &q);
        cr_assert_eq(q.status, st, "the status is kept in the query");
        if (st == QUERY_OK) {
            cr_assert_leq(q.question_end, p.len);
            cr_assert_leq(q.name_len, 255);
        }
    }
}

/* An IXFR query (RFC 1995 3): the question, then the client's SOA in the authority section. */
static void ixfr_query(struct pkt *p, uint32_t serial, uint16_t rdlen)
{
    header(p, 0x0000, 1, 0, 1, 0);
    pkt_name(p, "bl.example");
    u16(p, DNS_TYPE_IXFR);
    u16(p, DNS_CLASS_IN);
    u16(p, 0xc00c);         /* owner: the question name */
    u16(p, DNS_TYPE_SOA);
    u16(p, DNS_CLASS_IN);
    u16(p, 0);
    u16(p, 0);              /* TTL */
    u16(p, rdlen);
    for (int i = 0; i < rdlen - 20; i++)
        u8(p, 0);           /* MNAME, RNAME: root, root, padding */
    u16(p, (uint16_t)(serial >> 16));
    u16(p, (uint16_t)serial);
    for (int i = 0; i < 16; i++)
        u8(p, 1);           /* REFRESH .. MINIMUM */
}

Test(ixfr, authority_soa_serial)
{
    struct pkt p;
    struct dns_query q;
    ixfr_query(&p, 0x89abcdefu, 22);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_eq(q.status, QUERY_OK);
    cr_assert(q.has_ixfr_serial);
    cr_assert_eq(q.ixfr_serial, 0x89abcdefu);
}

Test(ixfr, no_or_bad_soa_no_serial)
{
    struct pkt p;
    struct dns_query q;
    ixfr_query(&p, 7, 21);              /* too short for an SOA */
    parse(&p, &q);
    cr_assert_not(q.has_ixfr_serial);
    ixfr_query(&p, 7, 22);
    p.len -= 1;                         /* cut short */
    cr_assert_eq(parse(&p, &q), QUERY_FORMERR);
    cr_assert_not(q.has_ixfr_serial);
    ixfr_query(&p, 7, 22);
    p.b[12 + 16 + 3] = DNS_TYPE_NS;     /* the type after the question and the owner: not an SOA */
    parse(&p, &q);
    cr_assert_not(q.has_ixfr_serial);
    query(&p, "bl.example", DNS_TYPE_IXFR, 0);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_not(q.has_ixfr_serial, "no authority section: a whole transfer");
    query(&p, "bl.example", DNS_TYPE_A, 0);
    cr_assert_eq(parse(&p, &q), QUERY_OK);
    cr_assert_not(q.has_ixfr_serial);
}
