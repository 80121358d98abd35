/* parse.c - the event dispatcher: a log line to the parser of its daemon (parse_postfix.c,
 * parse_dovecot.c), and the events' names. */
#include <string.h>

#include "event.h"
#include "logline.h"

static const char *const names[EV_TYPES] = {
    "none", "connect", "disconnect", "lost", "too-many-errors", "rcpt-unknown", "rcpt-reject",
    "mail-reject", "client", "auth-fail", "auth-error", "queued", "removed", "ndr-sent", "bounced",
    "ps-connect", "ps-pass", "ps-pregreet", "ps-hangup", "ps-dnsbl", "login", "timeout", "pipelining",
    "ps-disconnect", "ps-pipelining", "ps-non-smtp", "ps-bare-newline", "ps-time-limit", "ps-count-limit",
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
