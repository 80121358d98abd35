/* parse_postfix.c - Postfix 3.x lines (3.7 is the reference; the 3.9-3.11 variants are accepted).
 *
 * Table-driven by daemon: each daemon's message forms are tried in order, each one a fixed prefix
 * followed by fields read at their place in the form. The client controls its HELO name, the
 * addresses, SASL usernames and (through DNS) its host name; these are skipped as units (addresses
 * the way Postfix quotes them, a client address from the last brackets of its token) and never
 * searched for other fields. Every form has a test with a real line from the corpus, and
 * tests/unit/test_feeder_hostile.c puts every client-controlled field to the syntax of the others. */
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

/* The client token that starts at p and ends at the first space or comma: its length, or 0 when
 * it holds no client address (then ev is left without one). */
static size_t client_at(const char *p, size_t n, struct event *ev)
{
    size_t len = 0;
    while (len < n && p[len] != ' ' && p[len] != ',')
        len++;
    if (parse_client_token(p, len, &ev->ip) < 0)
        return 0;
    ev->has_ip = 1;
    return len;
}

/* "... after CMD[ (N bytes)] from NAME[IP]": the client is the line's last token. */
static int last_token_client(const char *p, size_t n, struct event *ev)
{
    const char *sp = memrchr(p, ' ', n);
    if (!sp || sp - p < 5 || memcmp(sp - 5, " from", 5))
        return 0;
    size_t len = (size_t)(p + n - sp - 1);
    return client_at(sp + 1, len, ev) == len;
}

/* "improper command pipelining after CMD from NAME[IP]" and Postfix 3.x's ": TEXT" after it, where TEXT
 * is what the client pipelined: CMD is one word of Postfix's, the client token ends at the first space. */
static enum event_type pipelining(const char *p, size_t n, struct event *ev)
{
    const char *sp = memchr(p, ' ', n);
    if (!sp || !STARTS(sp, (size_t)(p + n - sp), " from "))
        return EV_NONE;
    const char *c = sp + 6, *end = p + n;
    size_t len = client_at(c, (size_t)(end - c), ev);
    if (!len || (c + len < end && !(c[len - 1] == ':' && c[len] == ' ')))
        return ev->has_ip = 0, EV_NONE;
    return EV_PIPELINING;
}

/* USER of "sasl_username=USER" that starts at u and runs to end (the caller cuts off later fields):
 * the whole value, since the name is the client's own; "(unavailable)" means none. */
static void sasl_user(const char *u, const char *end, struct event *ev)
{
    size_t len = (size_t)(end - u);
    if (len == 0 || (len == 13 && !memcmp(u, "(unavailable)", 13)))
        return;
    ev->user = u;
    ev->user_len = len;
}

/* After "client=NAME[IP]": [", sasl_method=M", ", sasl_username=USER"[, ", sasl_sender=S"]]. The
 * method is a mechanism name; the username runs to the sasl_sender field Postfix writes after it. */
static void client_sasl(const char *p, size_t n, struct event *ev)
{
    const char *end = p + n;
    if (STARTS(p, n, ", sasl_method=")) {
        const char *comma = memchr(p + 14, ',', n - 14);
        if (!comma)
            return;
        p = comma;
    }
    if (!STARTS(p, (size_t)(end - p), ", sasl_username="))
        return;
    p += 16;
    const char *sender = parse_find(p, (size_t)(end - p), ", sasl_sender=");
    sasl_user(p, sender ? sender : end, ev);
}

/* The end of the reject text that starts at p: the "; " that opens the from=/to=/proto=/helo= tail
 * Postfix appends (the addresses and HELO in that tail are the client's and are never searched). */
static const char *reject_text_end(const char *p, const char *end)
{
    for (const char *s = p; (s = memchr(s, ';', (size_t)(end - s))) != NULL; s++) {
        size_t left = (size_t)(end - s);
        if (STARTS(s, left, "; from=<") || STARTS(s, left, "; to=<") || STARTS(s, left, "; proto=") ||
            STARTS(s, left, "; helo=<"))
            return s;
    }
    return end;
}

/* The tail "; from=<S> to=<R> proto=P helo=<H>[, sasl_method=M, sasl_username=USER]" read field by
 * field: S and R as Postfix quotes them, H (never quoted) up to the last ">, sasl_method=". */
