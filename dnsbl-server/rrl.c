/* rrl.c - see rrl.h. */
#include "rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int rrl_init(struct rrl *r, uint32_t rate, uint32_t slip)
{
    r->rate = rate;
    r->slip = slip;
    r->b = calloc(RRL_BUCKETS, sizeof *r->b);
    return r->b ? 0 : -1;
}

void rrl_free(struct rrl *r)
{
    free(r->b);
    r->b = NULL;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* The question name as query_parse keeps it (lower case: a client varying the case stays in one bucket). */
static uint64_t name_hash(const struct dns_query *q)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < q->name_len; i++)
        h = (h ^ q->name[i]) * 1099511628211ull;
    return h;
}

uint64_t rrl_key(const struct sockaddr_storage *peer, const struct dns_query *q, const struct answer_info *info)
{
    uint64_t h = 0, src[2] = { 0, 0 };
    if (peer->ss_family == AF_INET) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
        src[0] = (uint64_t)a[0] << 16 | (uint64_t)a[1] << 8 | a[2];                 /* the /24 */
    } else if (peer->ss_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)peer)->sin6_addr.s6_addr;
        for (int i = 0; i < 7; i++)                                                 /* the /56 */
            src[1] = src[1] << 8 | a[i];
        src[0] = 1ull << 40;
    }
    uint64_t name = name_hash(q);
    h = mix(mix(h, src[0]), src[1]);
    if (info->rcode == RCODE_NOERROR && info->listed)
        return mix(mix(h, 1), name);                        /* a positive answer: by the name */
    if (info->rcode == RCODE_NOERROR || info->rcode == RCODE_NXDOMAIN)
        return mix(mix(h, 2), (uint64_t)(info->zone + 1));  /* negative: by the zone */
    return mix(mix(h, 3), info->rcode);                     /* errors: by the rcode */
}

enum rrl_verdict rrl_check(struct rrl *r, uint64_t key, uint32_t now)
{
    struct rrl_bucket *b = &r->b[key & (RRL_BUCKETS - 1)];
    if (b->second != now) {         /* a new second, or a bucket taken over from an older key */
        b->key = key;
        b->second = now;
        b->tokens = (int32_t)r->rate;
        b->limited = 0;
    }
    /* a collision within the same second shares the bucket: it can only limit more, never less */
    if (--b->tokens >= 0)
        return RRL_PASS;
    b->tokens = -1;
    b->limited++;
    return r->slip && b->limited % r->slip == 0 ? RRL_SLIP : RRL_DROP;
}

size_t rrl_truncate(uint8_t *out, const uint8_t *pkt, size_t qend)
{
    out[2] |= 0x02;                                 /* TC */
    memset(out + 4, 0, 8);                          /* no records ... */
    if (qend <= DNS_HEADER_LEN)
        return DNS_HEADER_LEN;
    out[5] = 1;                                     /* ... but the question */
    memcpy(out + DNS_HEADER_LEN, pkt + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
    return qend;
}
