/* rrl.h - response rate limiting for public deployments (the design of NSD's and Knot's RRL).
 *
 * Responses are counted per (source prefix, class): a positive answer by the name asked, a negative
 * one (NXDOMAIN, NODATA) by its zone, an error by its rcode, so that a reflection attack that spoofs a
 * victim's address and varies the names still lands in a few buckets. Each bucket earns `rate`
 * responses a second (a burst of one second's worth); past that, one response in `slip` goes out
 * truncated (TC, no records: a real resolver retries over TCP, which cannot be spoofed) and the rest
 * are dropped. Source prefixes: IPv4 /24, IPv6 /56. One table per UDP worker, no locks. */
#ifndef DNSBL_RRL_H
#define DNSBL_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "answer.h"

#define RRL_BUCKETS 65536

struct rrl_bucket {
    uint64_t key;
    uint32_t second;
    int32_t tokens;
    uint32_t limited;           /* responses over the rate this second: every slip-th is sent TC */
};

struct rrl {
    struct rrl_bucket *b;       /* RRL_BUCKETS, direct-mapped by key */
    uint32_t rate, slip;
};

enum rrl_verdict { RRL_PASS, RRL_SLIP, RRL_DROP };

int rrl_init(struct rrl *r, uint32_t rate, uint32_t slip);
void rrl_free(struct rrl *r);
struct dns_query;
/* The bucket key of the response to q (query_parse's). */
uint64_t rrl_key(const struct sockaddr_storage *peer, const struct dns_query *q, const struct answer_info *info);
enum rrl_verdict rrl_check(struct rrl *r, uint64_t key, uint32_t now);
/* Rewrites the response in out into its truncated form: header with TC, the question (which ends at
 * qend: query_parse's question_end, 0 when it has none), nothing else. */
size_t rrl_truncate(uint8_t *out, const uint8_t *pkt, size_t qend);

#endif
