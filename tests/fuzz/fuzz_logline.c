/* fuzz_logline.c - libFuzzer target for everything a log line goes through: the syslog envelope,
 * the Postfix and Dovecot parsers, and the feeder's joins, counters and rules on a real store.
 * Input: one or more lines separated by newlines.
 *
 * It also asserts that no client-controlled field moves another: the input's first line (control
 * characters made '?', as Postfix and Dovecot log them) is put into each field a client controls in
 * each known line form, and the parsed event must keep the form's type and client address; abort()
 * otherwise. tests/unit/test_feeder_hostile.c checks the same with chosen values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "event.h"
#include "feeder.h"
#include "logline.h"

static struct feeder f;
static int ready;

#define PFX "2026-11-22T15:04:35.796819+00:00 mx1 "

enum field { RAW, ADDR, HOST };     /* as in test_feeder_hostile.c */

static const struct {
    const char *line;   /* "@@" is the field */
    enum field field;
    enum event_type type;
    const char *ip;     /* NULL: no client address */
} forms[] = {
    { PFX "postfix/smtpd[1]: connect from @@[192.0.2.1]", HOST, EV_CONNECT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: disconnect from @@[2001:db8::1] ehlo=1 rcpt=0/3 commands=3/6", HOST, EV_DISCONNECT,
      "2001:db8::1" },
    { PFX "postfix/smtpd[1]: lost connection after AUTH from @@[192.0.2.1]", HOST, EV_LOST, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: too many errors after RCPT from @@[192.0.2.1]", HOST, EV_TOO_MANY_ERRORS, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from @@[192.0.2.1]: 554 5.7.1 <x@e.example>: Relay access denied; "
      "from=<a@b.example> to=<x@e.example> proto=ESMTP helo=<h>", HOST, EV_RCPT_REJECT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <@@>: Relay access denied; "
      "from=<a@b.example> to=<@@> proto=ESMTP helo=<h>", ADDR, EV_RCPT_REJECT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@e.example>: Relay access "
      "denied; from=<@@> to=<x@e.example> proto=ESMTP helo=<h>", ADDR, EV_RCPT_REJECT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@e.example>: Relay access "
      "denied; from=<a@b.example> to=<x@e.example> proto=ESMTP helo=<@@>", RAW, EV_RCPT_REJECT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 504 5.5.2 <@@>: Helo command rejected: "
      "need fully-qualified hostname; from=<a@b.example> to=<x@e.example> proto=ESMTP helo=<@@>", RAW, EV_RCPT_REJECT,
      "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.1.1 <@@>: Recipient address rejected: "
      "User unknown in local recipient table; from=<> to=<@@> proto=ESMTP helo=<h>", ADDR, EV_RCPT_UNKNOWN, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.5]: 554 5.7.1 <x@e.example>: Relay access "
      "denied; from=<u@e.example> to=<x@e.example> proto=ESMTP helo=<h>, sasl_method=PLAIN, sasl_username=@@", RAW,
      EV_RCPT_REJECT, "192.0.2.5" },
    { PFX "postfix/smtpd[1]: C898910C502: client=@@[192.0.2.1]", HOST, EV_CLIENT, "192.0.2.1" },
    { PFX "postfix/smtpd[1]: C898910C502: client=unknown[192.0.2.6], sasl_method=PLAIN, sasl_username=@@", RAW,
      EV_CLIENT, "192.0.2.6" },
    { PFX "postfix/smtpd[1]: warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: (reason unavailable), "
      "sasl_username=@@", RAW, EV_AUTH_FAIL, "192.0.2.2" },
    { PFX "postfix/smtpd[1]: warning: @@[192.0.2.2]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", HOST, EV_AUTH_FAIL,
      "192.0.2.2" },
    { PFX "postfix/qmgr[1]: C898910C502: from=<@@>, size=204, nrcpt=3 (queue active)", ADDR, EV_QUEUED, NULL },
    { PFX "postfix/local[1]: 05E6110C502: to=<@@>, orig_to=<@@>, relay=local, delay=0.03, delays=0/0/0/0.02, "
      "dsn=5.3.0, status=bounced (Command died with status 1)", ADDR, EV_BOUNCED, NULL },
    { PFX "postfix/smtp[1]: C898910C502: to=<@@>, relay=mx.example.org[192.0.2.30]:25, delay=1, delays=0/0/0/1, "
      "dsn=2.0.0, status=sent (250 2.0.0 Ok: @@)", ADDR, EV_NONE, NULL },
    { PFX "postfix/postscreen[1]: PREGREET 10 after 0 from [192.0.2.9]:39655: @@", RAW, EV_PS_PREGREET, "192.0.2.9" },
    { PFX "dovecot: imap-login: Login: user=<@@>, method=PLAIN, rip=192.0.2.1, lip=127.0.0.1, mpid=1, "
      "session=<SVWqy95g5dR/AVIC>", RAW, EV_LOGIN, "192.0.2.1" },
    { PFX "dovecot: imap-login: Disconnected: Connection closed (auth failed, 3 attempts in 2 secs): user=<@@>, "
      "method=PLAIN, rip=192.0.2.2, lip=127.0.0.1, TLS, session=<6nKzy95gvcF/AVEB>", RAW, EV_AUTH_FAIL, "192.0.2.2" },
    { PFX "dovecot: imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 6 secs) (auth_failed): "
      "user=<@@>, method=PLAIN, rip=2001:db8::7, lip=2001:db8::1, session=<x>", RAW, EV_AUTH_FAIL, "2001:db8::7" },
    { PFX "dovecot: imap-login: Disconnected: Connection closed (no auth attempts in 0 secs): user=<@@>, "
      "rip=192.0.2.9, lip=192.0.2.1, session=<q>", RAW, EV_NONE, NULL },
};

