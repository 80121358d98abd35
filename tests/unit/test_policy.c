/* test_policy.c - the policy endpoints without sockets: the decision (policy.c) against the shipped
 * zones and a temporary store, the Postfix attribute parser and replies (policy_postfix.c), the
 * Dovecot request handling (policy_dovecot.c) and the [policy] zone-file keys (lib/zone_policy.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "policy_dovecot.h"
#include "policy_postfix.h"
#include "store.h"
#include "testutil.h"

#define NOW 1700000000u
#define CODE(c, d) (0x7f000000u | (c) << 8 | (d))      /* 127.0.c.d */

static struct zoneset zs;
static struct store st;
static char dir[64];

static void setup(void)
{
    shipped_store_open(&zs, &st, dir, sizeof dir, "test_policy");
}

static void teardown(void)
{
    shipped_store_close(&zs, &st, dir);
}

/* ---- writing the store ---- */

static void put_key(const char *zone, const uint8_t *key, size_t klen, uint32_t code, uint32_t expires,
                    const char *text, uint8_t flags)
{
    struct zone *z = zoneset_find(&zs, zone);
    cr_assert_not_null(z);
    struct listing l = { .flags = flags, .nreasons = 1, .since = NOW - 60 };
    l.reasons[0] = (struct reason){ code, expires, (uint8_t)strlen(text), text };
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_put(&w, z->dbi, key, klen, &l, 0), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

static void list_ip(const char *zone, const char *net, uint32_t code, uint32_t expires, const char *text)
{
    struct ipnet n;
    uint8_t key[STORE_KEY_MAX];
    cr_assert_geq(net_parse(net, &n), 0);
    put_key(zone, key, store_key_net(&n, key), code, expires, text, 0);
}

static void allow_ip(const char *zone, const char *net)
{
    struct ipnet n;
    uint8_t key[STORE_KEY_MAX];
    cr_assert_geq(net_parse(net, &n), 0);
    put_key(zone, key, store_key_net(&n, key), 0, 0, "", LISTING_ALLOW);
}

static void list_name(const char *zone, const char *name, uint32_t code, uint32_t expires, const char *text)
{
    uint8_t key[STORE_KEY_MAX];
    put_key(zone, key, store_key_domain(name, strlen(name), key), code, expires, text, 0);
}

static void list_account(const char *account, uint32_t code, uint32_t expires, const char *text)
{
    char label[ACCOUNT_LABEL_LEN + 1];
    account_label(account, strlen(account), label);
    list_name("acct.example", label, code, expires, text);
}

static void mark_domestic(const char *account, const char *country, uint32_t expires)
{
    struct zone *z = zoneset_find(&zs, "acct.example");
    char label[ACCOUNT_LABEL_LEN + 1];
    account_label(account, strlen(account), label);
    struct account_mark m = { .flags = ACCOUNT_DOMESTIC_ONLY, .since = NOW, .expires = expires };
    if (country)
        memcpy(m.country, country, 2);
    struct store_txn w;
    cr_assert_eq(store_write_begin(&st, &w), 0);
    cr_assert_eq(store_account_mark_put(w.txn, z->dbi, label, &m), 0);
    cr_assert_eq(store_write_commit(&w, NOW), 0);
}

/* ---- asking ---- */

/* 192.0.2.0/24 is in JP, 198.51.100.0/24 in US, the rest unknown. */
static void fake_country(void *arg, const struct ipaddr *a, char cc[2])
{
    (void)arg;
    const char *c = "--";
    if (a->family == ADDR_V4 && a->bytes[0] == 192 && a->bytes[1] == 0 && a->bytes[2] == 2) c = "JP";
    if (a->family == ADDR_V4 && a->bytes[0] == 198 && a->bytes[1] == 51 && a->bytes[2] == 100) c = "US";
    cc[0] = c[0], cc[1] = c[1];
}

static struct policy_verdict v;

static int ask_at(enum policy_service s, const char *client, const char *account, const char *sender,
                  uint32_t now, int geo)
{
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    struct policy_ctx ctx = { .zones = &zs, .txn = txn, .now = now, .country = geo ? fake_country : NULL };
    struct policy_request q = { .service = s };
    if (client) {
        cr_assert_eq(addr_parse(client, &q.client), 0);
        q.have_client = 1;
    }
    q.account = account, q.account_len = account ? strlen(account) : 0;
    q.sender = sender, q.sender_len = sender ? strlen(sender) : 0;
    int rc = policy_decide(&ctx, &q, &v);
    mdb_txn_abort(txn);
    return rc;
}

static enum policy_action ask(enum policy_service s, const char *client, const char *account, const char *sender)
{
    cr_assert_eq(ask_at(s, client, account, sender, NOW, 1), 0);
    return v.action;
}

TestSuite(policy, .init = setup, .fini = teardown);

Test(policy, nothing_listed_permits)
{
    cr_expect_eq(ask(POLICY_SUBMISSION, "203.0.113.5", "alice@example.jp", "a@example.com"), POLICY_PERMIT);
    cr_expect_eq(v.why, POLICY_WHY_NONE);
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.5", "alice@example.jp", NULL), POLICY_PERMIT);
}

Test(policy, listed_client_gets_the_rbl_answer)
{
    list_ip("bl.example", "203.0.113.5", CODE(0, 2), NOW + 3600, "unknown recipients 40/41 in 10m");
    cr_assert_eq(ask(POLICY_SUBMISSION, "203.0.113.5", NULL, "a@example.com"), POLICY_REJECT);
    cr_expect_eq(v.why, POLICY_WHY_CLIENT);
    cr_expect_eq(v.smtp_code, 554);
    cr_expect_str_eq(v.reason, "unknown recipients 40/41 in 10m");
    cr_expect_eq(v.until, NOW + 3600);
    cr_expect_eq(ask(POLICY_SUBMISSION, "203.0.113.6", NULL, "a@example.com"), POLICY_PERMIT);
}

Test(policy, covering_network_and_allow_entries)
{
    list_ip("bl.example", "203.0.113.0/24", CODE(0, 10), 0, "operator: bad neighbourhood");
    allow_ip("bl.example", "203.0.113.9");
    cr_expect_eq(ask(POLICY_SUBMISSION, "203.0.113.200", NULL, NULL), POLICY_REJECT);
    cr_expect_eq(v.until, 0);
    cr_expect_eq(ask(POLICY_SUBMISSION, "203.0.113.9", NULL, NULL), POLICY_PERMIT, "an allow entry wins");
}

Test(policy, expired_listing_permits)
{
    list_ip("bl.example", "203.0.113.5", CODE(0, 4), NOW + 10, "authentication failures 10 in 10m");
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.5", "bob", NULL), POLICY_REJECT);
    cr_assert_eq(ask_at(POLICY_LOGIN, "203.0.113.5", "bob", NULL, NOW + 11, 1), 0);
    cr_expect_eq(v.action, POLICY_PERMIT, "the listing expired: admitted again without any write");
}

Test(policy, mapped_ipv6_client_is_the_ipv4_listing)
{
    list_ip("bl.example", "203.0.113.5", CODE(0, 2), 0, "harvest");
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    struct policy_ctx ctx = { .zones = &zs, .txn = txn, .now = NOW };
    struct pf_request rq;
    struct policy_request q;
    const char *why;
    size_t used;
    const char req[] = "request=smtpd_access_policy\nclient_address=::ffff:203.0.113.5\n\n";
    cr_assert_eq(pf_parse(req, sizeof req - 1, &rq, &used, &why), PF_COMPLETE);
    cr_assert_eq(pf_question(&rq, &q, &why), 0);
    cr_assert_eq(policy_decide(&ctx, &q, &v), 0);
    mdb_txn_abort(txn);
    cr_expect_eq(v.action, POLICY_REJECT);
}

Test(policy, login_refused_only_for_login_reasons)
{
    list_ip("bl.example", "203.0.113.5", CODE(0, 2), 0, "unknown recipients");    /* dha */
    list_ip("bl.example", "203.0.113.6", CODE(0, 4), 0, "authentication failures");
    list_ip("bl.example", "203.0.113.7", CODE(0, 7), 0, "abnormal sessions");
    list_ip("bl.example", "203.0.113.8", CODE(0, 6), 0, "compromised");
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.5", "bob", NULL), POLICY_PERMIT, "harvesting is no reason to stop IMAP");
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.6", "bob", NULL), POLICY_REJECT);
    cr_expect(strstr(v.text, "address 203.0.113.6 blocked by bl.example: authentication failures (until removed)"),
              "%s", v.text);
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.7", "bob", NULL), POLICY_REJECT);
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.8", "bob", NULL), POLICY_REJECT);
    cr_expect_eq(ask(POLICY_SUBMISSION, "203.0.113.5", "bob", NULL), POLICY_REJECT, "SMTP: every listing counts");
}

Test(policy, listed_account)
{
    list_account("Alice@Example.JP", CODE(2, 6), NOW + 7200, "compromised: logins from JP, US, BR, DE in 24h");
    cr_assert_eq(ask(POLICY_SUBMISSION, "192.0.2.1", "alice@example.jp", NULL), POLICY_REJECT);
    cr_expect_eq(v.why, POLICY_WHY_ACCOUNT);
    cr_expect(strstr(v.text, "account alice@example.jp blocked by acct.example: compromised: logins from JP, US, BR, DE"
                             " in 24h (until 2023-11-15 00:13:20 UTC)"), "%s", v.text);
    cr_expect_eq(ask(POLICY_LOGIN, "192.0.2.1", "ALICE@example.jp", NULL), POLICY_REJECT, "case does not matter");
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", "bob@example.jp", NULL), POLICY_PERMIT);
}

Test(policy, account_listing_wins_over_client_listing)
{
    list_ip("bl.example", "192.0.2.1", CODE(0, 2), 0, "harvest");
    list_account("alice", CODE(2, 6), 0, "compromised");
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", "alice", NULL), POLICY_REJECT);
    cr_expect_eq(v.why, POLICY_WHY_ACCOUNT);
}

Test(policy, listed_sender_domain)
{
    list_name("dbl.example", "spam.example", CODE(1, 5), 0, "mass volume 300 messages in 10m");
    cr_assert_eq(ask(POLICY_SUBMISSION, "192.0.2.1", NULL, "offer@Spam.Example"), POLICY_REJECT);
    cr_expect_eq(v.why, POLICY_WHY_SENDER);
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", NULL, "offer@friend.example"), POLICY_PERMIT);
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", NULL, ""), POLICY_PERMIT, "the null sender");
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", NULL, "no-at-sign"), POLICY_PERMIT);
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", NULL, "x@bad..domain"), POLICY_PERMIT);
    cr_expect_eq(ask(POLICY_LOGIN, "192.0.2.1", "offer@spam.example", NULL), POLICY_PERMIT, "not for logins");
}

Test(policy, domestic_only)
{
    mark_domestic("carol@example.jp", NULL, 0);
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", "carol@example.jp", NULL), POLICY_PERMIT, "from home");
    cr_expect_eq(ask(POLICY_SUBMISSION, "198.51.100.1", "carol@example.jp", NULL), POLICY_REJECT, "from abroad");
    cr_expect_eq(v.why, POLICY_WHY_DOMESTIC);
    cr_expect(strstr(v.text, "account carol@example.jp is domestic-only (JP); 198.51.100.1 is in US"), "%s", v.text);
    cr_expect_eq(ask(POLICY_LOGIN, "198.51.100.1", "carol@example.jp", NULL), POLICY_REJECT);
    cr_expect_eq(ask(POLICY_LOGIN, "203.0.113.1", "carol@example.jp", NULL), POLICY_PERMIT, "unknown country");
    cr_expect_eq(ask(POLICY_SUBMISSION, "198.51.100.1", "dave@example.jp", NULL), POLICY_PERMIT, "not marked");
    cr_assert_eq(ask_at(POLICY_SUBMISSION, "198.51.100.1", "carol@example.jp", NULL, NOW, 0), 0);
    cr_expect_eq(v.action, POLICY_PERMIT, "without a GeoIP file the mark cannot be checked");
}

Test(policy, domestic_only_with_own_country_and_expiry)
{
    mark_domestic("erin", "US", NOW + 100);
    cr_expect_eq(ask(POLICY_SUBMISSION, "198.51.100.1", "erin", NULL), POLICY_PERMIT);
    cr_expect_eq(ask(POLICY_SUBMISSION, "192.0.2.1", "erin", NULL), POLICY_REJECT);
    cr_assert_eq(ask_at(POLICY_SUBMISSION, "192.0.2.1", "erin", NULL, NOW + 100, 1), 0);
    cr_expect_eq(v.action, POLICY_PERMIT, "the mark expired");
}

Test(policy, marks_are_invisible_to_listings)
{
    mark_domestic("carol", NULL, 0);
    struct zone *z = zoneset_find(&zs, "acct.example");
    char label[ACCOUNT_LABEL_LEN + 1];
    account_label("carol", 5, label);
    MDB_txn *txn;
    struct listing l;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn), 0);
    cr_expect_eq(store_lookup_domain(txn, z->dbi, label, ACCOUNT_LABEL_LEN, NOW, &l, NULL), 0);
    int due = 0;
    uint32_t next = 0;
    cr_expect_eq(store_expiry_scan(txn, z->dbi, 0, NOW, &due, &next), 0);
    cr_expect_eq(due, 0);
    mdb_txn_abort(txn);
}

