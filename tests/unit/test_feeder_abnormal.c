/* test_feeder_abnormal.c - abnormal sessions through the real feeder (correlate.c, struct
 * abnormal_state): how a connection's lines are joined so that it counts once, when it does not
 * count at all, and the listing at bl.example's threshold (10 in 10 minutes, code 127.0.0.7). Lines
 * are the corpus's shapes (Postfix 3.7) with the address, port and time the test needs. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "feeder.h"
#include "feeder_testutil.h"
#include "testutil.h"

#define T0 1795359875u          /* 2026-11-22T15:04:35Z */
#define PS "postfix/postscreen[13453]: "
#define SMTPD "postfix/smtpd[13470]: "

static char tmp[64];
static struct feeder f;

static void setup(void)
{
    char db[128], err[512], zones[512];
    tmpdir_make(tmp, sizeof tmp, "test_feeder_abnormal");
    snprintf(db, sizeof db, "%s/db", tmp);
    shipped_zones_dir(zones, sizeof zones);
    cr_assert_eq(feeder_open(&f, db, zones, NULL, 0, err, sizeof err), 0, "feeder_open: %s", err);
}

static void teardown(void)
{
    feeder_close(&f);
    tmpdir_remove(tmp);
}

TestSuite(abnormal, .init = setup, .fini = teardown);

#define line(t, ...) feed_at(&f, (t), __VA_ARGS__)     /* a line of host mx1 at time t */

/* The address's record (NULL if it has none). */
static const struct abnormal_state *record(const char *ip)
{
    struct ipaddr a;
    uint8_t key[16];
    cr_assert_eq(addr_parse(ip, &a), 0);
    struct subject *sub = subject_get(&f.state, key, subject_key_ip(&a, key), 0);
    return sub ? sub->abn : NULL;
}

static uint32_t sessions(const char *ip)
{
    const struct abnormal_state *a = record(ip);
    uint32_t n = 0;
    for (int k = 0; a && k < AB_KINDS; k++)
        n += a->sessions[k];
    return n;
}

static uint64_t listings(void)
{
    struct zone *z = zoneset_find(&f.zones, "bl.example");
    cr_assert_not_null(z);
    return f.stats.listings_by[z - f.zones.zones][RULE_ABNORMAL];
}

/* smtpd's connect, the signals, and the disconnect with its counters */
static void smtpd_session(uint32_t t, const char *ip, const char *signal, const char *counters)
{
    line(t, SMTPD "connect from unknown[%s]", ip);
    if (signal)
        line(t + 1, SMTPD "%s from unknown[%s]", signal, ip);
    line(t + 1, SMTPD "disconnect from unknown[%s] %s", ip, counters);
}

Test(abnormal, pipelining_then_lost_connection_is_one_session)
{
    line(T0, SMTPD "connect from unknown[192.0.2.1]");
    line(T0 + 1, SMTPD "improper command pipelining after CONNECT from unknown[192.0.2.1]: EHLO x\\r\\nQUIT\\r\\n");
    line(T0 + 2, SMTPD "lost connection after EHLO from unknown[192.0.2.1]");
    line(T0 + 2, SMTPD "disconnect from unknown[192.0.2.1] ehlo=1 commands=1");
    cr_assert_eq(sessions("192.0.2.1"), 1);
    cr_assert_eq(record("192.0.2.1")->sessions[AB_PIPELINING], 1, "counted by its first signal");
}