static void reject_tail(const char *p, const char *end, struct event *ev)
{
    if (STARTS(p, (size_t)(end - p), "; "))
        p += 2;
    static const char *const addrs[] = { "from=<", "to=<" };
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(addrs[i]);
        if ((size_t)(end - p) < len || memcmp(p, addrs[i], len))
            continue;
        p += len;
        p += address_end(p, (size_t)(end - p));
        if (p < end)
            p++;
        if (p < end && *p == ' ')
            p++;
    }
    if (STARTS(p, (size_t)(end - p), "proto=")) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        p = sp ? sp + 1 : end;
    }
    if (!STARTS(p, (size_t)(end - p), "helo=<"))
        return;
    const char *m = NULL;
    for (const char *s = p + 6; (s = parse_find(s, (size_t)(end - s), ">, sasl_method=")) != NULL; s++)
        m = s;
    if (m)
        client_sasl(m + 1, (size_t)(end - m - 1), ev);
}

/* Whether the HELO field "helo=<X>" at h, with X xlen bytes long, is the last field of the line or is
 * followed by the SASL fields (the only fields Postfix writes after it). */
static int helo_field_is(const char *h, const char *end, const char *x, size_t xlen)
{
    if ((size_t)(end - h) < 7 + xlen + 1 || memcmp(h + 7, x, xlen) || h[7 + xlen] != '>')
        return 0;
    const char *after = h + 8 + xlen;
    return after == end || STARTS(after, (size_t)(end - after), ", sasl_method=");
}

/* The length of "<X>" at the start of a reject text (0 if there is none). X is the address or HELO
 * name the restriction rejected: an address is read the way Postfix quotes it; a HELO name is not
 * quoted, so it is the longest X that the line's closing "helo=<X>" field repeats. */
static size_t rejected_item(const char *text, const char *end)
{
    if (text >= end || *text != '<')
        return 0;
    size_t helo = 0;
    if (text + 1 < end) {
        for (const char *gt = text + 1; (gt = memchr(gt, '>', (size_t)(end - gt))) != NULL; gt++) {
            if (!STARTS(gt, (size_t)(end - gt), ">: "))
                continue;
            size_t xlen = (size_t)(gt - text - 1);
            for (const char *h = gt; (h = parse_find(h, (size_t)(end - h), " helo=<")) != NULL; h++)
                if (helo_field_is(h, end, text + 1, xlen))
                    helo = xlen + 2;
        }
    }
    return helo ? helo : 1 + address_end(text + 1, (size_t)(end - text - 1)) + 1;
}

/* reject_unverified_recipient's failures, read at the start of the reason (what follows is the remote
 * server's reply, which quotes the client's recipient): "undeliverable address: ..." (a hard failure,
 * such as Dovecot LMTP's "User doesn't exist") and "unverified address: ..." (a probe still failing). */
static int verify_failed(const char *reason, size_t n)
{
    return STARTS(reason, n, "Recipient address rejected: undeliverable address: ") ||
           STARTS(reason, n, "Recipient address rejected: unverified address: ");
}

static enum event_type reject(const char *p, size_t n, struct event *ev)
{
    /* reject: CMD from NAME[IP]: 550 5.1.1 <RCPT>: Recipient address rejected: REASON; from=<...> ... */
    const char *end = p + n, *cmd = p + 8;
    const char *sp = memchr(cmd, ' ', (size_t)(end - cmd));
    if (!sp || !STARTS(sp, (size_t)(end - sp), " from "))
        return EV_NONE;
    const char *c = sp + 6;
    size_t len = client_at(c, (size_t)(end - c), ev);
    if (!len || c[len - 1] != ':' || c + len >= end || c[len] != ' ')
        return EV_NONE;
    const char *text = c + len + 1;
    size_t used;
    ev->n1 = number(text, (size_t)(end - text), &used);
    /* the reason follows "CODE D.S.N <X>: ", where X is the client's: skip it as one unit */
    const char *reason = text + used;
    if (reason < end && *reason == ' ' && reason + 1 < end && reason[1] >= '2' && reason[1] <= '5') {
        const char *dsn = memchr(reason + 1, ' ', (size_t)(end - reason - 1));
        reason = dsn ? dsn : end;
    }
    if (reason < end && *reason == ' ')
        reason++;
    size_t item = rejected_item(reason, end);
    reason = (size_t)(end - reason) >= item + 2 ? reason + item + 2 : end;
    const char *tail = reject_text_end(reason, end);
    reject_tail(tail, end, ev);
    if ((size_t)(sp - cmd) != 4 || memcmp(cmd, "RCPT", 4))
        return EV_MAIL_REJECT;
    size_t rn = (size_t)(tail - reason);
    if (parse_find(reason, rn, "User unknown") || parse_find(reason, rn, "unverified address") || verify_failed(reason, rn))
        return EV_RCPT_UNKNOWN;
    return EV_RCPT_REJECT;
}

