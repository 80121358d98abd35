/* query.h - parse one DNS query packet: header, the single question, and an EDNS0 OPT record.
 *
 * The parser copies the question name in lower case into the query struct and notes where each label
 * starts, so that zone matching and address decoding never touch the packet again (only the answer
 * reads it, to echo the question exactly as sent). No allocation. */
#ifndef DNSBL_QUERY_H
#define DNSBL_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

enum query_status {
    QUERY_OK,
    QUERY_DROP,         /* not worth an answer: too short, or a response */
    QUERY_FORMERR,
    QUERY_NOTIMP,       /* an opcode other than QUERY */
    QUERY_BADVERS,      /* EDNS version above 0 */
};

struct dns_query {
    enum query_status status;   /* what query_parse returned */
    uint16_t id;
    uint8_t opcode;
    uint8_t rd, cd;             /* copied into the response (RFC 1035, RFC 4035) */
    uint16_t qtype, qclass;
    size_t question_end;        /* offset just past QCLASS; 0 if the question did not parse */
    uint8_t name[256];          /* the question name in wire form, lower case */
    uint8_t name_len;
    uint8_t nlabels;            /* not counting the root */
    uint8_t label_off[128];     /* offset in name of each label's length byte */
    uint8_t edns;               /* an OPT record was present (also noted for FORMERR where it can be) */
    uint8_t edns_do;            /* its DO bit: copied into the response's OPT (RFC 3225) */
    uint8_t edns_version;
    uint16_t edns_size;
    uint8_t has_ixfr_serial;    /* an IXFR query's authority SOA (RFC 1995 3) was readable: */
    uint32_t ixfr_serial;       /* its serial, the version the client holds */
};

/* One question, no answer records, and no authority records except the SOA of an IXFR query (RFC
 * 1995); any number of additional records, of which one may be an OPT. The one parser of a query
 * packet: the server parses each packet once, and the prefetch, the answer, the zone transfer check
 * and the query log all read the result. Also stored in q->status. */
enum query_status query_parse(const uint8_t *pkt, size_t len, struct dns_query *q);

#endif
