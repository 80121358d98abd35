/* dnsblctl.c - the operator's tool: add, delist, list, show, import and purge listings.
 *
 * Every command checks its input completely before it opens a write transaction, so bad input
 * changes nothing. Exit codes: 0 done, 1 not found / not listed, 2 bad usage or input,
 * 3 store or system error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "conf.h"
#include "import.h"
#include "store.h"
#include "zone.h"

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_STORE = 3 };

struct ctl {
    const char *db_dir, *zones_dir;
    const char *code, *reason;
    uint32_t expires_in;        /* seconds from now, 0 = never */
    int allow, all, replace;
    struct store store;
    struct zoneset zones;
    uint32_t now;
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: dnsblctl [--db DIR] [--zones DIR] COMMAND ...\n"
"\n"
"  add ZONE ENTRY [--code C] [--reason TEXT] [--expires DURATION] [--allow]\n"
"                 list ENTRY (or, with --allow, exclude it) by hand; the feeder never\n"
"                 overwrites a manual entry. C is a code name or address of the zone.\n"
"  delist ZONE ENTRY     remove the entry\n"
"  list ZONE [--all]     live entries (--all: expired ones too)\n"
"  show ENTRY            every zone that lists ENTRY, with codes, reasons and times\n"
"  import ZONE FILE|- [--replace] [--expires DURATION]\n"
"                 load an rbldnsd data file (ip4set, ip6tset, dnset) in one transaction\n"
"  purge [ZONE]          delete expired entries\n"
"\n"
"ENTRY: an IPv4 or IPv6 address, a CIDR network, a domain (*.example.com: subdomains,\n"
".example.com: the domain and its subdomains) or, in an account zone, an account name.\n"
"DURATION: 90s, 10m, 1h, 2d, 1w; 0 or never for no expiry.\n"
"Options: --db DIR (default ./var/db), --zones DIR (default ./zones).\n"
"Exit: 0 done, 1 not found or not listed, 2 bad usage or input, 3 store error.\n");
}

