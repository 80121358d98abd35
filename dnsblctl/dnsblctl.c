/* dnsblctl.c - the operator's and support desk's tool: options and dispatch to the commands
 * (ctl_write.c, ctl_read.c, ctl_export.c; their shared helpers are in ctl.c).
 *
 * Every command checks its input completely before it opens a write transaction, so bad input
 * changes nothing. Exit codes: 0 done, 1 not found / not listed, 2 bad usage or input,
 * 3 store or system error. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_cmds.h"

static void usage(FILE *f)
{
    fprintf(f,
"usage: dnsblctl [--db DIR] [--zones DIR] [--json] COMMAND ...\n"
"\n"
"Reading (all with --json):\n"
"  list [ZONE] [--reason R] [--since T] [--all]   live entries (--all: expired too)\n"
"  show ENTRY            every zone that lists ENTRY: codes, reasons, counters, since, until,\n"
"                        how often it was listed before\n"
"  top [--limit N]       the most active sources in the last hour, with a histogram\n"
"  stats                 entries per zone and code, store size and readers, feeder state\n"
"  history [ENTRY]       manual changes: who, when, what, why\n"
"Changing (recorded in the history; --why TEXT says why, --who NAME who):\n"
"  add ZONE ENTRY [--code C] [--reason TEXT] [--expires DURATION]\n"
"                        list ENTRY by hand; the feeder never overwrites a manual entry\n"
"  allow ZONE ENTRY [--expires DURATION]   never list ENTRY in ZONE (punches a hole)\n"
"  unallow ZONE ENTRY    remove an allow entry\n"
"  delist ZONE ENTRY     remove the entry\n"
"  import ZONE FILE|- [--replace] [--expires DURATION]   rbldnsd ip4set/ip6tset/dnset data\n"
"  purge [ZONE]          delete expired entries\n"
"  domestic ZONE ACCOUNT [--country CC] [--expires DURATION]\n"
"                        the account may submit and log in only from its home country\n"
"                        (the zone's [policy] home-country, or CC): dnsbl-server's policy\n"
"                        endpoints refuse it from elsewhere\n"
"  undomestic ZONE ACCOUNT   remove that mark\n"
"  expire                raise the serial of zones in which a listing expired, so that\n"
"                        secondaries drop it (the feeder does this; else run it from a timer)\n"
"Exporting (the live entries of one snapshot; FILE is replaced atomically):\n"
"  export ZONE [--format rbldnsd|zone] [FILE|-]   rbldnsd data (import reads it back) or an\n"
"                        RFC 1035 zone file with the records a zone transfer gives\n"
"\n"
"ENTRY: an IPv4 or IPv6 address, a CIDR network, a domain (*.example.com: subdomains,\n"
".example.com: the domain and its subdomains) or an account name (account zones).\n"
"C: a code name (dha) or address (127.0.0.2) of the zone. DURATION: 90s, 10m, 1h, 2d, 1w, never.\n"
"T: a duration back from now (1h) or a time (2026-11-22T15:04:05Z).\n"
"Options: --db DIR (default ./var/db), --zones DIR (default ./zones).\n"
"Exit: 0 done, 1 not found or not listed, 2 bad usage or input, 3 store error.\n");
}

/* "1h" back from now, or "2026-11-22T15:04:05Z" */
static int parse_since(const char *s, uint32_t now, uint32_t *out)
{
    uint32_t d;
    struct tm tm;
    if (conf_duration(s, &d) == 0) {
        *out = d < now ? now - d : 0;
        return 0;
    }
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z")))
        return -1;
    *out = (uint32_t)timegm(&tm);
    return 0;
}