/* ---- the Postfix protocol ---- */

Test(postfix, parses_a_request_and_ignores_unknown_attributes)
{
    const char req[] = "request=smtpd_access_policy\nprotocol_state=RCPT\nx_future=1=2\nclient_address=192.0.2.1\n"
                       "sasl_username=alice\nsender=a@b.example\nrecipient=\n\nrequest=smtpd_access_policy\n";
    struct pf_request rq;
    size_t used = 0;
    const char *why;
    cr_assert_eq(pf_parse(req, sizeof req - 1, &rq, &used, &why), PF_COMPLETE);
    cr_expect_eq(used, (size_t)(strstr(req, "\n\n") - req + 2));
    cr_expect_eq(rq.sasl_username.len, 5);
    cr_expect_eq(strncmp(rq.sasl_username.p, "alice", 5), 0);
    struct policy_request q;
    cr_assert_eq(pf_question(&rq, &q, &why), 0);
    cr_expect(q.have_client);
    cr_expect_eq(q.sender_len, 11);
    /* the rest is the start of the next request */
    cr_expect_eq(pf_parse(req + used, sizeof req - 1 - used, &rq, &used, &why), PF_INCOMPLETE);
}

Test(postfix, byte_by_byte_is_incomplete_until_the_empty_line)
{
    const char req[] = "request=smtpd_access_policy\r\nclient_address=192.0.2.1\r\n\r\n";
    struct pf_request rq;
    size_t used;
    const char *why;
    for (size_t n = 0; n < sizeof req - 1; n++)
        cr_assert_eq(pf_parse(req, n, &rq, &used, &why), PF_INCOMPLETE, "at %zu", n);
    cr_assert_eq(pf_parse(req, sizeof req - 1, &rq, &used, &why), PF_COMPLETE);
    cr_expect_eq(rq.client_address.len, 9, "CR is not part of the value");
}