static const char *fmt_time(uint32_t t, char *buf, size_t n)
{
    if (t == 0)
        return "never";
    time_t tt = t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static const char *fmt_code(uint32_t c, char *buf, size_t n)
{
    snprintf(buf, n, "%u.%u.%u.%u", c >> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255);
    return buf;
}

struct entry {
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    uint8_t flags;              /* wildcard flags that the spelling implies */
};

/* ENTRY as the zone's kind understands it. */
static int parse_entry(const struct zone *z, const char *text, struct entry *e)
{
    e->flags = 0;
    if (z->kind == ZONE_IP) {
        struct ipnet net;
        int rc = net_parse(text, &net);
        if (rc < 0) {
            fprintf(stderr, "dnsblctl: '%s' is not an IP address or CIDR network (zone %s is an IP zone)\n",
                    text, z->name);
            return -1;
        }
        if (rc == 1) {
            char buf[64];
            fprintf(stderr, "dnsblctl: '%s' has host bits set; did you mean %s?\n", text,
                    net_format(&net, buf, sizeof buf));
            return -1;
        }
        e->klen = store_key_net(&net, e->key);
        return 0;
    }
    if (z->kind == ZONE_ACCOUNT) {
        char label[ACCOUNT_LABEL_LEN + 1];
        account_label(text, strlen(text), label);
        e->klen = store_key_domain(label, ACCOUNT_LABEL_LEN, e->key);
        return 0;
    }
    char name[DOMAIN_MAX + 1];
    if (!strncmp(text, "*.", 2))
        e->flags = LISTING_WILDCARD | LISTING_SUBDOMAINS, text += 2;
    else if (text[0] == '.')
        e->flags = LISTING_WILDCARD, text += 1;
    int len = domain_normalize(text, name, sizeof name);
    if (len < 0) {
        fprintf(stderr, "dnsblctl: '%s' is not a domain name (zone %s is a domain zone)\n", text, z->name);
        return -1;
    }
    e->klen = store_key_domain(name, (size_t)len, e->key);
    return 0;
}

static const char *fmt_key(const struct zone *z, const uint8_t *key, size_t klen, uint8_t flags,
                           char *buf, size_t n)
{
    struct ipnet net;
    char name[DOMAIN_MAX + 1];
    int kind = store_key_decode(key, klen, &net, name, sizeof name);
    if (kind == 'n')
        return net_format(&net, buf, n);
    if (kind == 'd') {
        const char *prefix = (flags & LISTING_SUBDOMAINS) ? "*." : (flags & LISTING_WILDCARD) ? "." : "";
        snprintf(buf, n, "%s%s%s", z->kind == ZONE_ACCOUNT ? "account:" : "", prefix, name);
        return buf;
    }
    return "?";
}

static struct zone *need_zone(struct ctl *c, const char *name)
{
    struct zone *z = zoneset_find(&c->zones, name);
    if (!z) {
        fprintf(stderr, "dnsblctl: unknown zone '%s' (zones in %s:", name, c->zones_dir);
        for (int i = 0; i < c->zones.n; i++)
            fprintf(stderr, " %s", c->zones.zones[i].name);
        fprintf(stderr, ")\n");
    }
    return z;
}

static int cmd_add(struct ctl *c, const char *zone, const char *text)
{
    struct zone *z = need_zone(c, zone);
    struct entry e;
    if (!z || parse_entry(z, text, &e) < 0)
        return EXIT_USAGE;
    const struct zone_code *code = c->code ? zone_find_code(z, c->code) : &z->codes[z->default_code];
    if (c->allow && c->code) {
        fprintf(stderr, "dnsblctl: --allow and --code exclude each other\n");
        return EXIT_USAGE;
    }
    if (!code) {
        fprintf(stderr, "dnsblctl: zone %s has no code '%s'\n", z->name, c->code);
        return EXIT_USAGE;
    }
    const char *reason = c->reason ? c->reason : c->allow ? "allowed by the operator" : "";
    if (strlen(reason) > REASON_TEXT_MAX) {
        fprintf(stderr, "dnsblctl: --reason is longer than %d characters\n", REASON_TEXT_MAX);
        return EXIT_USAGE;
    }
    struct store_txn w;
    struct listing l;
    int rc = store_write_begin(&c->store, &w);
    if (rc != 0)
        goto fail;
    /* An existing manual listing keeps its other reasons; anything else is replaced. */
    int found = store_get(w.txn, z->dbi, e.key, e.klen, &l);
    if (found <= 0 || c->allow || (l.flags & (LISTING_ALLOW)) || !(l.flags & LISTING_MANUAL))
        l = (struct listing){ .since = c->now };
    l.flags = (uint8_t)(LISTING_MANUAL | e.flags | (c->allow ? LISTING_ALLOW : 0));
    struct reason r = { c->allow ? 0 : code->addr, c->expires_in ? c->now + c->expires_in : 0,
                        (uint8_t)strlen(reason), reason };
    if (listing_set_reason(&l, &r) < 0) {
        store_write_abort(&w);
        fprintf(stderr, "dnsblctl: the entry already has %d reasons\n", LISTING_MAX_REASONS);
        return EXIT_USAGE;
    }
    if ((rc = store_put(&w, z->dbi, e.key, e.klen, &l, 0)) != 0) {
        store_write_abort(&w);
        goto fail;
    }
    if ((rc = store_write_commit(&w, c->now)) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
    return EXIT_STORE;
}

static int cmd_delist(struct ctl *c, const char *zone, const char *text)
{
    struct zone *z = need_zone(c, zone);
    struct entry e;
    struct store_txn w;
    if (!z || parse_entry(z, text, &e) < 0)
        return EXIT_USAGE;
    int rc = store_write_begin(&c->store, &w);
    if (rc == 0 && (rc = store_del(&w, z->dbi, e.key, e.klen)) == MDB_NOTFOUND) {
        store_write_abort(&w);
        fprintf(stderr, "dnsblctl: %s has no entry %s (a covering network may list it: see 'show')\n",
                z->name, text);
        return EXIT_NOTFOUND;
    }
    if (rc != 0 || (rc = store_write_commit(&w, c->now)) != 0) {
        fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
        return EXIT_STORE;
    }
    return 0;
}

static void print_listing(const struct zone *z, const char *what, const struct listing *l, uint32_t now)
{
    char t1[32], t2[32], code[16];
    const char *state = (l->flags & LISTING_ALLOW) ? "allow" : listing_live(l, now) ? "listed" : "expired";
    printf("%s\t%s\t%s\tsince %s\n", what, state, (l->flags & LISTING_MANUAL) ? "manual" : "feeder",
           fmt_time(l->since, t1, sizeof t1));
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        const struct zone_code *zc = zone_code_by_addr(z, r->code);
        int live = r->expires == 0 || r->expires > now;
        printf("\t%s\t%s\t%s %s\t%.*s\n", r->code ? fmt_code(r->code, code, sizeof code) : "-",
               zc ? zc->name : "-", live ? "until" : "expired", fmt_time(r->expires, t2, sizeof t2),
               r->text_len ? r->text_len : (int)strlen(zc ? zc->meaning : ""),
               r->text_len ? r->text : (zc ? zc->meaning : ""));
    }
}

static int cmd_list(struct ctl *c, const char *zone)
{
    struct zone *z = need_zone(c, zone);
    if (!z)
        return EXIT_USAGE;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0 || (rc = mdb_cursor_open(txn, z->dbi, &cur)) != 0) {
        fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
        return EXIT_STORE;
    }
    size_t shown = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        char what[300];
        if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0)
            continue;
        if (!c->all && !listing_live(&l, c->now))
            continue;
        print_listing(z, fmt_key(z, k.mv_data, k.mv_size, l.flags, what, sizeof what), &l, c->now);
        shown++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    fprintf(stderr, "%zu entr%s in %s\n", shown, shown == 1 ? "y" : "ies", z->name);
    return 0;
}

