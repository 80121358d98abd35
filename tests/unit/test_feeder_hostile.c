/* test_feeder_hostile.c - every field a client controls, in every line form the parsers know, set to
 * the syntax of the other fields: the event must keep its type, client address and account.
 *
 * A client controls its Dovecot or SASL username, its HELO name, its envelope sender and recipients
 * (Postfix logs them with the local part quoted when it holds specials), the text a remote server
 * answers, and through DNS its host name (Postfix logs only names that pass valid_hostname(), so a
 * name never holds a space or a comma). The forms are the corpus lines of test_feeder_parse.c with
 * "@@" where the field goes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "event.h"
#include "logline.h"

#define PFX "2026-11-22T15:04:35.796819+00:00 mx1 "

enum field {
    RAW,    /* written as it is: usernames, HELO names, remote replies, pregreet text */
    ADDR,   /* a local part, quoted the way Postfix quotes it, at example.org */
    HOST,   /* a client host name */
};

enum want_user { NO_USER, FIELD_USER, FIXED_USER };

struct form {
    const char *line;
    enum field field;
    enum event_type type;
    const char *ip;             /* NULL: the event has no client address */
    enum want_user user;
    const char *fixed_user;
    int sender_is_field;        /* EV_QUEUED: the sender is the field */
};

static const struct form forms[] = {
    /* smtpd sessions */
    { PFX "postfix/smtpd[1]: connect from @@[192.0.2.1]", HOST, EV_CONNECT, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: connect from @@[2001:db8::1]", HOST, EV_CONNECT, "2001:db8::1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: disconnect from @@[192.0.2.1] ehlo=1 mail=1 rcpt=0/3 quit=1 commands=3/6", HOST,
      EV_DISCONNECT, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: lost connection after AUTH from @@[192.0.2.1]", HOST, EV_LOST, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: NOQUEUE: lost connection after DATA from @@[192.0.2.1]", HOST, EV_LOST, "192.0.2.1",
      NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: too many errors after RCPT from @@[192.0.2.1]", HOST, EV_TOO_MANY_ERRORS, "192.0.2.1",
      NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: timeout after RCPT from @@[192.0.2.1]", HOST, EV_SMTP_TIMEOUT, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: improper command pipelining after CONNECT from @@[192.0.2.1]: EHLO x\\r\\n", HOST,
      EV_PIPELINING, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: improper command pipelining after CONNECT from unknown[192.0.2.1]: @@", RAW, EV_PIPELINING,
      "192.0.2.1", NO_USER, NULL, 0 },
    /* smtpd rejects: the recipient, sender, HELO and host name */
#define UNKNOWN(rcpt, from, helo) \
    PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <" rcpt ">: Recipient address " \
    "rejected: User unknown in local recipient table; from=<" from "> to=<" rcpt "> proto=ESMTP helo=<" helo ">"
    { UNKNOWN("@@", "a@b.example", "client.example.net"), ADDR, EV_RCPT_UNKNOWN, "192.0.2.1", NO_USER, NULL, 0 },
    { UNKNOWN("n@example.jp", "@@", "client.example.net"), ADDR, EV_RCPT_UNKNOWN, "192.0.2.1", NO_USER, NULL, 0 },
    { UNKNOWN("n@example.jp", "a@b.example", "@@"), RAW, EV_RCPT_UNKNOWN, "192.0.2.1", NO_USER, NULL, 0 },
#define RELAY(host, rcpt, from, helo) \
    PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from " host "[192.0.2.1]: 554 5.7.1 <" rcpt ">: Relay access " \
    "denied; from=<" from "> to=<" rcpt "> proto=ESMTP helo=<" helo ">"
    { RELAY("unknown", "@@", "a@b.example", "h"), ADDR, EV_RCPT_REJECT, "192.0.2.1", NO_USER, NULL, 0 },
    { RELAY("unknown", "x@elsewhere.example", "@@", "h"), ADDR, EV_RCPT_REJECT, "192.0.2.1", NO_USER, NULL, 0 },
    { RELAY("unknown", "x@elsewhere.example", "a@b.example", "@@"), RAW, EV_RCPT_REJECT, "192.0.2.1", NO_USER, NULL, 0 },
    { RELAY("@@", "x@elsewhere.example", "a@b.example", "h"), HOST, EV_RCPT_REJECT, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: C898910C502: reject: RCPT from unknown[2001:db8::1]: 550 5.1.1 <@@>: Recipient address "
      "rejected: User unknown in local recipient table; from=<> to=<@@> proto=ESMTP helo=<h>", ADDR, EV_RCPT_UNKNOWN,
      "2001:db8::1", NO_USER, NULL, 0 },
    /* reject_unverified_recipient: the recipient inside the remote server's reply, and Dovecot's text */
#define UNDELIVERABLE(rcpt, said) \
    PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <" rcpt ">: Recipient address " \
    "rejected: undeliverable address: host 127.0.0.1[private/dovecot-lmtp] said: 550 5.1.1 <" said "> User doesn't " \
    "exist: " said " (in reply to RCPT TO command); from=<a@b.example> to=<" rcpt "> proto=ESMTP helo=<h>"
    { UNDELIVERABLE("@@", "n@example.jp"), ADDR, EV_RCPT_UNKNOWN, "192.0.2.1", NO_USER, NULL, 0 },
    { UNDELIVERABLE("n@example.jp", "@@"), RAW, EV_RCPT_UNKNOWN, "192.0.2.1", NO_USER, NULL, 0 },
    /* rejected at RCPT for the HELO name (which Postfix does not quote) or the sender */
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 504 5.5.2 <@@>: Helo command rejected: "
      "need fully-qualified hostname; from=<a@b.example> to=<n@example.jp> proto=ESMTP helo=<@@>", RAW, EV_RCPT_REJECT,
      "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 450 4.1.8 <@@>: Sender address rejected: "
      "Domain not found; from=<@@> to=<n@example.jp> proto=ESMTP helo=<h>", ADDR, EV_RCPT_REJECT, "192.0.2.1", NO_USER,
      NULL, 0 },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: MAIL from unknown[192.0.2.3]: 553 5.7.1 <@@>: Sender address rejected: "
      "not logged in; from=<@@> proto=ESMTP helo=<h>", ADDR, EV_MAIL_REJECT, "192.0.2.3", NO_USER, NULL, 0 },
    /* Postfix 3.9+: SASL fields after the HELO name */
    { PFX "postfix/submission/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.5]: 554 5.7.1 <x@elsewhere.example>: "
      "Relay access denied; from=<u@example.jp> to=<x@elsewhere.example> proto=ESMTP helo=<@@>, sasl_method=PLAIN, "
      "sasl_username=u", RAW, EV_RCPT_REJECT, "192.0.2.5", FIXED_USER, "u", 0 },
    { PFX "postfix/submission/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.5]: 554 5.7.1 <x@elsewhere.example>: "
      "Relay access denied; from=<u@example.jp> to=<x@elsewhere.example> proto=ESMTP helo=<h>, sasl_method=PLAIN, "
      "sasl_username=@@", RAW, EV_RCPT_REJECT, "192.0.2.5", FIELD_USER, NULL, 0 },
    /* smtpd client= */
    { PFX "postfix/smtpd[1]: C898910C502: client=@@[192.0.2.1]", HOST, EV_CLIENT, "192.0.2.1", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: 74B9510C502: client=unknown[192.0.2.6], sasl_method=PLAIN, sasl_username=@@", RAW, EV_CLIENT,
      "192.0.2.6", FIELD_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: 4VtQRb0Bkhz1xyz: client=@@[192.0.2.44], sasl_method=LOGIN, sasl_username=erin@example.jp, "
      "sasl_sender=erin@example.jp", HOST, EV_CLIENT, "192.0.2.44", FIXED_USER, "erin@example.jp", 0 },
    { PFX "postfix/smtpd[1]: 4VtQRb0Bkhz1xyz: client=mail.example.org[192.0.2.44], sasl_method=LOGIN, "
      "sasl_username=@@, sasl_sender=erin@example.jp", RAW, EV_CLIENT, "192.0.2.44", FIELD_USER, NULL, 0 },
    /* smtpd SASL failures */
    { PFX "postfix/smtpd[1]: warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: (reason unavailable), "
      "sasl_username=@@", RAW, EV_AUTH_FAIL, "192.0.2.2", FIELD_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: warning: @@[192.0.2.2]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", HOST, EV_AUTH_FAIL,
      "192.0.2.2", NO_USER, NULL, 0 },
    { PFX "postfix/smtpd[1]: warning: unknown[192.0.2.2]: SASL PLAIN authentication failed: Connection lost to "
      "authentication server, sasl_username=@@", RAW, EV_AUTH_ERROR, "192.0.2.2", FIELD_USER, NULL, 0 },
    /* qmgr and delivery agents */
    { PFX "postfix/qmgr[1]: C898910C502: from=<@@>, size=204, nrcpt=3 (queue active)", ADDR, EV_QUEUED, NULL, NO_USER,
      NULL, 1 },
    { PFX "postfix/local[1]: 05E6110C502: to=<@@>, orig_to=<gone0@bounce.example.jp>, relay=local, delay=0.03, "
      "delays=0/0/0/0.02, dsn=5.3.0, status=bounced (Command died with status 1: \"/bin/false\")", ADDR, EV_BOUNCED, NULL,
      NO_USER, NULL, 0 },
    { PFX "postfix/local[1]: 05E6110C502: to=<gone@example.jp>, orig_to=<@@>, relay=local, delay=0.03, "
      "delays=0/0/0/0.02, dsn=5.3.0, status=bounced (Command died with status 1: \"/bin/false\")", ADDR, EV_BOUNCED, NULL,
      NO_USER, NULL, 0 },
    { PFX "postfix/local[1]: C898910C502: to=<@@>, relay=local, delay=0.02, delays=0.01/0.01/0/0, dsn=2.0.0, "
      "status=sent (delivered to mailbox)", ADDR, EV_NONE, NULL, NO_USER, NULL, 0 },
    { PFX "postfix/smtp[1]: C898910C502: to=<x@example.org>, relay=mx.example.org[192.0.2.30]:25, delay=1, "
      "delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: @@)", RAW, EV_NONE, NULL, NO_USER, NULL, 0 },
    /* postscreen: the pregreet text is the client's */
    { PFX "postfix/postscreen[1]: PREGREET 10 after 0 from [192.0.2.9]:39655: @@", RAW, EV_PS_PREGREET, "192.0.2.9",
      NO_USER, NULL, 0 },
    { PFX "postfix/postscreen[1]: COMMAND PIPELINING from [192.0.2.9]:40000 after EHLO: @@", RAW, EV_PS_PIPELINING,
      "192.0.2.9", NO_USER, NULL, 0 },
    { PFX "postfix/postscreen[1]: NON-SMTP COMMAND from [192.0.2.9]:40000 @@", RAW, EV_PS_NON_SMTP, "192.0.2.9",
      NO_USER, NULL, 0 },
    /* Dovecot: the username */
    { PFX "dovecot: imap-login: Login: user=<@@>, method=PLAIN, rip=192.0.2.1, lip=127.0.0.1, mpid=13604, "
      "session=<SVWqy95g5dR/AVIC>", RAW, EV_LOGIN, "192.0.2.1", FIELD_USER, NULL, 0 },
    { PFX "dovecot: imap-login: Disconnected: Connection closed (auth failed, 3 attempts in 2 secs): user=<@@>, "
      "method=PLAIN, rip=192.0.2.2, lip=127.0.0.1, session=<6nKzy95gvcF/AVEB>", RAW, EV_AUTH_FAIL, "192.0.2.2",
      FIELD_USER, NULL, 0 },
    { PFX "dovecot: pop3-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<@@>, "
      "method=PLAIN, rip=192.0.2.3, lip=127.0.0.1, TLS, session=<6nKzy95gvcF/AVEB>", RAW, EV_AUTH_FAIL, "192.0.2.3",
      FIELD_USER, NULL, 0 },
    { PFX "dovecot: imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 6 secs) (auth_failed): "
      "user=<@@>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, session=<x>", RAW, EV_AUTH_FAIL, "192.0.2.7", FIELD_USER,
      NULL, 0 },
    { PFX "dovecot: imap-login: Logged in: user=<@@>, method=PLAIN, rip=192.0.2.8, lip=192.0.2.1, mpid=1, TLS, "
      "session=<y>", RAW, EV_LOGIN, "192.0.2.8", FIELD_USER, NULL, 0 },
    { PFX "dovecot: imap-login: Aborted login (auth failed, 2 attempts in 4 secs): user=<@@>, method=PLAIN, "
      "rip=2001:db8::7, lip=2001:db8::1, session=<z>", RAW, EV_AUTH_FAIL, "2001:db8::7", FIELD_USER, NULL, 0 },
    { PFX "dovecot: imap-login: Disconnected: Connection closed (no auth attempts in 0 secs): user=<@@>, "
      "rip=192.0.2.9, lip=192.0.2.1, session=<q>", RAW, EV_NONE, NULL, NO_USER, NULL, 0 },
};