Test(postfix, malformed_requests)
{
    static const char *const bad[] = { "no equals sign\n\n", "=value\n\n", "request=a\nrequest=b\n\n",
                                       "client_address=1\nclient_address=2\n\n" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct pf_request rq;
        size_t used;
        const char *why = NULL;
        cr_expect_eq(pf_parse(bad[i], strlen(bad[i]), &rq, &used, &why), PF_MALFORMED, "%s", bad[i]);
        cr_expect_not_null(why);
    }
    const char nul[] = "request=smtpd\0access_policy\n\n";
    struct pf_request rq;
    size_t used;
    const char *why;
    cr_expect_eq(pf_parse(nul, sizeof nul - 1, &rq, &used, &why), PF_MALFORMED);
    const char other[] = "request=something_else\n\n";
    struct policy_request q;
    cr_assert_eq(pf_parse(other, sizeof other - 1, &rq, &used, &why), PF_COMPLETE);
    cr_expect_eq(pf_question(&rq, &q, &why), -1, "only smtpd_access_policy is answered");
}

Test(postfix, oversized_request_never_completes)
{
    static char big[PF_REQUEST_MAX + 100];
    memset(big, 'a', sizeof big);
    memcpy(big, "x=", 2);
    big[sizeof big - 2] = big[sizeof big - 1] = '\n';
    struct pf_request rq;
    size_t used;
    const char *why;
    cr_expect_eq(pf_parse(big, sizeof big, &rq, &used, &why), PF_INCOMPLETE,
                 "the empty line lies past the limit: the caller refuses it as too large");
}

