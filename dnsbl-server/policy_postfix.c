/* policy_postfix.c - see policy_postfix.h. */
#include "policy_postfix.h"

#include <stdio.h>
#include <string.h>

static int name_is(const char *p, size_t len, const char *name)
{
    return strlen(name) == len && !memcmp(p, name, len);
}

static int take(struct pf_str *field, const char *value, size_t len)
{
    if (field->p)
        return -1;
    field->p = value;
    field->len = len;
    return 0;
}

enum pf_status pf_parse(const char *buf, size_t len, struct pf_request *rq, size_t *used, const char **why)
{
    memset(rq, 0, sizeof *rq);
    size_t pos = 0;
    if (len > PF_REQUEST_MAX)
        len = PF_REQUEST_MAX;
    while (pos < len) {
        const char *line = buf + pos;
        const char *nl = memchr(line, '\n', len - pos);
        if (!nl)
            break;
        size_t n = (size_t)(nl - line);
        pos += n + 1;
        if (n && line[n - 1] == '\r')
            n--;        /* a hand-typed request (telnet, nc -C) */
        if (n == 0) {
            *used = pos;
            return PF_COMPLETE;
        }
        if (memchr(line, '\0', n)) {
            *why = "NUL byte in the request";
            return PF_MALFORMED;
        }
        const char *eq = memchr(line, '=', n);
        if (!eq || eq == line) {
            *why = eq ? "attribute without a name" : "line without name=value";
            return PF_MALFORMED;
        }
        size_t nlen = (size_t)(eq - line), vlen = n - nlen - 1;
        const char *value = eq + 1;
        struct pf_str *field = NULL;
        if (name_is(line, nlen, "request")) field = &rq->request;
        else if (name_is(line, nlen, "protocol_state")) field = &rq->protocol_state;
        else if (name_is(line, nlen, "client_address")) field = &rq->client_address;
        else if (name_is(line, nlen, "sasl_username")) field = &rq->sasl_username;
        else if (name_is(line, nlen, "sender")) field = &rq->sender;
        if (field && take(field, value, vlen) < 0) {
            *why = "attribute given twice";
            return PF_MALFORMED;
        }
    }
    return PF_INCOMPLETE;
}

int pf_question(const struct pf_request *rq, struct policy_request *q, const char **why)
{
    memset(q, 0, sizeof *q);
    if (!rq->request.p || !name_is(rq->request.p, rq->request.len, "smtpd_access_policy")) {
        *why = "not request=smtpd_access_policy";
        return -1;
    }
    q->service = POLICY_SUBMISSION;
    char addr[64];
    if (rq->client_address.p && rq->client_address.len < sizeof addr) {
        memcpy(addr, rq->client_address.p, rq->client_address.len);
        addr[rq->client_address.len] = '\0';
        if (addr_parse(addr, &q->client) == 0) {
            addr_unmap_v4(&q->client);
            q->have_client = 1;
        }
    }
    q->account = rq->sasl_username.p;
    q->account_len = rq->sasl_username.len;
    q->sender = rq->sender.p;
    q->sender_len = rq->sender.len;
    return 0;
}

/* Appends text as one printable line: the reply must stay one line whatever a reason holds. */
static size_t append_clean(char *out, size_t pos, size_t cap, const char *text)
{
    for (const char *p = text; *p && pos + 1 < cap; p++)
        out[pos++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    out[pos] = '\0';
    return pos;
}

static size_t finish(char *out, size_t pos, size_t cap)
{
    if (pos > cap - 3)
        pos = cap - 3;
    memcpy(out + pos, "\n\n", 3);
    return pos + 2;
}

size_t pf_reply(const struct policy_request *q, const struct policy_verdict *v, char *out, size_t cap)
{
    char line[PF_REPLY_MAX];
    switch (v->why) {
    case POLICY_WHY_NONE:
        snprintf(line, sizeof line, "action=DUNNO");
        break;
    case POLICY_WHY_ACCOUNT:
    case POLICY_WHY_DOMESTIC:
        snprintf(line, sizeof line, "action=%s %s", v->action == POLICY_DEFER ? "DEFER_IF_PERMIT" : "REJECT",
                 v->text);
        break;
    case POLICY_WHY_CLIENT: {
        /* what reject_rbl_client answers: Postfix's default_rbl_reply */
        char addr[64];
        addr_format(&q->client, addr, sizeof addr);
        snprintf(line, sizeof line, "action=%u %d.7.1 Service unavailable; Client host [%s] blocked using %s%s%s",
                 v->smtp_code, v->smtp_code < 500 ? 4 : 5, addr, v->zone->name, v->reason[0] ? "; " : "", v->reason);
        break;
    }
    case POLICY_WHY_SENDER:     /* reject_rhsbl_sender's */
        snprintf(line, sizeof line, "action=%u %d.7.1 Service unavailable; Sender address [%.*s] blocked using %s%s%s",
                 v->smtp_code, v->smtp_code < 500 ? 4 : 5, (int)(q->sender_len < 300 ? q->sender_len : 300),
                 q->sender, v->zone->name, v->reason[0] ? "; " : "", v->reason);
        break;
    }
    return finish(out, append_clean(out, 0, cap, line), cap);
}

size_t pf_reply_error(const char *why, char *out, size_t cap)
{
    char line[PF_REPLY_MAX];
    snprintf(line, sizeof line, "action=DEFER_IF_PERMIT 4.3.5 policy server: %s", why);
    return finish(out, append_clean(out, 0, cap, line), cap);
}
