/* test_feeder_networks.c - network subjects (issue 9, rule 4): their keys, the distinct members that
 * contributed to each metric within a window (exact up to NET_MEMBERS_MAX), and their round trip
 * through the store. */
#include <criterion/criterion.h>
#include <string.h>

#include "state.h"
#include "testutil.h"

#define T0 1764000000u

static struct ipaddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return (struct ipaddr){ .family = ADDR_V4, .bytes = { a, b, c, d } };
}

/* 2001:db8:5:SUB::x: the /64 SUB of the /48 2001:db8:5::/48 */
static struct ipaddr v6(uint16_t sub, uint8_t x)
{
    struct ipaddr a = { .family = ADDR_V6, .bytes = { 0x20, 0x01, 0x0d, 0xb8, 0, 5, (uint8_t)(sub >> 8), (uint8_t)sub } };
    a.bytes[15] = x;
    return a;
}

static struct subject *net_of(struct state *s, const struct ipaddr *a, int plen)
{
    uint8_t key[16];
    size_t len = subject_key_net(a, plen, key);
    cr_assert_neq(len, 0);
    return subject_get(s, key, len, 1);
}

Test(networks, keys_clear_the_host_bits_and_name_the_network)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    struct ipaddr a = v4(198, 51, 100, 77), b = v4(198, 51, 100, 200), c = v4(198, 51, 101, 1);
    struct subject *na = net_of(&s, &a, 24);
    cr_assert_eq(net_of(&s, &b, 24), na, "two addresses of one /24: one network");
    cr_assert_neq(net_of(&s, &c, 24), na);
    cr_assert_eq(na->kind, SUBJ_NET);
    struct ipnet net;
    char buf[64];
    cr_assert_eq(subject_net(na, &net), 0);
    cr_assert_str_eq(net_format(&net, buf, sizeof buf), "198.51.100.0/24");
    struct ipaddr x = v6(7, 1), y = v6(0x1234, 9);
    struct subject *nx = net_of(&s, &x, 48);
    cr_assert_eq(net_of(&s, &y, 48), nx);
    cr_assert_eq(subject_net(nx, &net), 0);
    cr_assert_str_eq(net_format(&net, buf, sizeof buf), "2001:db8:5::/48");
    struct subject *n20 = net_of(&s, &a, 20);
    cr_assert_eq(subject_net(n20, &net), 0);
    cr_assert_str_eq(net_format(&net, buf, sizeof buf), "198.51.96.0/20");
    uint8_t key[16];
    cr_assert_eq(subject_key_net(&a, 32, key), 0, "an IPv4 network is shorter than /32");
    cr_assert_eq(subject_key_net(&x, 64, key), 0, "an IPv6 network is shorter than the /64 members");
    cr_assert_eq(s.sources_by_kind[3], 4);
    cr_assert_eq(s.sources_by_kind[0], 0);
    cr_assert_null(subject_account(na), "a network has no account record");
    state_free(&s);
}

Test(networks, members_counted_once_per_metric_within_the_window)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    struct ipaddr first = v4(198, 51, 100, 1);
    struct subject *n = net_of(&s, &first, 24);
    for (uint8_t i = 1; i <= 4; i++)
        for (int rep = 0; rep < 9; rep++) {     /* 9 events each: still one member */
            struct ipaddr a = v4(198, 51, 100, i);
            cr_assert_eq(net_member_add(n, &a, M_UNKNOWN, T0 + i * 60 + (uint32_t)rep), 0);
        }
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 300, 600), 4);
    cr_assert_eq(net_member_count(n, M_AUTH_FAIL, T0 + 300, 600), 0, "members count per metric");
    struct ipaddr fifth = v4(198, 51, 100, 5);
    net_member_add(n, &fifth, M_AUTH_FAIL, T0 + 300);
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 300, 600), 4);
    cr_assert_eq(net_member_count(n, M_AUTH_FAIL, T0 + 300, 600), 1);
    net_member_add(n, &fifth, M_UNKNOWN, T0 + 300);
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 300, 600), 5);
    /* in whole minutes, as the counts: the member last seen in minute 1 (T0 + 68) is in the
     * 10-minute windows ending in minutes 1..10, not in minute 11 (T0 is a minute's start) */
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 659, 600), 5);
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 660, 600), 4);
    /* seen again: back in, still one member */
    struct ipaddr one = v4(198, 51, 100, 1);
    net_member_add(n, &one, M_UNKNOWN, T0 + 660);
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 660, 600), 5);
    /* an older event for a member never moves its time back */
    net_member_add(n, &one, M_UNKNOWN, T0);
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 1200, 600), 1);
    state_free(&s);
}