/* 1 if the zone lists (or excludes) the entry, printing how. */
static int show_in_zone(struct ctl *c, MDB_txn *txn, const struct zone *z, const char *text)
{
    struct listing l;
    char what[300];
    if (z->kind == ZONE_IP) {
        struct ipnet net, matched;
        if (net_parse(text, &net) < 0)
            return 0;
        struct zone_meta meta;
        store_read_meta(txn, z->dbi, &meta);
        addr_unmap_v4(&net.addr);
        int rc = store_lookup_ip(txn, z->dbi, &meta, &net.addr, c->now, &l, &matched);
        if (rc < 0 || (rc == 0 && !(l.flags & LISTING_ALLOW)) || matched.plen > net.plen)
            return 0;
        snprintf(what, sizeof what, "%s\t%s", z->name, net_format(&matched, (char[64]){0}, 64));
        print_listing(z, what, &l, c->now);
        return 1;
    }
    struct entry e;
    char name[DOMAIN_MAX + 1];
    if (z->kind == ZONE_ACCOUNT) {
        if (parse_entry(z, text, &e) < 0 || store_get(txn, z->dbi, e.key, e.klen, &l) <= 0 ||
            !listing_live(&l, c->now))
            return 0;
        snprintf(what, sizeof what, "%s\taccount:%s", z->name, text);
        print_listing(z, what, &l, c->now);
        return 1;
    }
    int len = domain_normalize(text, name, sizeof name);
    size_t off = 0;
    if (len < 0)
        return 0;
    int rc = store_lookup_domain(txn, z->dbi, name, (size_t)len, c->now, &l, &off);
    if (rc < 0 || (rc == 0 && !(l.flags & LISTING_ALLOW)))
        return 0;
    snprintf(what, sizeof what, "%s\t%s%s", z->name, off ? "." : "", name + off);
    print_listing(z, what, &l, c->now);
    return 1;
}

static int cmd_show(struct ctl *c, const char *text)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
        return EXIT_STORE;
    }
    int hits = 0;
    for (int i = 0; i < c->zones.n; i++)
        hits += show_in_zone(c, txn, &c->zones.zones[i], text);
    mdb_txn_abort(txn);
    if (!hits)
        printf("%s: not listed in any zone\n", text);
    return hits ? 0 : EXIT_NOTFOUND;
}

static int cmd_import(struct ctl *c, const char *zone, const char *file)
{
    struct zone *z = need_zone(c, zone);
    if (!z)
        return EXIT_USAGE;
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        fprintf(stderr, "dnsblctl: %s: %s\n", file, strerror(errno));
        return EXIT_USAGE;
    }
    struct importer im;
    char err[1024];
    size_t written;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    importer_init(&im, z, c->now, c->expires_in ? c->now + c->expires_in : 0);
    int rc = import_file(&im, f, strcmp(file, "-") ? file : "stdin", err, sizeof err);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        fprintf(stderr, "dnsblctl: %s; nothing imported\n", err);
        importer_free(&im);
        return EXIT_USAGE;
    }
    if (import_commit(&im, &c->store, c->replace, &written, err, sizeof err) < 0) {
        fprintf(stderr, "dnsblctl: %s; nothing imported\n", err);
        importer_free(&im);
        return EXIT_STORE;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "imported %zu entries into %s from %zu lines%s in %.2fs", written, z->name, im.lines,
            c->replace ? " (replacing the zone)" : "",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (im.directives)
        fprintf(stderr, "; %zu $-directive lines skipped (the zone file sets SOA, NS and TTL)", im.directives);
    fprintf(stderr, "\n");
    importer_free(&im);
    return 0;
}

