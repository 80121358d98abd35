/* test_feeder_parse_depth.c - the line forms issue 9 adds to parse_postfix.c: recipient-verification
 * failures (reject_unverified_recipient) counted as unknown recipients. Real Postfix 3.7 shapes: the
 * corpus reject line with its reason replaced by the text smtpd_check.c writes for a failed probe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "event.h"
#include "logline.h"

#define PFX "2026-11-22T15:04:35.979037+00:00 mx1 postfix/smtpd[13456]: "

static enum event_type parse(const char *line, struct event *ev)
{
    struct logline l;
    struct logtime lt;
    logtime_init(&lt, 0);
    cr_assert_eq(logline_parse(line, strlen(line), &l, &lt), 0, "envelope: %s", line);
    return parse_event(&l, ev);
}

static void assert_ip(const struct event *ev, const char *want)
{
    struct ipaddr a;
    cr_assert_eq(addr_parse(want, &a), 0);
    cr_assert(ev->has_ip && ev->ip.family == a.family && !memcmp(ev->ip.bytes, a.bytes, (size_t)addr_len(a.family)));
}

/* Dovecot LMTP behind reject_unverified_recipient */
Test(parse_verify, undeliverable_dovecot_lmtp)
{
    struct event ev;
    cr_assert_eq(parse(PFX "NOQUEUE: reject: RCPT from unknown[127.1.20.1]: 550 5.1.1 <u28499@example.jp>: "
                       "Recipient address rejected: undeliverable address: host 127.0.0.1[private/dovecot-lmtp] "
                       "said: 550 5.1.1 <u28499@example.jp> User doesn't exist: u28499@example.jp (in reply to "
                       "RCPT TO command); from=<x4766@harvest.example.com> to=<u28499@example.jp> proto=ESMTP "
                       "helo=<client.example.net>", &ev), EV_RCPT_UNKNOWN);
    assert_ip(&ev, "127.1.20.1");
    cr_assert_eq(ev.n1, 550);
}

/* a verification probe to another MTA, after a queue ID, over IPv6 */
Test(parse_verify, undeliverable_remote_after_queue_id)
{
    struct event ev;
    cr_assert_eq(parse(PFX "0216410C512: reject: RCPT from unknown[2001:db8::5]: 550 5.1.1 <n@example.jp>: "
                       "Recipient address rejected: undeliverable address: host mail.example.jp[192.0.2.25] said: "
                       "550 5.1.1 <n@example.jp>: Recipient address rejected: User unknown in local recipient "
                       "table (in reply to RCPT TO command); from=<> to=<n@example.jp> proto=ESMTP helo=<h>", &ev),
                 EV_RCPT_UNKNOWN);
    assert_ip(&ev, "2001:db8::5");
}

/* the probe still pending or failing temporarily: 450 "unverified address" */
Test(parse_verify, unverified_address)
{
    struct event ev;
    cr_assert_eq(parse(PFX "NOQUEUE: reject: RCPT from unknown[127.1.20.2]: 450 4.1.1 <n@example.jp>: "
                       "Recipient address rejected: unverified address: Address verification in progress; "
                       "from=<a@b.example> to=<n@example.jp> proto=ESMTP helo=<h>", &ev), EV_RCPT_UNKNOWN);
    cr_assert_eq(ev.n1, 450);
}

/* the same words in the client's recipient do not make a relay reject an unknown recipient */
Test(parse_verify, words_in_recipient_are_not_the_reason)
{
    struct event ev;
    cr_assert_eq(parse(PFX "NOQUEUE: reject: RCPT from unknown[127.1.20.2]: 554 5.7.1 "
                       "<\"Recipient address rejected: undeliverable address: x\"@elsewhere.example>: Relay access "
                       "denied; from=<a@b.example> to=<\"Recipient address rejected: undeliverable address: x\""
                       "@elsewhere.example> proto=ESMTP helo=<h>", &ev), EV_RCPT_REJECT);
}

/* ---- abnormal sessions: smtpd (Postfix 3.7 smtpd.c texts in the corpus's envelope) ---- */

Test(parse_abnormal, smtpd_timeout)
{
    struct event ev;
    cr_assert_eq(parse(PFX "timeout after RCPT from unknown[127.1.90.3]", &ev), EV_SMTP_TIMEOUT);
    assert_ip(&ev, "127.1.90.3");
    cr_assert_eq(parse(PFX "timeout after DATA (4096 bytes) from mail.example.org[2001:db8::3]", &ev), EV_SMTP_TIMEOUT);
    assert_ip(&ev, "2001:db8::3");
}