/* Each field set to the syntax of the others, and to the separators between them. */
static const char *const values[] = {
    "rip=8.8.8.8", "x,rip=9.9.9.9>", "x, rip=9.9.9.9", "a>, rip=8.8.8.8, lip=1.1.1.1, session=<x",
    "x>, method=PLAIN, rip=8.8.8.8, lip=8.8.4.4, mpid=1, session=<y", "user=<evil>", "client=x[9.9.9.9]",
    "from=<a@b>", "\"x>y\"@spam.example", "[9.9.9.9]", "x[9.9.9.9]", "[ipv6:2001:db8::9]", "sasl_username=evil",
    "x, sasl_username=evil", ", lip=", ">,", ">, ", ": ", "<", ">", "\"", "\\", "[", "]", "]:", "a b", "alice",
    "unknown[8.8.8.8]: SASL LOGIN authentication failed", "(auth failed, 9 attempts in 1 secs)",
    "Login: user=<a>", "User unknown in local recipient table", "unverified address",
    "Recipient address rejected: undeliverable address: x", "User doesn't exist",
    ">: Recipient address rejected: undeliverable address: host x said: 550 5.1.1 <y> User doesn't exist",
    ">: Recipient address rejected: User unknown in local recipient table;",
    "\"a\"b>: Recipient address rejected: User unknown in local recipient table; from=<> helo=<a",
    "; from=<a@b> to=<c@d> proto=ESMTP helo=<x>", " status=bounced", ", status=bounced (x)",
    ">, size=1, nrcpt=99 (queue active)", "Connection lost to authentication server", " from unknown[9.9.9.9]",
};