Test(networks, ipv6_members_are_the_64s)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    struct ipaddr a = v6(1, 1);
    struct subject *n = net_of(&s, &a, 48);
    for (uint16_t sub = 1; sub <= 200; sub++)
        for (uint8_t x = 1; x <= 3; x++) {      /* three addresses of each /64: one member */
            struct ipaddr m = v6(sub, x);
            net_member_add(n, &m, M_UNKNOWN, T0 + sub);
        }
    cr_assert_eq(net_member_count(n, M_UNKNOWN, T0 + 200, 600), 200);
    state_free(&s);
}

Test(networks, beyond_the_cap_the_longest_unseen_member_is_replaced)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    struct ipaddr a = v4(10, 1, 0, 0);
    struct subject *n = net_of(&s, &a, 16);
    for (uint32_t i = 0; i < NET_MEMBERS_MAX + 44; i++) {
        struct ipaddr m = v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i);
        cr_assert_eq(net_member_add(n, &m, M_AUTH_FAIL, T0 + i), 0);
    }
    cr_assert_eq(n->members->n, NET_MEMBERS_MAX);
    cr_assert_eq(net_member_count(n, M_AUTH_FAIL, T0 + 400, 3600), NET_MEMBERS_MAX);
    /* the newest NET_MEMBERS_MAX are kept: the first 44 are gone */
    uint32_t oldest = UINT32_MAX;
    for (int i = 0; i < n->members->n; i++)
        if (n->members->m[i].last < oldest)
            oldest = n->members->m[i].last;
    cr_assert_eq(oldest, T0 + 44);
    struct ipaddr again = v4(10, 1, 0, 0);     /* the first one again: it replaces the oldest */
    net_member_add(n, &again, M_AUTH_FAIL, T0 + 400);
    cr_assert_eq(n->members->n, NET_MEMBERS_MAX);
    cr_assert_eq(net_member_count(n, M_AUTH_FAIL, T0 + 400, 3600), NET_MEMBERS_MAX);
    state_free(&s);
}

Test(networks, members_are_saved_and_loaded)
{
    char dir[64], err[256] = "";
    tmpdir_make(dir, sizeof dir, "feeder-networks");
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, 64 << 20);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    struct state a, b;
    cr_assert_eq(state_init(&a), 0);
    cr_assert_eq(state_load(&a, env, err, sizeof err), 0, "%s", err);
    a.latest = T0 + 600;
    struct ipaddr first = v4(198, 51, 100, 1);
    struct subject *n = net_of(&a, &first, 24);
    for (uint8_t i = 1; i <= 7; i++) {
        struct ipaddr m = v4(198, 51, 100, i);
        subject_count(&a, n, M_UNKNOWN, T0 + i, 9);
        net_member_add(n, &m, M_UNKNOWN, T0 + i);
    }
    n->last_unknown = T0 + 7;
    subject_offence(n, RULE_DHA)->count = 1;
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(state_save(&a, txn), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);

    cr_assert_eq(state_init(&b), 0);
    cr_assert_eq(state_load(&b, env, err, sizeof err), 0, "%s", err);
    struct subject *n2 = net_of(&b, &first, 24);
    cr_assert_eq(subject_sum(n2, M_UNKNOWN, T0 + 60, 600), 63);
    cr_assert_eq(net_member_count(n2, M_UNKNOWN, T0 + 60, 600), 7);
    cr_assert_eq(n2->last_unknown, T0 + 7);
    cr_assert_eq(n2->offence[RULE_DHA].count, 1);
    cr_assert_eq(b.sources_by_kind[3], 1);
    state_free(&a);
    state_free(&b);
    mdb_env_close(env);
    tmpdir_remove(dir);
}

/* ---- the zone-file keys ---- */

#include "zone.h"

/* Loads a zone directory holding one file with the given [rule] section; 0 or -1 (err filled). */
static int load_rule(const char *kind, const char *rule, struct zoneset *zs, char *err, size_t errlen)
{
    char dir[64], path[128];
    tmpdir_make(dir, sizeof dir, "feeder-networks-zone");
    snprintf(path, sizeof path, "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[zone]\nname = t.example\nkind = %s\nns = ns1.t.example.\nsoa-rname = h.t.example.\n\n"
               "[code 127.0.0.2]\nname = x\nmeaning = m\n\n%s", kind, rule);
    fclose(f);
    int rc = zoneset_load(dir, zs, err, errlen);
    tmpdir_remove(dir);
    return rc;
}

