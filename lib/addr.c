/* addr.c - see addr.h. inet_pton does the textual work; the reversed-name parser is hand-written
 * because it runs on every DNS query and must reject every non-canonical form. */
#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ldns/sha2.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int addr_parse(const char *s, struct ipaddr *out)
{
    memset(out, 0, sizeof *out);
    if (strchr(s, ':')) {
        out->family = ADDR_V6;
        return inet_pton(AF_INET6, s, out->bytes) == 1 ? 0 : -1;
    }
    out->family = ADDR_V4;
    return inet_pton(AF_INET, s, out->bytes) == 1 ? 0 : -1;
}

void net_clear_host_bits(struct ipnet *net)
{
    int bits = addr_bits(net->addr.family), plen = net->plen < bits ? net->plen : bits, keep = plen / 8;
    if (plen % 8)
        net->addr.bytes[keep++] &= (uint8_t)(0xff00u >> (plen % 8));
    memset(net->addr.bytes + keep, 0, (size_t)(bits / 8 - keep));
}

int net_parse(const char *s, struct ipnet *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof buf)
        return -1;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (addr_parse(buf, &out->addr) < 0)
        return -1;
    int bits = addr_bits(out->addr.family);
    out->plen = (uint8_t)bits;
    if (slash) {
        const char *d = slash + 1;
        if (*d < '0' || *d > '9' || strlen(d) > 3 || (d[0] == '0' && d[1]))
            return -1;
        int plen = atoi(d);
        for (const char *c = d; *c; c++)
            if (*c < '0' || *c > '9')
                return -1;
        if (plen > bits)
            return -1;
        out->plen = (uint8_t)plen;
    }
    struct ipnet copy = *out;
    net_clear_host_bits(out);
    return memcmp(copy.addr.bytes, out->addr.bytes, 16) != 0 ? 1 : 0;
}

int net_contains(const struct ipnet *net, const struct ipaddr *a)
{
    if (net->addr.family != a->family)
        return 0;
    struct ipnet probe = { *a, net->plen };
    net_clear_host_bits(&probe);
    return memcmp(probe.addr.bytes, net->addr.bytes, 16) == 0;
}

const char *addr_format(const struct ipaddr *a, char *buf, size_t n)
{
    if (!inet_ntop(a->family == ADDR_V4 ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)n))
        snprintf(buf, n, "?");
    return buf;
}

const char *net_format(const struct ipnet *net, char *buf, size_t n)
{
    addr_format(&net->addr, buf, n);
    if (net->plen != addr_bits(net->addr.family)) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "/%u", net->plen);
    }
    return buf;
}

void addr_unmap_v4(struct ipaddr *a)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (a->family != ADDR_V6 || memcmp(a->bytes, mapped, 12) != 0)
        return;
    memmove(a->bytes, a->bytes + 12, 4);
    memset(a->bytes + 4, 0, 12);
    a->family = ADDR_V4;
}

/* "0".."255" with no leading zero: the only spelling rbldnsd-style clients produce. */
static int parse_octet(const struct label *l)
{
    if (l->len == 0 || l->len > 3 || (l->len > 1 && l->p[0] == '0'))
        return -1;
    int v = 0;
    for (int i = 0; i < l->len; i++) {
        if (l->p[i] < '0' || l->p[i] > '9')
            return -1;
        v = v * 10 + (l->p[i] - '0');
    }
    return v > 255 ? -1 : v;
}

static int parse_nibble(const struct label *l)
{
    if (l->len != 1)
        return -1;
    uint8_t c = l->p[0];
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int net_from_reversed(const struct label *labels, int n, int family, struct ipnet *out)
{
    int v6 = family == ADDR_V6, bits = v6 ? 4 : 8;
    memset(out, 0, sizeof *out);
    out->addr.family = (uint8_t)family;
    if (n < 1 || n * bits > addr_bits(family))
        return -1;
    out->plen = (uint8_t)(n * bits);
    for (int i = 0; i < n; i++) {
        int pos = n - 1 - i;    /* labels run from the last octet or nibble to the first */
        int v = v6 ? parse_nibble(&labels[i]) : parse_octet(&labels[i]);
        if (v < 0)
            return -1;
        if (v6)
            out->addr.bytes[pos / 2] |= (uint8_t)(pos % 2 ? v : v << 4);
        else
            out->addr.bytes[pos] = (uint8_t)v;
    }
    return 0;
}

int addr_from_reversed(const struct label *labels, int n, struct ipaddr *out)
{
    struct ipnet net;
    if ((n != 4 && n != 32) || net_from_reversed(labels, n, n == 4 ? ADDR_V4 : ADDR_V6, &net) < 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    *out = net.addr;
    return 0;
}

const char *addr_reversed(const struct ipaddr *a, char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t pos = 0;
    buf[0] = '\0';
    if (a->family == ADDR_V4) {
        snprintf(buf, n, "%u.%u.%u.%u", a->bytes[3], a->bytes[2], a->bytes[1], a->bytes[0]);
        return buf;
    }
    for (int nib = 31; nib >= 0 && pos + 2 <= n; nib--) {
        uint8_t b = a->bytes[nib / 2];
        buf[pos++] = hex[nib % 2 ? b & 0xf : b >> 4];
        buf[pos++] = nib ? '.' : '\0';
    }
    buf[n - 1] = '\0';
    return buf;
}

int domain_normalize(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    if (len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0 || len > DOMAIN_MAX || len >= cap)
        return -1;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            if (++label > 63)
                return -1;
        } else {
            return -1;
        }
        out[i] = (char)tolower(c);
    }
    if (label == 0)
        return -1;
    out[len] = '\0';
    return (int)len;
}

void account_label(const char *account, size_t len, char out[ACCOUNT_LABEL_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char chunk[256], digest[32];
    ldns_sha256_CTX ctx;
    ldns_sha256_init(&ctx);
    for (size_t off = 0; off < len; off += sizeof chunk) {     /* lower-cased piece by piece */
        size_t n = len - off < sizeof chunk ? len - off : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)tolower((unsigned char)account[off + i]);
        ldns_sha256_update(&ctx, chunk, n);
    }
    ldns_sha256_final(digest, &ctx);
    for (int i = 0; i < ACCOUNT_LABEL_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[ACCOUNT_LABEL_LEN] = '\0';
}

int addr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        out->family = ADDR_V4;
        memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        out->family = ADDR_V6;
        memcpy(out->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        addr_unmap_v4(out);
    } else {
        return -1;
    }
    return 0;
}
