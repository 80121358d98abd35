/* test_zone.c - zone files (zoneset_load) and the configuration value parsers. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "testutil.h"
#include "zone.h"

static char zdir[64];
static struct zoneset zs;
static char err[1024];

static void setup(void)
{
    tmpdir_make(zdir, sizeof zdir, "test_zone");
    zs.zones = NULL;
    zs.n = 0;
    err[0] = '\0';
}

static void teardown(void)
{
    zoneset_free(&zs);
    tmpdir_remove(zdir);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", zdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static int load(void)
{
    return zoneset_load(zdir, &zs, err, sizeof err);
}

/* The load fails, err begins with "DIR/FILE:LINE:" (line 0: "DIR/FILE:") and mentions needle. */
static void expect_error(const char *file, int line, const char *needle)
{
    char prefix[256];
    cr_assert_eq(load(), -1, "the load should fail (%s)", needle);
    cr_assert_eq(zs.n, 0, "nothing is returned on error");
    cr_assert_null(zs.zones);
    if (line)
        snprintf(prefix, sizeof prefix, "%s/%s:%d: ", zdir, file, line);
    else
        snprintf(prefix, sizeof prefix, "%s/%s: ", zdir, file);
    cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "err '%s' should begin with '%s'", err, prefix);
    cr_assert_not_null(strstr(err, needle), "err '%s' should mention '%s'", err, needle);
}

/* A valid zone file with extra lines spliced in after line 4 ("ns = ..."). */
static void zone_with(const char *file, const char *zone_extra, const char *tail)
{
    static char text[16384];
    snprintf(text, sizeof text,
             "[zone]\n"                 /* 1 */
             "name = t.example\n"       /* 2 */
             "kind = ip\n"              /* 3 */
             "ns = ns1.t.example.\n"    /* 4 */
             "%s"
             "[code 127.0.0.2]\n"
             "meaning = listed\n"
             "%s",
             zone_extra, tail);
    write_file(file, text);
}

TestSuite(zones, .init = setup, .fini = teardown);

/* ---- the shipped zones ---- */

static int count_conf_files(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += e->d_name[0] != '.' && len > 5 && !strcmp(e->d_name + len - 5, ".conf");
    }
    closedir(d);
    return n;
}