static const char *default_who(void)
{
    const char *sudo = getenv("SUDO_USER");
    if (sudo && *sudo)
        return sudo;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

static int parse_args(int argc, char **argv, struct ctl *c)
{
    enum { O_DB = 256, O_ZONES, O_CODE, O_REASON, O_EXPIRES, O_ALLOW, O_ALL, O_REPLACE, O_JSON, O_WHY,
           O_WHO, O_SINCE, O_LIMIT, O_HELP, O_FORMAT, O_COUNTRY };
    static const struct option opts[] = {
        { "db", 1, 0, O_DB }, { "zones", 1, 0, O_ZONES }, { "code", 1, 0, O_CODE }, { "reason", 1, 0, O_REASON },
        { "expires", 1, 0, O_EXPIRES }, { "allow", 0, 0, O_ALLOW }, { "all", 0, 0, O_ALL },
        { "replace", 0, 0, O_REPLACE }, { "json", 0, 0, O_JSON }, { "why", 1, 0, O_WHY }, { "who", 1, 0, O_WHO },
        { "since", 1, 0, O_SINCE }, { "limit", 1, 0, O_LIMIT }, { "help", 0, 0, O_HELP },
        { "format", 1, 0, O_FORMAT }, { "country", 1, 0, O_COUNTRY }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_DB: c->db_dir = optarg; break;
        case O_ZONES: c->zones_dir = optarg; break;
        case O_CODE: c->code = optarg; break;
        case O_REASON: c->reason = c->reason_filter = optarg; break;
        case O_EXPIRES:
            if (conf_duration(optarg, &c->expires_in) < 0) {
                fprintf(stderr, "dnsblctl: --expires '%s': want a duration such as 90s, 10m, 1h, 2d or never\n", optarg);
                return -1;
            }
            break;
        case O_ALLOW: c->allow = 1; break;
        case O_ALL: c->all = 1; break;
        case O_REPLACE: c->replace = 1; break;
        case O_JSON: c->json = 1; break;
        case O_WHY: c->why = optarg; break;
        case O_WHO: c->who = optarg; break;
        case O_SINCE:
            if (parse_since(optarg, c->now, &c->since_filter) < 0) {
                fprintf(stderr, "dnsblctl: --since '%s': want a duration (1h) or a time (2026-11-22T15:04:05Z)\n", optarg);
                return -1;
            }
            break;
        case O_FORMAT: c->format = optarg; break;
        case O_COUNTRY: {
            if (strlen(optarg) != 2 || !isalpha((unsigned char)optarg[0]) || !isalpha((unsigned char)optarg[1])) {
                fprintf(stderr, "dnsblctl: --country '%s': want a two-letter ISO 3166 code such as JP\n", optarg);
                return -1;
            }
            c->country[0] = (char)toupper((unsigned char)optarg[0]);
            c->country[1] = (char)toupper((unsigned char)optarg[1]);
            break;
        }
        case O_LIMIT: {
            uint32_t v;
            if (conf_uint(optarg, 100000, &v) < 0 || v == 0) {
                fprintf(stderr, "dnsblctl: --limit '%s': want a number from 1 to 100000\n", optarg);
                return -1;
            }
            c->limit = (int)v;
            break;
        }
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (c->why && strlen(c->why) > 400) {
        fprintf(stderr, "dnsblctl: --why is longer than 400 characters\n");
        return -1;
    }
    if (!c->who)
        c->who = default_who();
    return 0;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    int n = argc - 1;
    if (!strcmp(cmd, "add") && n == 2) return cmd_add(c, argv[1], argv[2]);
    if (!strcmp(cmd, "allow") && n == 2) return c->allow = 1, cmd_add(c, argv[1], argv[2]);
    if (!strcmp(cmd, "unallow") && n == 2) return cmd_unallow(c, argv[1], argv[2]);
    if (!strcmp(cmd, "delist") && n == 2) return cmd_delist(c, argv[1], argv[2]);
    if (!strcmp(cmd, "list") && n <= 1) return cmd_list(c, n ? argv[1] : NULL);
    if (!strcmp(cmd, "show") && n == 1) return cmd_show(c, argv[1]);
    if (!strcmp(cmd, "top") && n == 0) return cmd_top(c);
    if (!strcmp(cmd, "stats") && n == 0) return cmd_stats(c);
    if (!strcmp(cmd, "history") && n <= 1) return cmd_history(c, n ? argv[1] : NULL);
    if (!strcmp(cmd, "import") && n == 2) return cmd_import(c, argv[1], argv[2]);
    if (!strcmp(cmd, "purge") && n <= 1) return cmd_purge(c, n ? argv[1] : NULL);
    if (!strcmp(cmd, "expire") && n == 0) return cmd_expire(c);
    if (!strcmp(cmd, "domestic") && n == 2) return cmd_domestic(c, argv[1], argv[2], 1);
    if (!strcmp(cmd, "undomestic") && n == 2) return cmd_domestic(c, argv[1], argv[2], 0);
    if (!strcmp(cmd, "export") && (n == 1 || n == 2)) return cmd_export(c, argv[1], n == 2 ? argv[2] : "-");
    fprintf(stderr, "dnsblctl: bad command or arguments: %s (see --help)\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct ctl c = { .db_dir = "./var/db", .zones_dir = "./zones", .now = (uint32_t)time(NULL), .limit = 20 };
    char err[1024];
    if (parse_args(argc, argv, &c) < 0)
        return EXIT_USAGE;
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (zoneset_load(c.zones_dir, &c.zones, err, sizeof err) < 0) {
        fprintf(stderr, "dnsblctl: %s\n", err);
        return EXIT_USAGE;
    }
    int rc;
    if (store_open(&c.store, c.db_dir, 0, err, sizeof err) < 0 ||
        zoneset_bind(&c.zones, &c.store, err, sizeof err) < 0 || history_open(&c, err, sizeof err) < 0) {
        fprintf(stderr, "dnsblctl: store: %s\n", err);
        rc = EXIT_STORE;
    } else {
        rc = dispatch(&c, argc - optind, argv + optind);
    }
    store_close(&c.store);
    zoneset_free(&c.zones);
    return rc;
}