/* v as the field holds it: a local part quoted the way Postfix quotes it (at example.org), a host
 * name without the space or comma that Postfix would never log (0: no such name), or as it is. */
static size_t render(enum field kind, const char *v, size_t n, char *out, size_t cap)
{
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";
    size_t o = 0;
    if (kind == HOST && (memchr(v, ' ', n) || memchr(v, ',', n)))
        return 0;
    if (kind != ADDR) {
        memcpy(out, v, n);
        return n;
    }
    int quote = n == 0;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
              (v[i] && strchr(atext, v[i]))))
            quote = 1;
    if (quote)
        out[o++] = '"';
    for (size_t i = 0; i < n && o + 16 < cap; i++) {
        if (quote && (v[i] == '"' || v[i] == '\\'))
            out[o++] = '\\';
        out[o++] = v[i];
    }
    if (quote)
        out[o++] = '"';
    memcpy(out + o, "@example.org", 12);
    return o + 12;
}

static void check_form(size_t i, const char *v, size_t n)
{
    char field[600], line[2048];
    size_t flen = render(forms[i].field, v, n, field, sizeof field), o = 0;
    if ((flen == 0 && forms[i].field == HOST) || (n == 0 && forms[i].type == EV_LOGIN))
        return;     /* no such host name; an empty username is no login */
    for (const char *s = forms[i].line; *s; s++) {
        if (s[0] == '@' && s[1] == '@') {
            memcpy(line + o, field, flen);
            o += flen;
            s++;
        } else {
            line[o++] = *s;
        }
    }
    struct logline l;
    struct logtime lt;
    struct event ev;
    struct ipaddr want;
    logtime_init(&lt, 0);
    char *exact = malloc(o);    /* an exact-size copy, so that overreads show */
    memcpy(exact, line, o);
    if (logline_parse(exact, o, &l, &lt) < 0)
        abort();
    enum event_type t = parse_event(&l, &ev);
    int bad = t != forms[i].type;
    if (!bad && forms[i].ip && t != EV_NONE) {
        if (addr_parse(forms[i].ip, &want) < 0)
            abort();
        bad = !ev.has_ip || ev.ip.family != want.family ||
              memcmp(ev.ip.bytes, want.bytes, (size_t)addr_len(want.family)) != 0;
    }
    free(exact);
    if (bad) {
        fprintf(stderr, "a field moved another: %.*s\n  type %s, want %s %s\n", (int)o, line, event_type_name(t),
                event_type_name(forms[i].type), forms[i].ip ? forms[i].ip : "");
        abort();
    }
}

/* The first line of the input, at most 200 bytes, control characters as '?', in every form. */
static void check_fields(const uint8_t *data, size_t size)
{
    char v[200];
    size_t n = 0;
    while (n < size && n < sizeof v && data[n] != '\n') {
        v[n] = data[n] < 0x20 || data[n] == 0x7f ? '?' : (char)data[n];
        n++;
    }
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
        check_form(i, v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    if (!ready) {
        char dir[] = "/tmp/fuzz-logline.XXXXXX";
        const char *zones = getenv("DNSBL_ZONES") ? getenv("DNSBL_ZONES") : "zones";
        if (!mkdtemp(dir) || feeder_open(&f, dir, zones, NULL, 0, err, sizeof err) < 0) {
            fprintf(stderr, "fuzz setup: %s\n", err);
            abort();
        }
        ready = 1;
    }
    check_fields(data, size);
    /* every line alone through the parsers, from an exact-size copy so that overreads show */
    const uint8_t *p = data, *end = data + size;
    while (p <= end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        char *line = malloc(len ? len : 1);
        memcpy(line, p, len);
        struct logline l;
        struct event ev;
        if (logline_parse(line, len, &l, &f.logtime) == 0)
            parse_event(&l, &ev);
        feed_line(&f, line, len);
        free(line);
        if (!nl)
            break;
        p = nl + 1;
    }
    if (f.stats.lines % 4096 == 0 && feeder_commit(&f, NULL, NULL) < 0)
        abort();
    return 0;
}