Test(abnormal, a_message_accepted_makes_no_abnormal_session)
{
    smtpd_session(T0, "192.0.2.2", "lost connection after END-OF-MESSAGE", "ehlo=1 mail=1 rcpt=1 data=1 commands=4");
    smtpd_session(T0 + 5, "192.0.2.2", "improper command pipelining after DATA",
                  "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
    cr_assert_eq(sessions("192.0.2.2"), 0);
    smtpd_session(T0 + 10, "192.0.2.2", "lost connection after DATA (0 bytes)", "ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
    cr_assert_eq(sessions("192.0.2.2"), 1, "DATA refused: no message");
}

Test(abnormal, ordinary_sessions_make_no_record)
{
    smtpd_session(T0, "192.0.2.3", NULL, "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
    line(T0 + 2, PS "CONNECT from [192.0.2.3]:40000 to [127.0.0.1]:25");
    line(T0 + 2, PS "DISCONNECT [192.0.2.3]:40000");
    cr_assert_null(record("192.0.2.3"));
}

/* postscreen: a connection is its client port; PREGREET then HANGUP then DISCONNECT is one */
Test(abnormal, postscreen_connection_counts_once_at_its_end)
{
    line(T0, PS "CONNECT from [192.0.2.4]:39655 to [127.0.0.1]:25");
    line(T0, PS "PREGREET 10 after 0 from [192.0.2.4]:39655: EHLO bot\\r\\n");
    line(T0 + 1, PS "HANGUP after 31 from [192.0.2.4]:39655 in tests after SMTP handshake");
    cr_assert_eq(sessions("192.0.2.4"), 0, "not ended yet");
    line(T0 + 31, PS "DISCONNECT [192.0.2.4]:39655");
    cr_assert_eq(sessions("192.0.2.4"), 1);
    cr_assert_eq(record("192.0.2.4")->sessions[AB_PREGREET], 1);
    cr_assert_geq(record("192.0.2.4")->max_hold, 31);
    line(T0 + 32, PS "DISCONNECT [192.0.2.4]:39655");
    cr_assert_eq(sessions("192.0.2.4"), 1, "a second DISCONNECT adds nothing");
}

/* more flagged connections open at once than the record keeps: each still counts once */
Test(abnormal, many_open_postscreen_connections)
{
    for (int p = 0; p < 7; p++)
        line(T0, PS "HANGUP after 0 from [192.0.2.5]:%d in tests before SMTP handshake", 41000 + p);
    for (int p = 0; p < 7; p++)
        line(T0 + 1, PS "DISCONNECT [192.0.2.5]:%d", 41000 + p);
    cr_assert_eq(sessions("192.0.2.5"), 7);
}

/* postscreen's "ignore" actions hand a flagged connection to smtpd: postscreen and smtpd, one session */
Test(abnormal, postscreen_handed_on_joins_the_smtpd_session)
{
    line(T0, PS "CONNECT from [192.0.2.6]:40001 to [127.0.0.1]:25");
    line(T0, PS "PREGREET 10 after 0 from [192.0.2.6]:40001: EHLO bot\\r\\n");
    smtpd_session(T0 + 1, "192.0.2.6", "lost connection after EHLO", "ehlo=1 commands=1");
    cr_assert_eq(sessions("192.0.2.6"), 1);
    /* ... and without a signal of smtpd's own the pregreet still makes it abnormal */
    line(T0 + 10, PS "CONNECT from [192.0.2.6]:40002 to [127.0.0.1]:25");
    line(T0 + 10, PS "BARE NEWLINE from [192.0.2.6]:40002");
    smtpd_session(T0 + 11, "192.0.2.6", NULL, "ehlo=1 quit=1 commands=2");
    cr_assert_eq(sessions("192.0.2.6"), 2);
    cr_assert_eq(record("192.0.2.6")->sessions[AB_BARE_NEWLINE], 1);
}

Test(abnormal, interleaved_smtpd_sessions_each_count)
{
    line(T0, SMTPD "connect from unknown[192.0.2.7]");
    line(T0, SMTPD "connect from unknown[192.0.2.7]");
    line(T0 + 100, SMTPD "timeout after RCPT from unknown[192.0.2.7]");
    line(T0 + 100, SMTPD "disconnect from unknown[192.0.2.7] ehlo=1 mail=1 rcpt=0/1 commands=2/3");
    line(T0 + 101, SMTPD "lost connection after AUTH from unknown[192.0.2.7]");
    line(T0 + 101, SMTPD "disconnect from unknown[192.0.2.7] ehlo=1 auth=0/1 commands=1/2");
    cr_assert_eq(sessions("192.0.2.7"), 2);
    /* the hold time needs a connect seen while the address had a record */
    line(T0 + 200, SMTPD "connect from unknown[192.0.2.7]");
    line(T0 + 245, SMTPD "timeout after DATA (0 bytes) from unknown[192.0.2.7]");
    line(T0 + 245, SMTPD "disconnect from unknown[192.0.2.7] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4");
    cr_assert_eq(record("192.0.2.7")->max_hold, 45);
}

Test(abnormal, listed_at_ten_in_ten_minutes)
{
    for (int i = 0; i < 9; i++)
        smtpd_session(T0 + 50 * (uint32_t)i, "192.0.2.8", "lost connection after CONNECT", "commands=0/0");
    cr_assert_eq(sessions("192.0.2.8"), 9);
    cr_assert_eq(listings(), 0, "9 in 10 minutes: not listed");
    smtpd_session(T0 + 50 * 9, "192.0.2.8", "lost connection after CONNECT", "commands=0/0");
    cr_assert_eq(listings(), 1, "the 10th lists");
    /* sessions spread over more than the window never add up to 10 */
    for (int i = 0; i < 20; i++)
        smtpd_session(T0 + 70 * (uint32_t)i, "192.0.2.9", "lost connection after CONNECT", "commands=0/0");
    cr_assert_eq(listings(), 1);
}
