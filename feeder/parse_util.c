/* parse_util.c - small helpers shared by the line parsers (parse_postfix.c, parse_dovecot.c); the
 * dispatcher that calls them is parse.c. */
#include <arpa/inet.h>
#include <string.h>

#include "event.h"
#include "logline.h"

const char *parse_find(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle));
}

/* The length of the leading run of characters that can be part of an IP address. */
static size_t memcspn_ip(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F') ||
                     p[i] == ':' || p[i] == '.'))
        i++;
    return i;
}

int parse_ip_token(const char *p, size_t n, struct ipaddr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t i = 0;
    while (i < n && p[i] != ',' && p[i] != ' ' && p[i] != ']' && p[i] != '>' && i < sizeof buf - 1)
        i++;
    if (i == 0 || i >= sizeof buf - 1)
        return -1;
    memcpy(buf, p, i);
    buf[i] = '\0';
    memset(out, 0, sizeof *out);
    if (memchr(buf, ':', i)) {
        out->family = ADDR_V6;
        if (inet_pton(AF_INET6, buf, out->bytes) != 1)
            return -1;
        addr_unmap_v4(out);
        return 0;
    }
    out->family = ADDR_V4;
    return inet_pton(AF_INET, buf, out->bytes) == 1 ? 0 : -1;
}

/* The address between p and p + n, all of it: "192.0.2.1", "2001:db8::1", "ipv6:2001:db8::1". */
int parse_ip_exact(const char *p, size_t n, struct ipaddr *out)
{
    if (n > 5 && !memcmp(p, "ipv6:", 5)) {     /* Postfix's IPv6 spelling */
        p += 5;
        n -= 5;
    }
    struct ipaddr ip;
    if (n == 0 || parse_ip_token(p, n, &ip) < 0 || memcspn_ip(p, n) != n)
        return -1;
    *out = ip;
    return 0;
}

int parse_client_token(const char *p, size_t n, struct ipaddr *out)
{
    /* Postfix writes "NAME[IP]", "NAME[IP]:PORT" with smtpd_client_port_logging, and the callers pass
     * "NAME[IP]:" where a colon ends the token. NAME comes from DNS, so the address is taken from the
     * brackets that close the token, never from the first '[' in it. */
    if (n && p[n - 1] == ':')
        n--;
    size_t i = n;
    while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
        i--;
    if (i < n && i >= 2 && p[i - 1] == ':' && p[i - 2] == ']')
        n = i - 1;
    if (n < 3 || p[n - 1] != ']')
        return -1;
    const char *open = memrchr(p, '[', n - 1);
    if (!open)
        return -1;
    open++;
    return parse_ip_exact(open, (size_t)(p + n - 1 - open), out);
}

size_t address_end(const char *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '"') {     /* a quoted local part may hold '>', '<', ',', ' ' and \-escapes */
        for (i = 1; i < n && p[i] != '"'; i++)
            if (p[i] == '\\')
                i++;
        if (i >= n)
            return n;
        i++;
    }
    const char *gt = memchr(p + i, '>', n - i);
    return gt ? (size_t)(gt - p) : n;
}

int parse_bracket_ip(const char *p, size_t n, struct ipaddr *out)
{
    const char *open = memchr(p, '[', n);
    if (!open)
        return -1;
    open++;
    if ((size_t)(p + n - open) > 5 && !memcmp(open, "ipv6:", 5))    /* Postfix's IPv6 spelling */
        open += 5;
    return parse_ip_token(open, (size_t)(p + n - open), out);
}