/* The local part as Postfix writes it (quote_822_local): quoted when it is not a plain atom. */
static void quote_local(const char *v, char *out, size_t cap)
{
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";
    int quote = *v == '\0';
    for (const char *c = v; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr(atext, *c)))
            quote = 1;
    size_t o = 0;
    if (quote)
        out[o++] = '"';
    for (const char *c = v; *c && o + 4 < cap; c++) {
        if (quote && (*c == '"' || *c == '\\'))
            out[o++] = '\\';
        out[o++] = *c;
    }
    if (quote)
        out[o++] = '"';
    snprintf(out + o, cap - o, "@example.org");
}

/* The form's line with every "@@" replaced by text. */
static size_t build(const char *form, const char *text, char *out, size_t cap)
{
    size_t o = 0, tlen = strlen(text);
    for (const char *s = form; *s; s++) {
        if (s[0] == '@' && s[1] == '@') {
            cr_assert_lt(o + tlen, cap);
            memcpy(out + o, text, tlen);
            o += tlen;
            s++;
        } else {
            cr_assert_lt(o + 1, cap);
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return o;
}

/* Whether the address, account or sender of ev differ from what the form wants. */
static int fields_differ(const struct form *f, const char *text, const struct event *ev)
{
    int bad = 0;
    struct ipaddr want;
    if (f->ip) {
        cr_assert_eq(addr_parse(f->ip, &want), 0);
        bad |= !ev->has_ip || ev->ip.family != want.family ||
               memcmp(ev->ip.bytes, want.bytes, (size_t)addr_len(want.family)) != 0;
    }
    const char *wu = f->user == FIELD_USER ? text : f->user == FIXED_USER ? f->fixed_user : NULL;
    if (wu)
        bad |= !ev->user || ev->user_len != strlen(wu) || memcmp(ev->user, wu, ev->user_len) != 0;
    else
        bad |= ev->user != NULL;
    if (f->sender_is_field)
        bad |= ev->sender_len != strlen(text) || memcmp(ev->sender, text, ev->sender_len) != 0;
    return bad;
}

/* 0 if ev is what the form wants with the field set to text, else 1 (and says why). */
static int check(const struct form *f, const char *text, const char *line, const struct event *ev)
{
    char got[64] = "-";
    if (ev->has_ip)
        addr_format(&ev->ip, got, sizeof got);
    /* a line that is no event has no address or account to keep */
    int bad = ev->type != f->type || (f->type != EV_NONE && fields_differ(f, text, ev));
    const char *wu = f->user == FIELD_USER ? text : f->user == FIXED_USER ? f->fixed_user : NULL;
    if (bad)
        cr_log_error("%s\n  got %s %s user \"%.*s\", want %s %s user \"%s\"", line, event_type_name(ev->type), got,
                     ev->user ? (int)ev->user_len : 0, ev->user ? ev->user : "", event_type_name(f->type),
                     f->ip ? f->ip : "-", wu ? wu : "");
    return bad;
}

/* A value the field cannot hold: Postfix logs "unknown" for a host name with a space or comma, and
 * an empty username is no account. */
static int impossible(const struct form *f, const char *v)
{
    if (f->field == HOST)
        return strpbrk(v, " ,") != NULL;
    return f->user == FIELD_USER && *v == '\0';
}

Test(hostile, every_field_as_every_other_field)
{
    char line[2048], text[512];
    int failures = 0, tried = 0;
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        for (size_t j = 0; j < sizeof values / sizeof *values; j++) {
            const struct form *f = &forms[i];
            if (impossible(f, values[j]))
                continue;
            if (f->field == ADDR)
                quote_local(values[j], text, sizeof text);
            else
                snprintf(text, sizeof text, "%s", values[j]);
            size_t len = build(f->line, text, line, sizeof line);
            struct logline l;
            struct logtime lt;
            struct event ev;
            logtime_init(&lt, 0);
            cr_assert_eq(logline_parse(line, len, &l, &lt), 0, "envelope: %s", line);
            parse_event(&l, &ev);
            failures += check(f, text, line, &ev);
            tried++;
        }
    }
    cr_assert_eq(failures, 0, "%d of %d lines parsed differently because of a field's content", failures, tried);
}

/* The issue's cases, one by one. */
Test(hostile, dovecot_username_names_another_address)
{
    static const char *const lines[] = {
        PFX "dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): "
            "user=<rip=8.8.8.8>, method=PLAIN, rip=192.0.2.66, lip=127.0.0.1, session=<V2Cty95gf5d/AVAC>",
        PFX "dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): "
            "user=<x,rip=9.9.9.9>, method=PLAIN, rip=192.0.2.66, lip=127.0.0.1, session=<V2Cty95gf5d/AVAC>",
    };
    for (size_t i = 0; i < 2; i++) {
        struct logline l;
        struct logtime lt;
        struct event ev;
        logtime_init(&lt, 0);
        cr_assert_eq(logline_parse(lines[i], strlen(lines[i]), &l, &lt), 0);
        cr_assert_eq(parse_event(&l, &ev), EV_AUTH_FAIL);
        char got[64];
        cr_assert_str_eq(addr_format(&ev.ip, got, sizeof got), "192.0.2.66");
        cr_assert_eq(ev.user_len, i == 0 ? strlen("rip=8.8.8.8") : strlen("x,rip=9.9.9.9"));
    }
}

Test(hostile, quoted_sender_is_queued)
{
    const char *line = PFX "postfix/qmgr[1]: C898910C502: from=<\"x>y\"@spam.example>, size=204, nrcpt=3 (queue active)";
    struct logline l;
    struct logtime lt;
    struct event ev;
    logtime_init(&lt, 0);
    cr_assert_eq(logline_parse(line, strlen(line), &l, &lt), 0);
    cr_assert_eq(parse_event(&l, &ev), EV_QUEUED);
    cr_assert_eq(ev.sender_len, strlen("\"x>y\"@spam.example"));
    cr_assert_eq(memcmp(ev.sender, "\"x>y\"@spam.example", ev.sender_len), 0);
    cr_assert_eq(ev.n1, 3);
}