static int purge_zone(struct ctl *c, struct store_txn *w, const struct zone *z, size_t *purged)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, z->dbi, &cur);
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0 ||
            listing_live(&l, c->now))
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*purged)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cmd_purge(struct ctl *c, const char *zone)
{
    struct zone *only = zone ? need_zone(c, zone) : NULL;
    struct store_txn w;
    size_t purged = 0;
    if (zone && !only)
        return EXIT_USAGE;
    int rc = store_write_begin(&c->store, &w);
    for (int i = 0; rc == 0 && i < c->zones.n; i++)
        if (!only || only == &c->zones.zones[i])
            rc = purge_zone(c, &w, &c->zones.zones[i], &purged);
    if (rc != 0 || (rc = store_write_commit(&w, c->now)) != 0) {
        if (rc != 0 && w.txn)
            fprintf(stderr, "dnsblctl: store: %s\n", mdb_strerror(rc));
        return EXIT_STORE;
    }
    fprintf(stderr, "purged %zu expired entr%s\n", purged, purged == 1 ? "y" : "ies");
    return 0;
}

static int parse_args(int argc, char **argv, struct ctl *c)
{
    enum { O_DB = 256, O_ZONES, O_CODE, O_REASON, O_EXPIRES, O_ALLOW, O_ALL, O_REPLACE, O_HELP };
    static const struct option opts[] = {
        { "db", 1, 0, O_DB }, { "zones", 1, 0, O_ZONES }, { "code", 1, 0, O_CODE },
        { "reason", 1, 0, O_REASON }, { "expires", 1, 0, O_EXPIRES }, { "allow", 0, 0, O_ALLOW },
        { "all", 0, 0, O_ALL }, { "replace", 0, 0, O_REPLACE }, { "help", 0, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_DB: c->db_dir = optarg; break;
        case O_ZONES: c->zones_dir = optarg; break;
        case O_CODE: c->code = optarg; break;
        case O_REASON: c->reason = optarg; break;
        case O_EXPIRES:
            if (conf_duration(optarg, &c->expires_in) < 0) {
                fprintf(stderr, "dnsblctl: --expires '%s': want a duration such as 90s, 10m, 1h, 2d or never\n", optarg);
                return -1;
            }
            break;
        case O_ALLOW: c->allow = 1; break;
        case O_ALL: c->all = 1; break;
        case O_REPLACE: c->replace = 1; break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    return 0;
}

static int dispatch(struct ctl *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    int n = argc - 1;
    if (!strcmp(cmd, "add") && n == 2) return cmd_add(c, argv[1], argv[2]);
    if (!strcmp(cmd, "delist") && n == 2) return cmd_delist(c, argv[1], argv[2]);
    if (!strcmp(cmd, "list") && n == 1) return cmd_list(c, argv[1]);
    if (!strcmp(cmd, "show") && n == 1) return cmd_show(c, argv[1]);
    if (!strcmp(cmd, "import") && n == 2) return cmd_import(c, argv[1], argv[2]);
    if (!strcmp(cmd, "purge") && n <= 1) return cmd_purge(c, n ? argv[1] : NULL);
    fprintf(stderr, "dnsblctl: bad command or arguments: %s (see --help)\n", cmd);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct ctl c = { .db_dir = "./var/db", .zones_dir = "./zones", .now = (uint32_t)time(NULL) };
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
        zoneset_bind(&c.zones, &c.store, err, sizeof err) < 0) {
        fprintf(stderr, "dnsblctl: store: %s\n", err);
        rc = EXIT_STORE;
    } else {
        rc = dispatch(&c, argc - optind, argv + optind);
    }
    store_close(&c.store);
    zoneset_free(&c.zones);
    return rc;
}
