/* query.c - see query.h. Every length is checked against the packet before it is used. */
#include "query.h"

#include <string.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The question name: plain labels only (a compression pointer in a question is malformed). */
static int parse_qname(const uint8_t *pkt, size_t len, size_t *pos, struct dns_query *q)
{
    size_t p = *pos, out = 0;
    q->nlabels = 0;
    for (;;) {
        if (p >= len)
            return -1;
        uint8_t l = pkt[p];
        if (l & 0xc0)
            return -1;
        if (out + 1 + l > 255 || p + 1 + l > len)
            return -1;
        q->name[out] = l;
        if (l == 0) {
            q->name_len = (uint8_t)(out + 1);
            *pos = p + 1;
            return 0;
        }
        q->label_off[q->nlabels++] = (uint8_t)out;
        for (size_t i = 1; i <= l; i++) {     /* lower case, without a branch per character */
            uint8_t c = pkt[p + i];
            q->name[out + i] = (uint8_t)(c | ((unsigned)(c - 'A') < 26u) << 5);
        }
        out += 1 + l;
        p += 1 + l;
    }
}

/* Any owner name in the additional section, compression allowed; only its end matters here. */
static int skip_name(const uint8_t *pkt, size_t len, size_t *pos)
{
    size_t p = *pos;
    for (int guard = 0; guard < 128; guard++) {
        if (p >= len)
            return -1;
        uint8_t l = pkt[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 2 > len)
                return -1;
            *pos = p + 2;
            return 0;
        }
        if (l & 0xc0)
            return -1;
        p += 1 + l;
        if (l == 0) {
            *pos = p;
            return 0;
        }
    }
    return -1;
}

/* Skips count records (answer or authority); -1 if they run past the packet. */
static int skip_records(const uint8_t *pkt, size_t len, size_t *pos, int count)
{
    for (int i = 0; i < count; i++) {
        if (skip_name(pkt, len, pos) < 0 || *pos + 10 > len)
            return -1;
        size_t rdlen = get16(pkt + *pos + 8);
        if (*pos + 10 + rdlen > len)
            return -1;
        *pos += 10 + rdlen;
    }
    return 0;
}

static enum query_status parse_additional(const uint8_t *pkt, size_t len, size_t pos, int count,
                                          struct dns_query *q)
{
    for (int i = 0; i < count; i++) {
        size_t owner = pos;
        if (skip_name(pkt, len, &pos) < 0 || pos + 10 > len)
            return QUERY_FORMERR;
        uint16_t type = get16(pkt + pos), rdlen = get16(pkt + pos + 8);
        if (pos + 10 + rdlen > len)
            return QUERY_FORMERR;
        if (type == DNS_TYPE_OPT) {
            if (q->edns || pkt[owner] != 0)     /* RFC 6891: one OPT, owned by the root */
                return QUERY_FORMERR;
            q->edns = 1;
            q->edns_size = get16(pkt + pos + 2);
            q->edns_version = pkt[pos + 5];
            q->edns_do = pkt[pos + 6] >> 7;
        }
        pos += 10 + rdlen;
    }
    return QUERY_OK;
}

/* The serial of the first record after the question when it is the one authority SOA of an IXFR
 * query; the records are checked in full by skip_records. */
static void ixfr_serial(const uint8_t *pkt, size_t len, size_t pos, struct dns_query *q)
{
    if (skip_name(pkt, len, &pos) < 0 || pos + 10 > len || get16(pkt + pos) != DNS_TYPE_SOA)
        return;
    size_t rdlen = get16(pkt + pos + 8);
    if (rdlen < 22 || pos + 10 + rdlen > len)
        return;
    const uint8_t *s = pkt + pos + 10 + rdlen - 20;
    q->ixfr_serial = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
    q->has_ixfr_serial = 1;
}

static enum query_status parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
    q->question_end = 0;
    q->qtype = q->qclass = 0;
    q->edns = 0;
    q->edns_version = 0;
    q->edns_size = 0;
    q->edns_do = 0;
    q->name_len = 0;
    q->nlabels = 0;
    q->has_ixfr_serial = 0;
    q->ixfr_serial = 0;
    if (len < DNS_HEADER_LEN || (pkt[2] & 0x80))
        return QUERY_DROP;
    q->id = get16(pkt);
    q->opcode = (pkt[2] >> 3) & 0x0f;
    q->rd = pkt[2] & 0x01;
    q->cd = pkt[3] & 0x10;
    uint16_t qd = get16(pkt + 4), an = get16(pkt + 6), ns = get16(pkt + 8), ar = get16(pkt + 10);
    if (qd != 1)
        return q->opcode ? QUERY_NOTIMP : QUERY_FORMERR;
    size_t pos = DNS_HEADER_LEN;
    if (parse_qname(pkt, len, &pos, q) < 0 || pos + 4 > len)
        return q->opcode ? QUERY_NOTIMP : QUERY_FORMERR;
    q->qtype = get16(pkt + pos);
    q->qclass = get16(pkt + pos + 2);
    q->question_end = pos + 4;
    if (q->opcode != 0)
        return QUERY_NOTIMP;
    /* the records in between are skipped even when they make the query malformed, so that its OPT
     * is found and a FORMERR carries one too */
    pos = q->question_end;
    if (q->qtype == DNS_TYPE_IXFR && ns == 1)
        ixfr_serial(pkt, len, pos, q);
    if (skip_records(pkt, len, &pos, an + ns) < 0)
        return QUERY_FORMERR;
    enum query_status st = parse_additional(pkt, len, pos, ar, q);
    if (st != QUERY_OK)
        return st;
    if (an != 0 || (ns != 0 && !(ns == 1 && q->qtype == DNS_TYPE_IXFR)))
        return QUERY_FORMERR;
    return q->edns && q->edns_version > 0 ? QUERY_BADVERS : QUERY_OK;
}

enum query_status query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
    return q->status = parse(pkt, len, q);
}