Test(zones, shipped_zones_load)
{
    char dir[512];
    shipped_zones_dir(dir, sizeof dir);
    cr_assert_eq(zoneset_load(dir, &zs, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zs.n, count_conf_files(dir), "one zone per *.conf file");
    cr_assert_geq(zs.n, 2);

    struct zone *bl = zoneset_find(&zs, "BL.Example."), *dbl = zoneset_find(&zs, "dbl.example");
    cr_assert_not_null(bl);
    cr_assert_not_null(dbl);
    cr_assert_str_eq(bl->name, "bl.example");
    cr_assert_eq(bl->kind, ZONE_IP);
    cr_assert_eq(dbl->kind, ZONE_DOMAIN);
    cr_assert_str_eq(zone_kind_name(bl->kind), "ip");
    cr_assert_str_eq(zone_kind_name(dbl->kind), "domain");
    cr_assert_eq(bl->ttl, 300);
    cr_assert_eq(bl->negative_ttl, 60);
    cr_assert(bl->test_points);
    cr_assert_str_eq(bl->txt, "{reason}");
    cr_assert_eq(bl->nlabels, 2);
    cr_assert_eq(bl->wire_len, 12);
    cr_assert_eq(memcmp(bl->wire, "\2bl\7example", 12), 0);

    cr_assert_eq(bl->ncodes, 7);     /* dha backscatter auth volume compromised abnormal manual */
    cr_assert_eq(dbl->ncodes, 3);
    cr_assert_eq(bl->codes[bl->default_code].addr, 0x7f000002u, "no default-code: the first code");
    cr_assert_eq(dbl->codes[dbl->default_code].addr, 0x7f000103u);
    const struct zone_code *c = zone_find_code(bl, "auth");
    cr_assert_not_null(c);
    cr_assert_eq(c->addr, 0x7f000004u);
    cr_assert_eq(zone_find_code(bl, "127.0.0.10"), zone_find_code(bl, "manual"));
    cr_assert_null(zone_find_code(bl, "nope"));
    cr_assert_eq(zone_find_code(bl, "127.0.0.7"), zone_find_code(bl, "abnormal"));
    cr_assert_null(zone_find_code(bl, "127.0.0.8"));
    cr_assert_null(zone_find_code(dbl, "dha"));
    cr_assert_not_null(zone_code_by_addr(dbl, 0x7f00010au));

    cr_assert_geq(bl->soa, 0);
    cr_assert_eq(bl->rrs[bl->soa].type, 6);
    int ns = 0;
    for (int i = 0; i < bl->nrrs; i++)
        ns += bl->rrs[i].type == 2;
    cr_assert_eq(ns, 1);
    struct zone *acct = zoneset_find(&zs, "acct.example");
    if (acct) {
        cr_assert_eq(acct->kind, ZONE_ACCOUNT);
        cr_assert_str_eq(zone_kind_name(acct->kind), "account");
        cr_assert_geq(acct->soa, 0);
    }
    cr_assert_null(zoneset_find(&zs, "example"));
    cr_assert_null(zoneset_find(&zs, "a..b"));
}

/* ---- a minimal zone and its defaults ---- */

Test(zones, minimal_zone_defaults)
{
    zone_with("t.conf", "", "");
    cr_assert_eq(load(), 0, "%s", err);
    cr_assert_eq(zs.n, 1);
    struct zone *z = &zs.zones[0];
    cr_assert_str_eq(z->name, "t.example");
    cr_assert_eq(z->ttl, 300);
    cr_assert_eq(z->negative_ttl, 60);
    cr_assert_eq(z->nrrs, 2, "SOA and NS");
    const struct zone_rr *soa = &z->rrs[z->soa];
    cr_assert_eq(soa->type, 6);
    cr_assert_eq(soa->ttl, 300);
    const uint8_t *m = soa->rdata + soa->rdlen - 4;
    cr_assert_eq((uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3], 60, "SOA minimum = negative-ttl");
    /* the mname defaults to the first ns: wire form at the start of the rdata */
    cr_assert_eq(memcmp(soa->rdata, "\3ns1\1t\7example", 15), 0);
}

Test(zones, settings_read)
{
    zone_with("t.conf",
              "# a comment\n"
              "  ; another\n"
              "\n"
              "ttl = 5m\n"
              "negative-ttl = 2m\n"
              "txt = {reason} see https://t.example/{addr}?z={zone}&c={code}\n"
              "test-points = no\n"
              "default-code = second\n",
              "[code 127.0.0.9]\nname = second\nmeaning = other\n");
    cr_assert_eq(load(), 0, "%s", err);
    struct zone *z = &zs.zones[0];
    cr_assert_eq(z->ttl, 300);
    cr_assert_eq(z->negative_ttl, 120);
    cr_assert_not(z->test_points);
    cr_assert_str_eq(z->txt, "{reason} see https://t.example/{addr}?z={zone}&c={code}");
    cr_assert_eq(z->codes[z->default_code].addr, 0x7f000009u);
}

Test(zones, name_normalized)
{
    write_file("t.conf", "[zone]\nname = T.Example.\nkind = domain\nns = ns1.t.example.\n"
                         "[code 127.0.0.2]\nmeaning = x\n");
    cr_assert_eq(load(), 0, "%s", err);
    cr_assert_str_eq(zs.zones[0].name, "t.example");
}

Test(zones, only_conf_files_read)
{
    zone_with("t.conf", "", "");
    write_file("notes.txt", "garbage\n");
    write_file(".hidden.conf", "garbage\n");
    write_file("t.conf.bak", "garbage\n");
    cr_assert_eq(load(), 0, "%s", err);
    cr_assert_eq(zs.n, 1);
}

Test(zones, empty_directory)
{
    cr_assert_eq(load(), -1);
    cr_assert_not_null(strstr(err, "no zone files"), "%s", err);
}

/* ---- errors name the file and the line ---- */

Test(zones, unknown_key)
{
    zone_with("t.conf", "colour = blue\n", "");
    expect_error("t.conf", 5, "colour");
}

Test(zones, unknown_key_in_code)
{
    zone_with("t.conf", "", "weight = 3\n");
    expect_error("t.conf", 7, "weight");
}

Test(zones, unknown_section)
{
    zone_with("t.conf", "[extra]\n", "");
    expect_error("t.conf", 5, "unknown section");
}

Test(zones, bad_section_header)
{
    zone_with("t.conf", "[bad name!]\n", "");
    expect_error("t.conf", 5, "section");
}

Test(zones, second_zone_section)
{
    zone_with("t.conf", "[zone]\n", "");
    expect_error("t.conf", 5, "[zone]");
}

Test(zones, bad_kind)
{
    write_file("t.conf", "[zone]\nname = t.example\nkind = ipv4\n");
    expect_error("t.conf", 3, "kind");
}

Test(zones, duplicate_key)
{
    zone_with("t.conf", "kind = domain\n", "");
    expect_error("t.conf", 5, "duplicate");
}

Test(zones, bad_duration)
{
    zone_with("t.conf", "ttl = 5 minutes\n", "");
    expect_error("t.conf", 5, "ttl");
}

Test(zones, line_without_equals)
{
    zone_with("t.conf", "just words\n", "");
    expect_error("t.conf", 5, "key = value");
}

Test(zones, key_outside_section)
{
    write_file("t.conf", "# header\nname = t.example\n");
    expect_error("t.conf", 2, "outside");
}

Test(zones, code_outside_127_8)
{
    zone_with("t.conf", "", "[code 10.0.0.2]\nmeaning = x\n");
    expect_error("t.conf", 7, "127.0.0.0/8");
}

Test(zones, code_127_0_0_1_reserved)
{
    zone_with("t.conf", "", "[code 127.0.0.1]\nmeaning = x\n");
    expect_error("t.conf", 7, "127.0.0.1");
}

Test(zones, code_not_an_address)
{
    zone_with("t.conf", "", "[code dha]\nmeaning = x\n");
    expect_error("t.conf", 7, "IPv4");
}

Test(zones, code_defined_twice)
{
    zone_with("t.conf", "", "[code 127.0.0.2]\nmeaning = x\n");
    expect_error("t.conf", 7, "twice");
}

Test(zones, code_name_rules)
{
    zone_with("t.conf", "", "name = DHA\n");
    expect_error("t.conf", 7, "DHA");
}

Test(zones, code_without_meaning)
{
    zone_with("t.conf", "", "[code 127.0.0.3]\nname = x\n");
    expect_error("t.conf", 0, "meaning");
}

Test(zones, no_codes)
{
    write_file("t.conf", "[zone]\nname = t.example\nkind = ip\nns = ns1.t.example.\n");
    expect_error("t.conf", 0, "code");
}

Test(zones, no_ns)
{
    write_file("t.conf", "[zone]\nname = t.example\nkind = ip\n[code 127.0.0.2]\nmeaning = x\n");
    expect_error("t.conf", 0, "'ns'");
}

Test(zones, no_kind)
{
    write_file("t.conf", "[zone]\nname = t.example\nns = ns1.t.example.\n[code 127.0.0.2]\nmeaning = x\n");
    expect_error("t.conf", 0, "kind");
}

Test(zones, no_name)
{
    write_file("t.conf", "[zone]\nkind = ip\nns = ns1.t.example.\n[code 127.0.0.2]\nmeaning = x\n");
    expect_error("t.conf", 0, "name");
}

Test(zones, bad_txt_placeholder)
{
    zone_with("t.conf", "txt = listed: {foo}\n", "");
    expect_error("t.conf", 5, "{foo}");
}

Test(zones, unknown_default_code)
{
    zone_with("t.conf", "default-code = nope\n", "");
    expect_error("t.conf", 0, "nope");
}

Test(zones, duplicate_zone_names_across_files)
{
    zone_with("a.conf", "", "");
    write_file("b.conf", "[zone]\nname = T.EXAMPLE\nkind = domain\nns = ns1.t.example.\n"
                         "[code 127.0.0.2]\nmeaning = x\n");
    expect_error("b.conf", 0, "already defined");
}

Test(zones, error_in_second_file_frees_first)
{
    zone_with("a.conf", "", "");
    write_file("b.conf", "[zone]\nbogus = 1\n");
    expect_error("b.conf", 2, "bogus");
}

/* ---- apex files ---- */

static const char apex_conf[] =
    "[zone]\nname = t.example\nkind = ip\napex-file = t.zone\n[code 127.0.0.2]\nmeaning = x\n";

Test(zones, apex_file_loads)
{
    write_file("t.conf", apex_conf);
    write_file("t.zone", "$TTL 900\n"
                         "@ IN SOA ns1.t.example. hostmaster.t.example. 7 3600 600 86400 42\n"
                         "@ IN NS ns1.t.example.\n"
                         "ns1.t.example. IN A 192.0.2.53\n");
    cr_assert_eq(load(), 0, "%s", err);
    struct zone *z = &zs.zones[0];
    cr_assert_eq(z->negative_ttl, 42, "the SOA MINIMUM without negative-ttl");
    cr_assert_eq(z->nrrs, 3);
    cr_assert_eq(z->rrs[z->soa].type, 6);
    cr_assert_eq(z->rrs[z->soa].ttl, 900);
    int found_a = 0;
    for (int i = 0; i < z->nrrs; i++) {
        if (z->rrs[i].type != 1)
            continue;
        found_a = 1;
        cr_assert_eq(z->rrs[i].rdlen, 4);
        cr_assert_eq(memcmp(z->rrs[i].rdata, "\xc0\x00\x02\x35", 4), 0);
        cr_assert_eq(z->rrs[i].owner_len, 15);
        cr_assert_eq(memcmp(z->rrs[i].owner, "\3ns1\1t\7example", 15), 0);
    }
    cr_assert(found_a);
}

Test(zones, apex_file_negative_ttl_setting_wins)
{
    write_file("t.conf", "[zone]\nname = t.example\nkind = ip\nnegative-ttl = 30\napex-file = t.zone\n"
                         "[code 127.0.0.2]\nmeaning = x\n");
    write_file("t.zone", "@ 900 IN SOA ns1 hostmaster 7 3600 600 86400 42\n@ 900 IN NS ns1\n");
    cr_assert_eq(load(), 0, "%s", err);
    cr_assert_eq(zs.zones[0].negative_ttl, 30);
}

Test(zones, apex_file_record_outside_zone)
{
    write_file("t.conf", apex_conf);
    write_file("t.zone", "$TTL 900\n@ IN SOA ns1 hostmaster 7 3600 600 86400 42\n@ IN NS ns1\n"
                         "www.example.org. IN A 192.0.2.1\n");
    expect_error("t.conf", 0, "outside the zone");
}

Test(zones, apex_file_without_soa)
{
    write_file("t.conf", apex_conf);
    write_file("t.zone", "$TTL 900\n@ IN NS ns1\n");
    expect_error("t.conf", 0, "SOA");
}

Test(zones, apex_file_missing)
{
    write_file("t.conf", apex_conf);
    expect_error("t.conf", 0, "t.zone");
}

Test(zones, apex_file_and_ns_exclusive)
{
    write_file("t.conf", "[zone]\nname = t.example\nkind = ip\napex-file = t.zone\nns = ns1.t.example.\n"
                         "[code 127.0.0.2]\nmeaning = x\n");
    write_file("t.zone", "@ 900 IN SOA ns1 hostmaster 7 3600 600 86400 42\n");
    expect_error("t.conf", 0, "exclude");
}

/* Guards: lib/conf.c conf_parse_file accepts a line of exactly 4096 characters (plus its '\n'): the
 * newline does not count towards CONF_LINE_MAX. (Found by this test and fixed: it once did, and such
 * a line was refused with "line longer than 4096 characters".) */
Test(zones, line_of_max_length)
{
    char text[8192];
    int n = snprintf(text, sizeof text, "#");
    memset(text + n, 'x', 4095);
    strcpy(text + n + 4095, "\n");
    zone_with("t.conf", text, "");
    cr_assert_eq(load(), 0, "%s", err);
}

Test(zones, line_too_long)
{
    static char text[8192];
    int n = snprintf(text, sizeof text, "#");
    memset(text + n, 'x', 4200);
    strcpy(text + n + 4200, "\n");
    char file[16000];
    snprintf(file, sizeof file, "[zone]\n%s", text);
    write_file("t.conf", file);
    expect_error("t.conf", 2, "longer");
}

/* ---- conf_parse_file directly ---- */

struct seen {
    char log[2048];
};

static int record(void *ud, const char *section, const char *arg, const char *key, const char *value,
                  char *why, size_t whylen)
{
    struct seen *s = ud;
    size_t len = strlen(s->log);
    snprintf(s->log + len, sizeof s->log - len, "%s|%s|%s|%s\n", section, arg, key ? key : "-",
             value ? value : "-");
    if (key && !strcmp(key, "fail")) {
        snprintf(why, whylen, "told to fail");
        return -1;
    }
    return 0;
}

Test(zones, conf_parse_calls)
{
    write_file("c.conf", "; comment\n[one]\n  a =  1 2  \nb=x=y\n[two  arg with  spaces ]\nc =\n");
    struct seen s = { "" };
    char path[128];
    snprintf(path, sizeof path, "%s/c.conf", zdir);
    cr_assert_eq(conf_parse_file(path, record, &s, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(s.log, "one||-|-\none||a|1 2\none||b|x=y\ntwo|arg with  spaces|-|-\ntwo|arg with  spaces|c|\n");
}

Test(zones, conf_parse_handler_error)
{
    write_file("c.conf", "[one]\na = 1\nfail = now\n");
    struct seen s = { "" };
    char path[128], want[160];
    snprintf(path, sizeof path, "%s/c.conf", zdir);
    cr_assert_eq(conf_parse_file(path, record, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: told to fail", path);
    cr_assert_str_eq(err, want);
}

Test(zones, conf_parse_missing_file)
{
    struct seen s = { "" };
    char path[128];
    snprintf(path, sizeof path, "%s/none.conf", zdir);
    cr_assert_eq(conf_parse_file(path, record, &s, err, sizeof err), -1);
    cr_assert_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
}

Test(zones, conf_parse_bad_keys)
{
    const char *bad[] = { "[s]\na b = c\n", "[s]\n= c\n", "[]\n", "[s\n", "[s] x\n" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file("c.conf", bad[i]);
        struct seen s = { "" };
        char path[128];
        snprintf(path, sizeof path, "%s/c.conf", zdir);
        cr_expect_eq(conf_parse_file(path, record, &s, err, sizeof err), -1, "'%s'", bad[i]);
    }
}

/* ---- value helpers ---- */

Test(values, duration_ok)
{
    struct { const char *s; uint32_t v; } ok[] = {
        { "90", 90 }, { "90s", 90 }, { "10m", 600 }, { "1h", 3600 }, { "2d", 172800 }, { "1w", 604800 },
        { "never", 0 }, { "0", 0 }, { "0s", 0 }, { "4294967295", 4294967295u }, { "7101w", 4294684800u },
        { "49710d", 4294944000u },
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint32_t v = 12345;
        cr_expect_eq(conf_duration(ok[i].s, &v), 0, "'%s'", ok[i].s);
        cr_expect_eq(v, ok[i].v, "'%s'", ok[i].s);
    }
}

Test(values, duration_bad)
{
    const char *bad[] = { "1x", "", "4294967296", "99999999999999999999999", "49711d", "7102w", "71583w",
                          "1h30m", "10ms", "-1", "+1", " 1", "1 ", "h", "Never", "0x10", "1.5h" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        uint32_t v = 777;
        cr_expect_eq(conf_duration(bad[i], &v), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(v, 777, "'%s' wrote the output", bad[i]);
    }
}

Test(values, boolean)
{
    const char *yes[] = { "yes", "true", "on", "1" }, *no[] = { "no", "false", "off", "0" };
    for (int i = 0; i < 4; i++) {
        int v = -1;
        cr_expect_eq(conf_bool(yes[i], &v), 0);
        cr_expect_eq(v, 1, "%s", yes[i]);
        v = -1;
        cr_expect_eq(conf_bool(no[i], &v), 0);
        cr_expect_eq(v, 0, "%s", no[i]);
    }
    const char *bad[] = { "", "YES", "y", "2", "yes ", "nope" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int v = 5;
        cr_expect_eq(conf_bool(bad[i], &v), -1, "'%s'", bad[i]);
        cr_expect_eq(v, 5);
    }
}

Test(values, uint)
{
    uint32_t v = 0;
    cr_assert_eq(conf_uint("0", 10, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(conf_uint("10", 10, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(conf_uint("4294967295", UINT32_MAX, &v), 0);
    cr_assert_eq(v, UINT32_MAX);
    const char *bad[] = { "11", "", "-1", "+1", " 1", "1 ", "1a", "0x1", "18446744073709551616" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 3;
        cr_expect_eq(conf_uint(bad[i], 10, &v), -1, "'%s'", bad[i]);
        cr_expect_eq(v, 3);
    }
    cr_assert_eq(conf_uint("4294967296", UINT32_MAX, &v), -1);
}

/* ---- slow windows and the per-account send limit ---- */

Test(zones, slow_window_keys_and_their_defaults)
{
    zone_with("t.conf", "", "[rule dha]\ncode = 127.0.0.2\nslow-window = 90m\nslow-threshold = 40\n"
                            "[rule auth]\ncode = 127.0.0.2\n");
    cr_assert_eq(load(), 0, "%s", err);
    const struct zone_rule *dha = &zs.zones[0].rules[RULE_DHA], *auth = &zs.zones[0].rules[RULE_AUTH];
    cr_assert_eq(dha->slow_window, 5400);
    cr_assert_eq(dha->slow_threshold, 40);
    cr_assert_eq(auth->slow_window, 86400, "24h unless set");
    cr_assert_eq(auth->slow_threshold, 30);
    cr_assert_eq(auth->slow_account_ips, 10);
}

/* Each [rule] tail fails on its line 9 with a message naming the key: slow-window out of 1h-31h or
 * not in half hours, and keys in rules (or zones) they do not apply to. */
Test(zones, slow_and_recipient_keys_are_checked)
{
    static const struct { const char *tail, *needle; } bad[] = {
        { "[rule dha]\ncode = 127.0.0.2\nslow-window = 45m\n", "slow-window" },
        { "[rule dha]\ncode = 127.0.0.2\nslow-window = 32h\n", "slow-window" },
        { "[rule auth]\ncode = 127.0.0.2\nslow-window = 100m\n", "half hours" },
        { "[rule dha]\ncode = 127.0.0.2\nslow-account-ips = 3\n", "slow-account-ips" },
        { "[rule volume]\ncode = 127.0.0.2\nrecipients = 3\n", "recipients" },
        { "[rule backscatter]\ncode = 127.0.0.2\nslow-threshold = 3\n", "slow-threshold" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zone_with("t.conf", "", bad[i].tail);
        expect_error("t.conf", 9, bad[i].needle);
    }
}

Test(zones, account_zone_volume_rule_counts_messages_and_recipients)
{
    write_file("a.conf", "[zone]\nname = a.example\nkind = account\nns = ns1.a.example.\n"
                         "[code 127.0.2.5]\nmeaning = mass mail\n"
                         "[rule volume]\ncode = 127.0.2.5\nwindow = 60m\nthreshold = 200\nrecipients = 500\n");
    cr_assert_eq(load(), 0, "%s", err);
    const struct zone_rule *r = &zs.zones[0].rules[RULE_VOLUME];
    cr_assert(r->enabled);
    cr_assert_eq(r->window, 3600);
    cr_assert_eq(r->threshold, 200);
    cr_assert_eq(r->recipients, 500);
}
