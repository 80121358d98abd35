/* test_zone_xfr.c - the [zone] keys of zone transfers: allow-transfer, notify, notify-interval. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "zone.h"

static char zdir[64];
static struct zoneset zs;
static char err[1024];

static void setup(void)
{
    tmpdir_make(zdir, sizeof zdir, "test_zone_xfr");
    zs.zones = NULL;
    zs.n = 0;
    err[0] = '\0';
}

static void teardown(void)
{
    zoneset_free(&zs);
    tmpdir_remove(zdir);
}

TestSuite(zone_xfr, .init = setup, .fini = teardown);

/* A minimal zone with extra [zone] lines; returns what zoneset_load returns. */
static int load(const char *extra)
{
    char path[256];
    snprintf(path, sizeof path, "%s/z.conf", zdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "[zone]\nname = bl.example\nkind = ip\nns = ns1.bl.example.\n%s\n[code 127.0.0.2]\nmeaning = m\n", extra);
    fclose(f);
    return zoneset_load(zdir, &zs, err, sizeof err);
}

static struct ipaddr ip(const char *s)
{
    struct ipaddr a;
    cr_assert_eq(addr_parse(s, &a), 0, "%s", s);
    return a;
}

Test(zone_xfr, default_is_no_transfers)
{
    cr_assert_eq(load(""), 0, "%s", err);
    const struct zone *z = &zs.zones[0];
    cr_assert_not(zone_xfr_enabled(z));
    struct ipaddr a = ip("127.0.0.1");
    cr_assert_not(zone_xfr_allowed(z, &a), "nobody may transfer by default");
    cr_assert_eq(zone_notify_interval(z), ZONE_NOTIFY_INTERVAL);
}

Test(zone_xfr, acl_lists_add_up)
{
    cr_assert_eq(load("allow-transfer = 127.0.0.1, ::1 192.0.2.0/24\nallow-transfer = 2001:db8::/32"), 0, "%s", err);
    const struct zone *z = &zs.zones[0];
    cr_assert(zone_xfr_enabled(z));
    cr_assert_eq(z->xfr.nacl, 4);
    const char *yes[] = { "127.0.0.1", "::1", "192.0.2.77", "2001:db8:1::5" };
    const char *no[] = { "127.0.0.2", "::2", "192.0.3.1", "2001:db9::1" };
    for (int i = 0; i < 4; i++) {
        struct ipaddr a = ip(yes[i]), b = ip(no[i]);
        cr_assert(zone_xfr_allowed(z, &a), "%s", yes[i]);
        cr_assert_not(zone_xfr_allowed(z, &b), "%s", no[i]);
    }
}

Test(zone_xfr, notify_targets)
{
    cr_assert_eq(load("notify = 127.0.0.1:5354, [::1]:5355 192.0.2.53 2001:db8::53\nnotify-interval = 1m"), 0, "%s", err);
    const struct zone *z = &zs.zones[0];
    cr_assert_eq(z->xfr.nnotify, 4);
    cr_assert_eq(z->xfr.notify[0].port, 5354);
    cr_assert_eq(z->xfr.notify[1].port, 5355);
    cr_assert_eq(z->xfr.notify[1].addr.family, ADDR_V6);
    cr_assert_eq(z->xfr.notify[2].port, 53, "a bare address: port 53");
    cr_assert_eq(z->xfr.notify[3].port, 53);
    cr_assert_eq(z->xfr.notify[3].addr.family, ADDR_V6);
    cr_assert_eq(zone_notify_interval(z), 60);
    cr_assert(zone_xfr_enabled(z));
}

Test(zone_xfr, none_is_an_empty_list)
{
    cr_assert_eq(load("allow-transfer = none\nnotify = none"), 0, "%s", err);
    cr_assert_not(zone_xfr_enabled(&zs.zones[0]));
}

Test(zone_xfr, bad_values_say_why)
{
    const char *cases[][2] = {
        { "allow-transfer = 192.0.2.1/24", "host bits" },
        { "allow-transfer = nonsense", "not an address" },
        { "allow-transfer = ", "empty list" },
        { "notify = 127.0.0.1:0", "ADDRESS:PORT" },
        { "notify = 127.0.0.1:99999", "ADDRESS:PORT" },
        { "notify = [::1:53", "ADDRESS:PORT" },
        { "notify = host.example:53", "ADDRESS:PORT" },
        { "notify-interval = 0", "notify-interval" },
        { "notify-interval = soon", "notify-interval" },
        { "notify = 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9", "at most" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = '\0';
        cr_assert_eq(load(cases[i][0]), -1, "'%s' should fail", cases[i][0]);
        cr_assert(strstr(err, cases[i][1]), "'%s': [%s] should mention '%s'", cases[i][0], err, cases[i][1]);
        cr_assert(strstr(err, "z.conf:5:"), "file and line: [%s]", err);
    }
}