Test(postfix, replies)
{
    char out[PF_REPLY_MAX];
    struct policy_request q = { .service = POLICY_SUBMISSION, .have_client = 1 };
    addr_parse("192.0.2.1", &q.client);
    struct policy_verdict pv = { .action = POLICY_PERMIT };
    cr_expect_str_eq((pf_reply(&q, &pv, out, sizeof out), out), "action=DUNNO\n\n");
    struct zone z = { .name = "bl.example" };
    pv = (struct policy_verdict){ .action = POLICY_REJECT, .why = POLICY_WHY_CLIENT, .zone = &z, .smtp_code = 554,
                                  .reason = "bad\r\nline" };
    cr_expect_str_eq((pf_reply(&q, &pv, out, sizeof out), out),
                     "action=554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.example; bad  line\n\n");
    pv = (struct policy_verdict){ .action = POLICY_DEFER, .why = POLICY_WHY_ACCOUNT, .zone = &z, .text = "why" };
    cr_expect_str_eq((pf_reply(&q, &pv, out, sizeof out), out), "action=DEFER_IF_PERMIT why\n\n");
    cr_expect_str_eq((pf_reply_error("request too large", out, sizeof out), out),
                     "action=DEFER_IF_PERMIT 4.3.5 policy server: request too large\n\n");
}

