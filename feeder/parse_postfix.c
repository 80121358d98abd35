/* parse_postfix.c - Postfix 3.x lines (3.7 is the reference; the 3.9-3.11 variants are accepted).
 *
 * Table-driven by daemon: each daemon's message forms are tried in order, each one a fixed prefix
 * followed by fields found with memmem. Every form has a test with a real line from the corpus. */
#include <string.h>

#include "event.h"

#define STARTS(p, n, lit) ((n) >= sizeof(lit) - 1 && !memcmp((p), (lit), sizeof(lit) - 1))

static uint32_t number(const char *p, size_t n, size_t *used)
{
    uint32_t v = 0;
    size_t i = 0;
    while (i < n && i < 9 && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (uint32_t)(p[i++] - '0');
    if (used)
        *used = i;
    return v;
}

/* "C898910C502: " or a long queue ID ("4VtQRb0Bkhz1xyz: "); returns the length of the ID. */
static size_t queue_id(const char *p, size_t n)
{
    size_t i = 0;
    int upper_or_digit = 0;
    while (i < n && i < 20 && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z') ||
                               (p[i] >= 'a' && p[i] <= 'z'))) {
        upper_or_digit |= (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z');
        i++;
    }
    if (i < 5 || i + 2 > n || p[i] != ':' || p[i + 1] != ' ' || !upper_or_digit)
        return 0;
    return i;
}

/* ", sasl_username=USER" anywhere in the line; "(unavailable)" means none. */
static void sasl_username(const char *p, size_t n, struct event *ev)
{
    const char *u = find(p, n, "sasl_username=");
    if (!u)
        return;
    u += 14;
    size_t len = 0;
    while (u + len < p + n && u[len] != ',' && u[len] != ' ')
        len++;
    if (len == 0 || (len == 13 && !memcmp(u, "(unavailable)", 13)))
        return;
    ev->user = u;
    ev->user_len = len;
}

static enum event_type reject(const char *p, size_t n, struct event *ev)
{
    /* reject: RCPT from NAME[IP]: 550 5.1.1 <x>: Recipient address rejected: User unknown ... */
    const char *from = find(p, n, " from ");
    const char *close = from ? memchr(from, ']', (size_t)(p + n - from)) : NULL;   /* IPv6 has colons */
    const char *colon = close ? memchr(close, ':', (size_t)(p + n - close)) : NULL;
    if (!from || parse_bracket_ip(from, (size_t)(p + n - from), &ev->ip) < 0)
        return EV_NONE;
    ev->has_ip = 1;
    ev->n1 = colon && colon + 2 < p + n ? number(colon + 2, (size_t)(p + n - colon - 2), NULL) : 0;
    sasl_username(p, n, ev);
    if (!STARTS(p, n, "reject: RCPT "))
        return EV_MAIL_REJECT;
    if (find(p, n, "User unknown") || find(p, n, "unverified address"))
        return EV_RCPT_UNKNOWN;
    return EV_RCPT_REJECT;
}

static enum event_type smtpd_after_qid(const char *p, size_t n, struct event *ev)
{
    if (STARTS(p, n, "client=")) {
        if (parse_bracket_ip(p, n, &ev->ip) < 0)
            return EV_NONE;
        ev->has_ip = 1;
        sasl_username(p, n, ev);
        return EV_CLIENT;
    }
    if (STARTS(p, n, "reject: ") || STARTS(p, n, "reject_warning: "))
        return STARTS(p, n, "reject: ") ? reject(p, n, ev) : EV_NONE;
    if (STARTS(p, n, "lost connection after ") && parse_bracket_ip(p, n, &ev->ip) == 0) {
        ev->has_ip = 1;     /* Postfix 3.9+: "NOQUEUE: lost connection after ..." */
        return EV_LOST;
    }
    return EV_NONE;
}

static enum event_type smtpd(const char *p, size_t n, struct event *ev)
{
    if (STARTS(p, n, "connect from ") || STARTS(p, n, "disconnect from ") ||
        STARTS(p, n, "lost connection after ") || STARTS(p, n, "too many errors after ")) {
        if (parse_bracket_ip(p, n, &ev->ip) < 0)
            return EV_NONE;
        ev->has_ip = 1;
        if (p[0] == 'c')
            return EV_CONNECT;
        if (p[0] == 'l')
            return EV_LOST;
        if (p[0] == 't')
            return EV_TOO_MANY_ERRORS;
        const char *r = find(p, n, " rcpt=");
        if (r) {
            size_t used, rest = (size_t)(p + n - r - 6);
            ev->n1 = ev->n2 = number(r + 6, rest, &used);
            if (used < rest && r[6 + used] == '/')
                ev->n2 = number(r + 7 + used, rest - used - 1, NULL);
        }
        return EV_DISCONNECT;
    }
    if (STARTS(p, n, "warning: ")) {
        const char *sasl = find(p, n, ": SASL ");
        if (!sasl || !find(sasl, (size_t)(p + n - sasl), " authentication failed"))
            return EV_NONE;
        if (parse_bracket_ip(p + 9, (size_t)(sasl - p - 9), &ev->ip) < 0)
            return EV_NONE;
        ev->has_ip = 1;
        ev->n1 = 1;
        sasl_username(p, n, ev);
        return find(sasl, (size_t)(p + n - sasl), "Connection lost to authentication server") ? EV_AUTH_ERROR
                                                                                            : EV_AUTH_FAIL;
    }
    if (STARTS(p, n, "NOQUEUE: "))
        return smtpd_after_qid(p + 9, n - 9, ev);
    size_t q = queue_id(p, n);
    if (!q)
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    return smtpd_after_qid(p + q + 2, n - q - 2, ev);
}

static enum event_type qmgr(const char *p, size_t n, struct event *ev)
{
    size_t q = queue_id(p, n);
    if (!q)
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    p += q + 2;
    n -= q + 2;
    if (n == 7 && !memcmp(p, "removed", 7))
        return EV_REMOVED;
    if (!STARTS(p, n, "from=<"))
        return EV_NONE;
    const char *end = memchr(p + 6, '>', n - 6);
    if (!end || (size_t)(p + n - end) < 8 || memcmp(end, ">, size=", 8) != 0)
        return EV_NONE;     /* "from=<x>, status=expired" and other non-queueing lines */
    ev->sender = p + 6;
    ev->sender_len = (size_t)(end - p - 6);
    const char *nr = find(end, (size_t)(p + n - end), ", nrcpt=");
    ev->n1 = nr ? number(nr + 8, (size_t)(p + n - nr - 8), NULL) : 0;
    return EV_QUEUED;
}

static enum event_type bounce(const char *p, size_t n, struct event *ev)
{
    size_t q = queue_id(p, n);
    if (!q)
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    if (!find(p + q, n - q, "sender non-delivery notification: "))
        return EV_NONE;
    return EV_NDR_SENT;
}

static enum event_type delivery(const char *p, size_t n, struct event *ev)
{
    size_t q = queue_id(p, n);
    if (!q || !find(p + q, n - q, " status=bounced"))
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    return EV_BOUNCED;
}

static enum event_type postscreen(const char *p, size_t n, struct event *ev)
{
    static const struct { const char *prefix; enum event_type type; } forms[] = {
        { "CONNECT from ", EV_PS_CONNECT }, { "PASS NEW ", EV_PS_PASS }, { "PASS OLD ", EV_PS_PASS },
        { "PREGREET ", EV_PS_PREGREET }, { "HANGUP ", EV_PS_HANGUP }, { "DNSBL rank ", EV_PS_DNSBL },
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        size_t len = strlen(forms[i].prefix);
        if (n < len || memcmp(p, forms[i].prefix, len))
            continue;
        if (parse_bracket_ip(p, n, &ev->ip) < 0)
            return EV_NONE;
        ev->has_ip = 1;
        if (forms[i].type == EV_PS_DNSBL)
            ev->n1 = number(p + len, n - len, NULL);
        return forms[i].type;
    }
    return EV_NONE;
}

enum event_type parse_postfix(const char *svc, size_t svc_len, const char *msg, size_t len, struct event *ev)
{
    static const struct {
        const char *name;
        enum event_type (*parse)(const char *, size_t, struct event *);
    } daemons[] = {
        { "smtpd", smtpd }, { "qmgr", qmgr }, { "bounce", bounce }, { "postscreen", postscreen },
        { "local", delivery }, { "virtual", delivery }, { "smtp", delivery }, { "lmtp", delivery },
        { "error", delivery }, { "pipe", delivery }, { "discard", delivery },
    };
    for (size_t i = 0; i < sizeof daemons / sizeof *daemons; i++)
        if (strlen(daemons[i].name) == svc_len && !memcmp(daemons[i].name, svc, svc_len))
            return daemons[i].parse(msg, len, ev);
    return EV_NONE;
}