static enum event_type smtpd_after_qid(const char *p, size_t n, struct event *ev)
{
    if (STARTS(p, n, "client=")) {
        size_t len = client_at(p + 7, n - 7, ev);
        if (!len)
            return EV_NONE;
        client_sasl(p + 7 + len, n - 7 - len, ev);
        return EV_CLIENT;
    }
    if (STARTS(p, n, "reject: "))
        return reject(p, n, ev);
    if (STARTS(p, n, "lost connection after "))
        return last_token_client(p, n, ev) ? EV_LOST : EV_NONE;    /* Postfix 3.9+: "NOQUEUE: lost ..." */
    return EV_NONE;
}

/* "warning: NAME[IP]: SASL MECH authentication failed: REASON[, sasl_username=USER]" */
static enum event_type sasl_failure(const char *p, size_t n, struct event *ev)
{
    const char *end = p + n, *c = p + 9;
    size_t len = client_at(c, (size_t)(end - c), ev);
    if (!len || c[len - 1] != ':' || !STARTS(c + len, (size_t)(end - c - len), " SASL ")) {
        ev->has_ip = 0;
        return EV_NONE;
    }
    const char *mech = c + len + 6;
    const char *sp = memchr(mech, ' ', (size_t)(end - mech));
    if (!sp || !STARTS(sp, (size_t)(end - sp), " authentication failed")) {
        ev->has_ip = 0;
        return EV_NONE;
    }
    const char *reason = sp + 22;
    const char *u = parse_find(reason, (size_t)(end - reason), ", sasl_username=");
    const char *reason_end = u ? u : end;
    if (u)
        sasl_user(u + 16, end, ev);
    ev->n1 = 1;
    return parse_find(reason, (size_t)(reason_end - reason), "Connection lost to authentication server") ? EV_AUTH_ERROR
                                                                                                 : EV_AUTH_FAIL;
}

static enum event_type smtpd(const char *p, size_t n, struct event *ev)
{
    if (STARTS(p, n, "connect from "))
        return client_at(p + 13, n - 13, ev) ? EV_CONNECT : EV_NONE;
    if (STARTS(p, n, "disconnect from ")) {
        size_t len = client_at(p + 16, n - 16, ev);
        if (!len)
            return EV_NONE;
        const char *counters = p + 16 + len, *r = parse_find(counters, (size_t)(p + n - counters), " rcpt=");
        if (r) {
            size_t used, rest = (size_t)(p + n - r - 6);
            ev->n1 = ev->n2 = number(r + 6, rest, &used);
            if (used < rest && r[6 + used] == '/')
                ev->n2 = number(r + 7 + used, rest - used - 1, NULL);
        }
        const char *d = parse_find(counters, (size_t)(p + n - counters), " data=");
        if (d)
            ev->data_ok = number(d + 6, (size_t)(p + n - d - 6), NULL);
        return EV_DISCONNECT;
    }
    if (STARTS(p, n, "lost connection after "))
        return last_token_client(p, n, ev) ? EV_LOST : EV_NONE;
    if (STARTS(p, n, "too many errors after "))
        return last_token_client(p, n, ev) ? EV_TOO_MANY_ERRORS : EV_NONE;
    if (STARTS(p, n, "timeout after "))
        return last_token_client(p, n, ev) ? EV_SMTP_TIMEOUT : EV_NONE;
    if (STARTS(p, n, "improper command pipelining after "))
        return pipelining(p + 34, n - 34, ev);
    if (STARTS(p, n, "warning: "))
        return sasl_failure(p, n, ev);
    if (STARTS(p, n, "NOQUEUE: "))
        return smtpd_after_qid(p + 9, n - 9, ev);
    size_t q = queue_id(p, n);
    if (!q)
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    return smtpd_after_qid(p + q + 2, n - q - 2, ev);
}

/* Digits ending just before p (and not before start): where they begin, or NULL if there are none. */
static const char *digits_before(const char *start, const char *p)
{
    const char *d = p;
    while (d > start && d[-1] >= '0' && d[-1] <= '9')
        d--;
    return d < p ? d : NULL;
}

/* "from=<SENDER>, size=N, nrcpt=N (queue active)": read from the end of the line, which is all
 * Postfix's, so that whatever SENDER holds cannot move a field. */
static enum event_type queued(const char *p, size_t n, struct event *ev)
{
    const char *end = p + n;
    const char *paren = memrchr(p, '(', n);
    if (!paren || end[-1] != ')' || !STARTS(paren, (size_t)(end - paren), "(queue ") || paren - p < 6 + 17)
        return EV_NONE;     /* "from=<x>, status=expired, returned to sender" and other non-queueing lines */
    const char *nrcpt = digits_before(p, paren - 1);
    if (paren[-1] != ' ' || !nrcpt || nrcpt - p < 6 + 8 || memcmp(nrcpt - 8, ", nrcpt=", 8))
        return EV_NONE;
    const char *size = digits_before(p, nrcpt - 8);
    if (!size || size - p < 6 + 8 || memcmp(size - 8, ">, size=", 8))
        return EV_NONE;
    ev->sender = p + 6;
    ev->sender_len = (size_t)(size - 8 - ev->sender);
    ev->n1 = number(nrcpt, (size_t)(paren - nrcpt), NULL);
    return EV_QUEUED;
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
    return queued(p, n, ev);
}