/* ---- the Dovecot request ---- */

Test(dovecot, command)
{
    enum dv_command c;
    const char *why;
    cr_expect_eq(dv_command("command=allow", &c, &why), 0);
    cr_expect_eq(c, DV_ALLOW);
    cr_expect_eq(dv_command("x=1&command=report", &c, &why), 0);
    cr_expect_eq(c, DV_REPORT);
    cr_expect_eq(dv_command("command=allowx", &c, &why), -1);
    cr_expect_eq(dv_command("command=allow&command=report", &c, &why), -1);
    cr_expect_eq(dv_command("", &c, &why), -1);
    cr_expect_eq(dv_command(NULL, &c, &why), -1);
}

Test(dovecot, parse)
{
    struct dv_request rq;
    const char *why;
    const char ok[] = "{\"login\":\"alice@example.jp\",\"pwhash\":\"ab12\",\"remote\":\"192.0.2.1\","
                      "\"device_id\":\"\",\"protocol\":\"imap\",\"session_id\":\"x\",\"tls\":{\"a\":1}}";
    cr_assert_eq(dv_parse(ok, sizeof ok - 1, &rq, &why), 0);
    cr_expect_str_eq(rq.login, "alice@example.jp");
    cr_expect(rq.have_remote);
    const char noremote[] = "{\"login\":\"a\",\"remote\":\"not an address\"}";
    cr_assert_eq(dv_parse(noremote, sizeof noremote - 1, &rq, &why), 0);
    cr_expect_not(rq.have_remote);
    static const char *const bad[] = { "", "[]", "{", "{\"login\":1}", "{\"remote\":[]}", "{\"a\":1,\"a\":2}",
                                       "{\"login\":\"a\"} trailing" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(dv_parse(bad[i], strlen(bad[i]), &rq, &why), -1, "%s", bad[i]);
}

Test(dovecot, depth_and_size_limits)
{
    static char deep[200];
    struct dv_request rq;
    const char *why;
    int n = 0;
    for (int i = 0; i < DV_DEPTH_MAX + 1; i++)
        n += sprintf(deep + n, "{\"a\":");
    n += sprintf(deep + n, "1");
    for (int i = 0; i < DV_DEPTH_MAX + 1; i++)
        deep[n++] = '}';
    cr_expect_eq(dv_parse(deep, (size_t)n, &rq, &why), -1);
    cr_expect_str_eq(why, "JSON nested too deeply");
    const char braces_in_strings[] = "{\"login\":\"{{{{{{{{{{{{[[[[[[[[[[\\\"{{{{{{{{\"}";
    cr_expect_eq(dv_parse(braces_in_strings, sizeof braces_in_strings - 1, &rq, &why), 0);
    static char big[DV_BODY_MAX + 2];
    memset(big, ' ', sizeof big);
    big[0] = '{', big[sizeof big - 1] = '}';
    cr_expect_eq(dv_parse(big, sizeof big, &rq, &why), -1);
    cr_expect_str_eq(why, "request body too large");
}

Test(dovecot, long_login_is_not_looked_up)
{
    static char body[POLICY_ACCOUNT_MAX + 64];
    int n = sprintf(body, "{\"login\":\"");
    memset(body + n, 'a', POLICY_ACCOUNT_MAX + 1);
    n += POLICY_ACCOUNT_MAX + 1;
    n += sprintf(body + n, "\"}");
    struct dv_request rq;
    const char *why;
    cr_assert_eq(dv_parse(body, (size_t)n, &rq, &why), 0);
    cr_expect_eq(rq.login_len, 0);
}

Test(dovecot, replies)
{
    char out[DV_REPLY_MAX];
    struct policy_verdict pv = { .action = POLICY_PERMIT };
    cr_expect_str_eq((dv_reply(&pv, out, sizeof out), out), "{\"status\":0}");
    pv = (struct policy_verdict){ .action = POLICY_REJECT, .text = "say \"no\"" };
    cr_expect_str_eq((dv_reply(&pv, out, sizeof out), out), "{\"status\":-1,\"msg\":\"say \\\"no\\\"\"}");
    pv = (struct policy_verdict){ .action = POLICY_TARPIT, .delay = 5, .text = "slow" };
    cr_expect_str_eq((dv_reply(&pv, out, sizeof out), out), "{\"status\":5,\"msg\":\"slow\"}");
    pv = (struct policy_verdict){ .action = POLICY_REJECT, .text = "bad \xff utf-8" };
    cr_expect_str_eq((dv_reply(&pv, out, sizeof out), out), "{\"status\":-1,\"msg\":\"refused by policy\"}");
    cr_expect_str_eq((dv_reply_report(out, sizeof out), out), "{\"status\":0}");
}

Test(dovecot, api_key)
{
    cr_expect(dv_key_matches("s3cret", "s3cret"));
    cr_expect_not(dv_key_matches("s3cret", "s3cre"));
    cr_expect_not(dv_key_matches("s3cret", "s3cretx"));
    cr_expect_not(dv_key_matches("s3cret", ""));
}

/* ---- [policy] in zone files ---- */

static char zdir[64];

static int load_with(const char *kind, const char *policy, char *err, size_t errlen)
{
    tmpdir_make(zdir, sizeof zdir, "test_policy_zone");
    char path[128];
    snprintf(path, sizeof path, "%s/t.conf", zdir);
    FILE *f = fopen(path, "w");
    fprintf(f, "[zone]\nname = t.example\nkind = %s\nns = ns.t.example.\n\n[code 127.0.0.2]\nname = dha\n"
               "meaning = d\n\n[code 127.0.0.4]\nname = auth\nmeaning = a\n\n[policy]\n%s\n", kind, policy);
    fclose(f);
    struct zoneset set;
    int rc = zoneset_load(zdir, &set, err, errlen);
    if (rc == 0) {
        zs = set;       /* freed by teardown */
    }
    tmpdir_remove(zdir);
    return rc;
}

Test(policy, zone_keys_and_defaults)
{
    const struct zone *bl = zoneset_find(&zs, "bl.example"), *acct = zoneset_find(&zs, "acct.example"),
                      *dbl = zoneset_find(&zs, "dbl.example");
    cr_expect(bl->policy.postfix && bl->policy.dovecot && dbl->policy.postfix && !dbl->policy.dovecot);
    cr_expect_eq(bl->policy.reject_code, 554);
    cr_expect_eq(bl->policy.tarpit, 0);
    cr_expect_not(acct->policy.defer);
    cr_expect_str_eq(acct->policy.home_country, "JP");
    cr_expect_eq(bl->policy.dovecot_codes,
                 1u << (zone_find_code(bl, "auth") - bl->codes) | 1u << (zone_find_code(bl, "abnormal") - bl->codes) |
                 1u << (zone_find_code(bl, "compromised") - bl->codes));
    zoneset_free(&zs);
    memset(&zs, 0, sizeof zs);
    char err[512];
    cr_assert_eq(load_with("ip", "reject-code = 450\ndovecot-tarpit = 5s\ndovecot-codes = dha, 127.0.0.4", err,
                           sizeof err), 0, "%s", err);
    cr_expect_eq(zs.zones[0].policy.reject_code, 450);
    cr_expect_eq(zs.zones[0].policy.tarpit, 5);
    cr_expect_eq(zs.zones[0].policy.dovecot_codes, 3u);
}

Test(policy, zone_key_errors)
{
    static const char *const bad[][2] = {
        { "ip", "reject-code = 250" }, { "ip", "dovecot-codes = nosuch" }, { "ip", "postfix-action = reject" },
        { "ip", "home-country = JPN" }, { "domain", "dovecot = yes" }, { "account", "postfix-action = maybe" },
        { "ip", "dovecot-tarpit = 2m" }, { "ip", "unknown = 1" }, { "ip", "postfix = yes\npostfix = no" },
    };
    zoneset_free(&zs);
    memset(&zs, 0, sizeof zs);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[512] = "";
        cr_expect_eq(load_with(bad[i][0], bad[i][1], err, sizeof err), -1, "%s", bad[i][1]);
        cr_expect(err[0], "an error message for %s", bad[i][1]);
    }
    char err[512];
    cr_expect_eq(load_with("account", "postfix-action = defer_if_permit\nhome-country = us", err, sizeof err), 0,
                 "%s", err);
    cr_expect(zs.zones[0].policy.defer);
    cr_expect_str_eq(zs.zones[0].policy.home_country, "US");
}
