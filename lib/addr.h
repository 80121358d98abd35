/* addr.h - IP addresses, CIDR networks, domain names and the reversed DNS names that encode them.
 *
 * An address is kept in network byte order in a 16-byte array whatever its family, so that store keys
 * and comparisons are plain memcmp. */
#ifndef DNSBL_ADDR_H
#define DNSBL_ADDR_H

#include <stddef.h>
#include <stdint.h>

enum { ADDR_V4 = 4, ADDR_V6 = 6 };

struct ipaddr {
    uint8_t family;         /* ADDR_V4 or ADDR_V6 */
    uint8_t bytes[16];      /* IPv4 uses the first 4 */
};

struct ipnet {
    struct ipaddr addr;     /* host bits are always zero */
    uint8_t plen;           /* 0..32 or 0..128 */
};

/* A label of a DNS name as it appears in a packet: not NUL-terminated. */
struct label {
    const uint8_t *p;
    uint8_t len;
};

#define DOMAIN_MAX 253      /* presentation length without the trailing dot */

static inline int addr_bits(int family) { return family == ADDR_V4 ? 32 : 128; }
static inline int addr_len(int family) { return family == ADDR_V4 ? 4 : 16; }

int addr_parse(const char *s, struct ipaddr *out);
/* "a.b.c.d/n", "x::/n" or a bare address (a host route). Returns 0, 1 if host bits had to be cleared,
 * or -1 if the text is not a network. */
int net_parse(const char *s, struct ipnet *out);
void net_clear_host_bits(struct ipnet *net);
int net_contains(const struct ipnet *net, const struct ipaddr *a);
/* Prints the address, or the network as "addr/plen" unless it is a host route. */
const char *addr_format(const struct ipaddr *a, char *buf, size_t n);
const char *net_format(const struct ipnet *net, char *buf, size_t n);
/* IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4; anything else is left as it is. */
void addr_unmap_v4(struct ipaddr *a);
struct sockaddr;
/* A socket address's IP (IPv4-mapped IPv6 as IPv4): 0, or -1 for another family. */
int addr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out);

/* The labels of a query name below the zone, in query order ("4.3.2.1" or 32 nibbles). -1 when the
 * labels cannot be an address: wrong count, a label that is not a canonical octet or a nibble. */
int addr_from_reversed(const struct label *labels, int n, struct ipaddr *out);
/* The network the first n labels name as a prefix, read as IPv4 octets (n <= 4, /8n) or IPv6 nibbles
 * (n <= 32, /4n); for empty non-terminals ("2.0.192" is 192.0.2.0/24). -1 when they cannot be one. */
int net_from_reversed(const struct label *labels, int n, int family, struct ipnet *out);
/* The reversed name of an address, e.g. "4.3.2.1" (no zone, no trailing dot). */
const char *addr_reversed(const struct ipaddr *a, char *buf, size_t n);

/* Lower-cases and checks a domain name (labels of 1..63 letters, digits, '-' or '_'), drops one
 * trailing dot. Returns its length or -1. */
int domain_normalize(const char *in, char *out, size_t cap);



/* The account zone's label for an account: the first 32 hex digits of SHA-256 of the lower-cased
 * name, so that `printf %s alice@example.jp | sha256sum | cut -c1-32` finds it. */
#define ACCOUNT_LABEL_LEN 32
void account_label(const char *account, size_t len, char out[ACCOUNT_LABEL_LEN + 1]);

#endif
