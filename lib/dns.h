/* dns.h - the DNS numbers every program speaks: header length, record types, classes and response
 * codes (RFC 1035, 1995, 5936, 6891), for the query parser and answer (dnsbl-server), the records of
 * a zone (xfr_records.c) and the zone file `dnsblctl export` writes. */
#ifndef DNSBL_DNS_H
#define DNSBL_DNS_H

#define DNS_HEADER_LEN 12
#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_SOA 6
#define DNS_TYPE_TXT 16
#define DNS_TYPE_OPT 41
#define DNS_TYPE_IXFR 251
#define DNS_TYPE_AXFR 252
#define DNS_TYPE_ANY 255
#define DNS_CLASS_IN 1
#define DNS_CLASS_ANY 255

enum dns_rcode {
    RCODE_NOERROR = 0, RCODE_FORMERR = 1, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3,
    RCODE_NOTIMP = 4, RCODE_REFUSED = 5, RCODE_BADVERS = 16,
};

#endif