static enum event_type bounce(const char *p, size_t n, struct event *ev)
{
    size_t q = queue_id(p, n);
    if (!q || !STARTS(p + q + 2, n - q - 2, "sender non-delivery notification: "))
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    return EV_NDR_SENT;
}

/* "QID: to=<RCPT>, [orig_to=<ORIG>, ]relay=..., dsn=X.Y.Z, status=bounced (REMOTE TEXT)": the
 * addresses are skipped as Postfix quotes them, and the status is the first one after them. */
static enum event_type delivery(const char *p, size_t n, struct event *ev)
{
    size_t q = queue_id(p, n);
    if (!q)
        return EV_NONE;
    const char *s = p + q + 2, *end = p + n;
    static const char *const addrs[] = { "to=<", "orig_to=<" };
    for (size_t i = 0; i < 2; i++) {
        size_t len = strlen(addrs[i]);
        if ((size_t)(end - s) < len || memcmp(s, addrs[i], len)) {
            if (i == 0)
                return EV_NONE;
            continue;
        }
        s += len;
        s += address_end(s, (size_t)(end - s));
        if (!STARTS(s, (size_t)(end - s), ">, "))
            return EV_NONE;
        s += 3;
    }
    const char *status = parse_find(s, (size_t)(end - s), ", status=");
    if (!status || !STARTS(status, (size_t)(end - status), ", status=bounced") ||
        (status + 16 < end && status[16] != ' '))
        return EV_NONE;
    ev->qid = p;
    ev->qid_len = q;
    return EV_BOUNCED;
}

/* The PORT of the first "[IP]:PORT" (postscreen's client, before any text of the client's), 0 if none. */
static uint32_t client_port(const char *p, size_t n)
{
    const char *open = memchr(p, '[', n), *end = p + n;
    const char *close = open ? memchr(open, ']', (size_t)(end - open)) : NULL;
    if (!close || !STARTS(close, (size_t)(end - close), "]:"))
        return 0;
    return number(close + 2, (size_t)(end - close - 2), NULL);
}

/* The whole seconds of "after S[.S]" where postscreen logs how long the connection had lasted:
 * "PREGREET N after S from", "HANGUP after S from". */
static uint32_t seconds_after(const char *p, size_t n, enum event_type type)
{
    if (type == EV_PS_PREGREET) {
        size_t used;
        number(p + 9, n - 9, &used);
        p += 9 + used;
        n -= 9 + used;
        return STARTS(p, n, " after ") ? number(p + 7, n - 7, NULL) : 0;
    }
    return type == EV_PS_HANGUP && STARTS(p, n, "HANGUP after ") ? number(p + 13, n - 13, NULL) : 0;
}

static enum event_type postscreen(const char *p, size_t n, struct event *ev)
{
    static const struct { const char *prefix; enum event_type type; } forms[] = {
        { "CONNECT from ", EV_PS_CONNECT }, { "PASS NEW ", EV_PS_PASS }, { "PASS OLD ", EV_PS_PASS },
        { "PREGREET ", EV_PS_PREGREET }, { "HANGUP ", EV_PS_HANGUP }, { "DNSBL rank ", EV_PS_DNSBL },
        { "DISCONNECT ", EV_PS_DISCONNECT }, { "COMMAND PIPELINING from ", EV_PS_PIPELINING },
        { "NON-SMTP COMMAND from ", EV_PS_NON_SMTP }, { "BARE NEWLINE from ", EV_PS_BARE_NEWLINE },
        { "COMMAND TIME LIMIT from ", EV_PS_TIME_LIMIT }, { "COMMAND COUNT LIMIT from ", EV_PS_COUNT_LIMIT },
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        size_t len = strlen(forms[i].prefix);
        if (n < len || memcmp(p, forms[i].prefix, len))
            continue;
        if (parse_bracket_ip(p, n, &ev->ip) < 0)
            return EV_NONE;
        ev->has_ip = 1;
        if (forms[i].type == EV_PS_DNSBL) {
            ev->n1 = number(p + len, n - len, NULL);
        } else if (forms[i].type != EV_PS_CONNECT && forms[i].type != EV_PS_PASS) {
            ev->n1 = seconds_after(p, n, forms[i].type);
            ev->n2 = client_port(p, n);
        }
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