Test(parse_abnormal, smtpd_improper_pipelining)
{
    struct event ev;
    cr_assert_eq(parse(PFX "improper command pipelining after CONNECT from unknown[127.1.90.3]: EHLO bot\\r\\n"
                       "MAIL FROM:<a@b.example>\\r\\n", &ev), EV_PIPELINING);
    assert_ip(&ev, "127.1.90.3");
    cr_assert_eq(parse(PFX "improper command pipelining after EHLO from host.example.net[192.0.2.4]", &ev), EV_PIPELINING);
    assert_ip(&ev, "192.0.2.4");
    /* the pipelined text is the client's: an address in it is not the client */
    cr_assert_eq(parse(PFX "improper command pipelining after CONNECT from unknown[127.1.90.3]: QUIT from "
                       "unknown[9.9.9.9]", &ev), EV_PIPELINING);
    assert_ip(&ev, "127.1.90.3");
}

/* the disconnect counters say whether a message was accepted (data=N) */
Test(parse_abnormal, disconnect_data)
{
    struct event ev;
    cr_assert_eq(parse("2026-11-22T15:04:36.065209+00:00 mx1 postfix/smtpd[13478]: disconnect from unknown[127.1.10.4] "
                       "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", &ev), EV_DISCONNECT);
    cr_assert_eq(ev.data_ok, 1);
    cr_assert_eq(parse("2026-11-22T15:04:36.815550+00:00 mx1 postfix/smtpd[13470]: disconnect from unknown[127.1.90.3] "
                       "ehlo=1 unknown=0/20 commands=1/21", &ev), EV_DISCONNECT);
    cr_assert_eq(ev.data_ok, 0);
    cr_assert_eq(parse(PFX "disconnect from unknown[127.1.90.3] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4", &ev),
                 EV_DISCONNECT);
    cr_assert_eq(ev.data_ok, 0);
}

/* ---- postscreen: client port and seconds (corpus lines, and postscreen_smtpd.c's texts) ---- */

#define PS "2026-11-22T15:04:37.010045+00:00 mx1 postfix/postscreen[13453]: "

Test(parse_abnormal, postscreen_port_and_seconds)
{
    struct event ev;
    cr_assert_eq(parse(PS "PREGREET 10 after 0 from [127.1.90.2]:39655: EHLO bot\\r\\n", &ev), EV_PS_PREGREET);
    cr_assert_eq(ev.n2, 39655);
    cr_assert_eq(ev.n1, 0);
    cr_assert_eq(parse(PS "HANGUP after 1.5 from [127.1.90.2]:39655 in tests after SMTP handshake", &ev), EV_PS_HANGUP);
    cr_assert_eq(ev.n2, 39655);
    cr_assert_eq(ev.n1, 1);
    cr_assert_eq(parse(PS "HANGUP after 31 from [2001:db8::9]:40001 in tests before SMTP handshake", &ev), EV_PS_HANGUP);
    assert_ip(&ev, "2001:db8::9");
    cr_assert_eq(ev.n2, 40001);
    cr_assert_eq(ev.n1, 31);
    cr_assert_eq(parse(PS "DISCONNECT [127.1.90.2]:39655", &ev), EV_PS_DISCONNECT);
    cr_assert_eq(ev.n2, 39655);
}

Test(parse_abnormal, postscreen_protocol_tests)
{
    static const struct { const char *text; enum event_type type; } forms[] = {
        { "COMMAND PIPELINING from [192.0.2.7]:40000 after EHLO: MAIL FROM:<a@b.example>\\r\\n", EV_PS_PIPELINING },
        { "NON-SMTP COMMAND from [192.0.2.7]:40000 CONNECT CONNECT www.example.org:443 HTTP/1.1", EV_PS_NON_SMTP },
        { "BARE NEWLINE from [192.0.2.7]:40000", EV_PS_BARE_NEWLINE },
        { "COMMAND TIME LIMIT from [192.0.2.7]:40000", EV_PS_TIME_LIMIT },
        { "COMMAND COUNT LIMIT from [192.0.2.7]:40000", EV_PS_COUNT_LIMIT },
        /* the client's text holds another bracketed address and port */
        { "COMMAND PIPELINING from [192.0.2.7]:40000 after HELO: from [9.9.9.9]:1\\r\\n", EV_PS_PIPELINING },
    };
    char line[300];
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        struct event ev;
        snprintf(line, sizeof line, PS "%s", forms[i].text);
        cr_assert_eq(parse(line, &ev), forms[i].type, "%s", forms[i].text);
        assert_ip(&ev, "192.0.2.7");
        cr_assert_eq(ev.n2, 40000, "%s", forms[i].text);
    }
}