Test(networks, zone_keys_defaults_and_limits)
{
    struct zoneset zs = { 0 };
    char err[512] = "";
    cr_assert_eq(load_rule("ip", "[rule dha]\ncode = x\n", &zs, err, sizeof err), 0, "%s", err);
    const struct zone_rule *r = &zs.zones[0].rules[RULE_DHA];
    cr_assert_eq(r->network_threshold, 0, "networks are off unless a zone file sets a threshold");
    cr_assert_eq(r->network_members, 5);
    cr_assert_eq(r->network_v4, 24);
    cr_assert_eq(r->network_v6, 48);
    zoneset_free(&zs);
    cr_assert_eq(load_rule("ip", "[rule auth]\ncode = x\nnetwork-threshold = 80\nnetwork-members = 20\n"
                                 "network-v4 = 26\nnetwork-v6 = 56\n", &zs, err, sizeof err), 0, "%s", err);
    r = &zs.zones[0].rules[RULE_AUTH];
    cr_assert_eq(r->network_threshold, 80);
    cr_assert_eq(r->network_members, 20);
    cr_assert_eq(r->network_v4, 26);
    cr_assert_eq(r->network_v6, 56);
    zoneset_free(&zs);
    static const char *const bad[][2] = {
        { "ip", "[rule volume]\ncode = x\nnetwork-threshold = 50\n" },     /* not aggregated */
        { "ip", "[rule backscatter]\ncode = x\nnetwork-threshold = 50\n" },
        { "ip", "[rule dha]\ncode = x\nnetwork-v4 = 32\n" },               /* the members themselves */
        { "ip", "[rule dha]\ncode = x\nnetwork-v4 = 7\n" },
        { "ip", "[rule dha]\ncode = x\nnetwork-v6 = 64\n" },
        { "ip", "[rule dha]\ncode = x\nnetwork-v6 = 31\n" },
        { "ip", "[rule dha]\ncode = x\nnetwork-threshold = many\n" },
        { "ip", "[rule dha]\ncode = x\nnetwork-size = 24\n" },
        { "account", "[rule auth]\ncode = x\nnetwork-threshold = 50\n" },  /* accounts have no network */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(load_rule(bad[i][0], bad[i][1], &zs, err, sizeof err), -1, "accepted: %s", bad[i][1]);
        cr_assert_not_null(strstr(err, "network"), "%s", err);
    }
}

/* The members' own totals, found again from the network's key and each member's id. */
Test(networks, members_sum_reads_the_members_own_subjects)
{
    struct state s;
    cr_assert_eq(state_init(&s), 0);
    uint8_t key[16];
    struct ipaddr a = v4(198, 51, 100, 7), b = v4(198, 51, 100, 9), quiet = v4(198, 51, 100, 11);
    struct subject *n = net_of(&s, &a, 24);
    subject_count(&s, subject_get(&s, key, subject_key_ip(&a, key), 1), M_RCPT, T0, 100);
    subject_count(&s, subject_get(&s, key, subject_key_ip(&b, key), 1), M_RCPT, T0, 20);
    subject_count(&s, subject_get(&s, key, subject_key_ip(&quiet, key), 1), M_RCPT, T0, 1000);
    net_member_add(n, &a, M_UNKNOWN, T0 + 60);
    net_member_add(n, &b, M_UNKNOWN, T0 + 60);
    net_member_add(n, &quiet, M_AUTH_FAIL, T0 + 60);   /* a member for another metric only */
    cr_assert_eq(net_members_sum(&s, n, M_UNKNOWN, M_RCPT, T0 + 120, 600), 120);
    cr_assert_eq(net_members_sum(&s, n, M_UNKNOWN, M_RCPT, T0 + 3600, 600), 0, "members out of the window");
    struct ipaddr x = v6(0x42, 1), y = v6(0x43, 1);
    struct subject *n6 = net_of(&s, &x, 48);
    subject_count(&s, subject_get(&s, key, subject_key_ip(&x, key), 1), M_RCPT, T0, 5);
    net_member_add(n6, &x, M_UNKNOWN, T0);
    net_member_add(n6, &y, M_UNKNOWN, T0);      /* no subject of its own (evicted): counts 0 */
    cr_assert_eq(net_members_sum(&s, n6, M_UNKNOWN, M_RCPT, T0, 600), 5);
    state_free(&s);
}
