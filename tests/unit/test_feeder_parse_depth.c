/* test_feeder_parse_depth.c - the line forms issue 9 adds to parse_postfix.c: recipient-verification
 * failures (reject_unverified_recipient) counted as unknown recipients. Real Postfix 3.7 shapes: the
 * corpus reject line with its reason replaced by the text smtpd_check.c writes for a failed probe. */
#include <criterion/criterion.h>
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
