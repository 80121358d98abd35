/* parse_util.c - small helpers shared by the line parsers, and the event dispatcher. */
#include <arpa/inet.h>
#include <string.h>

#include "event.h"
#include "logline.h"

const char *find(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle));
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

static const char *const names[EV_TYPES] = {
    "none", "connect", "disconnect", "lost", "too-many-errors", "rcpt-unknown", "rcpt-reject",
    "mail-reject", "client", "auth-fail", "auth-error", "queued", "removed", "ndr-sent", "bounced",
    "ps-connect", "ps-pass", "ps-pregreet", "ps-hangup", "ps-dnsbl", "login",
};

const char *event_type_name(enum event_type t)
{
    return t < EV_TYPES ? names[t] : "?";
}

/* The daemon name: the last component of the (possibly relay-cut) program tag. */
enum event_type parse_event(const struct logline *l, struct event *ev)
{
    memset(ev, 0, sizeof *ev);
    const char *svc = l->prog2 ? l->prog2 : l->prog;
    size_t svc_len = l->prog2 ? l->prog2_len : l->prog_len;
    const char *slash = memrchr(svc, '/', svc_len);
    int postfix_style = slash != NULL;
    if (slash) {
        svc_len -= (size_t)(slash + 1 - svc);
        svc = slash + 1;
    }
    if (postfix_style)
        return ev->type = parse_postfix(svc, svc_len, l->msg, l->msg_len, ev);
    if (l->prog_len == 7 && !memcmp(l->prog, "dovecot", 7))
        return ev->type = parse_dovecot(l->msg, l->msg_len, ev);
    return EV_NONE;
}
