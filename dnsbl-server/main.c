/* main.c - dnsbl-server: options, startup, signals, reload and shutdown.
 *
 * Startup order matters: open the store and read the zones (so a bad configuration fails before any
 * socket is taken), bind every socket, detach, drop privileges, and only then start the worker
 * threads. SIGHUP re-reads the zones directory; a bad file keeps the old configuration. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "indexer.h"
#include "notify.h"
#include "server.h"

#define VERSION "0.1"

static void usage(FILE *f)
{
    fprintf(f,
"usage: dnsbl-server [options]\n"
"Serves the listings of an LMDB store as DNSBL zones (RFC 5782) over UDP and TCP.\n"
"\n"
"  --db DIR            LMDB store (default ./var/db; created if missing)\n"
"  --zones DIR         zone configuration, one *.conf per zone (default ./zones)\n"
"  --listen ADDR:PORT  UDP+TCP address, repeatable: 127.0.0.1:53, [::1]:53\n"
"                      (default 127.0.0.1:5353)\n"
"  --threads N         per thread a UDP worker on every listen address and a TCP\n"
"                      worker, each with its own sockets (default 1, at most 64)\n"
"  --user NAME         drop privileges to NAME after binding\n"
"  --foreground        stay in the foreground and log to stderr\n"
"  --syslog            log to syslog (the default when detached)\n"
"  --pidfile FILE      write the process id to FILE\n"
"  --query-log         log every query (slow; for debugging)\n"
"  --tcp-max N         open TCP connections at most (default 256)\n"
"  --tcp-idle SECONDS  close idle TCP connections after this (default 10)\n"
"  --tcp-timeout MS    a query message must arrive whole within this; trickled\n"
"                      bytes do not extend it (default 2000)\n"
"  --tcp-per-source N  TCP connections one address (IPv6: /64) may hold (default 16)\n"
"  --rrl N             response rate limiting: N responses a second per source\n"
"                      prefix (/24, /56) and answer (default 0: off)\n"
"  --rrl-slip N        over the rate, every Nth response is sent truncated so real\n"
"                      resolvers retry over TCP; the rest are dropped (default 2)\n"
"  --index-memory MB   in-memory indexes of the zones' keys take at most this;\n"
"                      a zone that does not fit is searched in the store\n"
"                      (default 512; 0: no indexes)\n"
"  --metrics ADDR:PORT Prometheus metrics over HTTP: GET /metrics\n"
"  --policy-postfix ADDR:PORT|unix:PATH\n"
"                      Postfix policy delegation (check_policy_service), repeatable\n"
"  --policy-dovecot ADDR:PORT\n"
"                      Dovecot authentication policy (auth_policy_server_url) over HTTP\n"
"  --policy-dovecot-key FILE\n"
"                      require the header in FILE ('Name: value', as Dovecot's\n"
"                      auth_policy_server_api_header) on every Dovecot request\n"
"  --policy-max-conns N  Postfix policy connections at once (default 256)\n"
"  --policy-idle SECONDS close idle policy connections after this (default 300)\n"
"  --geoip FILE        MaxMind country database: domestic-only accounts\n"
"  --verbose           debug messages\n"
"  --help, --version\n"
"\n"
"Signals: HUP reloads the zones directory, TERM and INT stop.\n");
}

static int parse_listen(const char *arg, struct server *srv)
{
    if (srv->nlisten == SERVER_MAX_LISTEN)
        return -1;
    struct sockaddr_storage *ss = &srv->listen[srv->nlisten];
    int len = sizeof *ss;
    memset(ss, 0, sizeof *ss);
    if (evutil_parse_sockaddr_port(arg, (struct sockaddr *)ss, &len) < 0)
        return -1;
    if ((ss->ss_family == AF_INET && ((struct sockaddr_in *)ss)->sin_port == 0) ||
        (ss->ss_family == AF_INET6 && ((struct sockaddr_in6 *)ss)->sin6_port == 0))
        return -1;
    srv->nlisten++;
    return 0;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct server *srv)
{
    enum { O_DB = 256, O_ZONES, O_LISTEN, O_THREADS, O_USER, O_FG, O_SYSLOG, O_PID, O_QLOG,
           O_TCPMAX, O_TCPIDLE, O_VERBOSE, O_HELP, O_VERSION, O_METRICS, O_TCPTIMEOUT, O_TCPSOURCE, O_RRL, O_RRLSLIP, O_INDEXMEM,
           O_PF, O_DV, O_DVKEY, O_PMAX, O_PIDLE, O_GEOIP };
    static const struct option opts[] = {
        { "db", 1, 0, O_DB }, { "zones", 1, 0, O_ZONES }, { "listen", 1, 0, O_LISTEN },
        { "threads", 1, 0, O_THREADS }, { "user", 1, 0, O_USER }, { "foreground", 0, 0, O_FG },
        { "syslog", 0, 0, O_SYSLOG }, { "pidfile", 1, 0, O_PID }, { "query-log", 0, 0, O_QLOG },
        { "tcp-max", 1, 0, O_TCPMAX }, { "tcp-idle", 1, 0, O_TCPIDLE }, { "verbose", 0, 0, O_VERBOSE },
        { "help", 0, 0, O_HELP }, { "version", 0, 0, O_VERSION }, { "metrics", 1, 0, O_METRICS },
        { "tcp-timeout", 1, 0, O_TCPTIMEOUT }, { "tcp-per-source", 1, 0, O_TCPSOURCE },
        { "index-memory", 1, 0, O_INDEXMEM }, { "rrl", 1, 0, O_RRL }, { "rrl-slip", 1, 0, O_RRLSLIP }, { "policy-postfix", 1, 0, O_PF },
        { "policy-dovecot", 1, 0, O_DV }, { "policy-dovecot-key", 1, 0, O_DVKEY },
        { "policy-max-conns", 1, 0, O_PMAX }, { "policy-idle", 1, 0, O_PIDLE }, { "geoip", 1, 0, O_GEOIP },
        { 0, 0, 0, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0, mb;
        switch (c) {
        case O_DB: srv->db_dir = optarg; break;
        case O_ZONES: srv->zones_dir = optarg; break;
        case O_LISTEN: bad = parse_listen(optarg, srv); break;
        case O_THREADS: bad = parse_int(optarg, 1, 64, &srv->nthreads); break;
        case O_USER: srv->user = optarg; break;
        case O_FG: srv->foreground = 1; break;
        case O_SYSLOG: srv->use_syslog = 1; break;
        case O_PID: srv->pidfile = optarg; break;
        case O_QLOG: srv->query_log = 1; break;
        case O_TCPMAX: bad = parse_int(optarg, 1, 1000000, &srv->tcp_max_conns); break;
        case O_TCPIDLE: bad = parse_int(optarg, 1, 3600, &srv->tcp_idle_seconds); break;
        case O_TCPTIMEOUT: bad = parse_int(optarg, 50, 60000, &srv->tcp_timeout_ms); break;
        case O_TCPSOURCE: bad = parse_int(optarg, 1, 1000000, &srv->tcp_per_source); break;
        case O_RRL: bad = parse_int(optarg, 0, 1000000, &srv->rrl_rate); break;
        case O_RRLSLIP: bad = parse_int(optarg, 0, 100, &srv->rrl_slip); break;
        case O_INDEXMEM:
            bad = parse_int(optarg, 0, 1 << 20, &mb);
            srv->index_memory = (size_t)mb << 20;
            break;
        case O_VERBOSE: srv->verbose = 1; break;
        case O_METRICS: srv->metrics_addr = optarg; break;
        case O_PF:
            bad = srv->policy_opts.npostfix == POLICY_MAX_LISTEN;
            if (!bad)
                srv->policy_opts.postfix[srv->policy_opts.npostfix++] = optarg;
            break;
        case O_DV: srv->policy_opts.dovecot = optarg; break;
        case O_DVKEY: srv->policy_opts.dovecot_key_file = optarg; break;
        case O_PMAX: bad = parse_int(optarg, 1, 100000, &srv->policy_opts.max_conns); break;
        case O_PIDLE: bad = parse_int(optarg, 1, 3600, &srv->policy_opts.idle_seconds); break;
        case O_GEOIP: srv->policy_opts.geoip = optarg; break;
        case O_HELP: usage(stdout); exit(0);
        case O_VERSION: printf("dnsbl-server %s\n", VERSION); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "dnsbl-server: bad value for --%s: '%s'\n", opts[c - O_DB].name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dnsbl-server: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (srv->nlisten == 0)
        parse_listen("127.0.0.1:5353", srv);
    if (srv->policy_opts.dovecot_key_file && !srv->policy_opts.dovecot) {
        fprintf(stderr, "dnsbl-server: --policy-dovecot-key without --policy-dovecot\n");
        return -1;
    }
    return 0;
}

static int drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "--user %s: no such user", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        snprintf(err, errlen, "--user %s: %s", user, strerror(errno));
        return -1;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        snprintf(err, errlen, "--user %s: could regain root", user);
        return -1;
    }
    return 0;
}

static struct zoneset *load_zones(struct server *srv, char *err, size_t errlen)
{
    struct zoneset *zs = calloc(1, sizeof *zs);
    if (!zs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (zoneset_load(srv->zones_dir, zs, err, errlen) < 0) {
        free(zs);
        return NULL;
    }
    if (zoneset_bind(zs, &srv->store, err, errlen) < 0) {
        zoneset_free(zs);
        free(zs);
        return NULL;
    }
    return zs;
}

/* Every IP zone gets a /24 map and every zone a key filter (v4map.h), by metric slot so that they
 * survive reloads (a slot stays with a zone name, and so with its sub-database). Without one (no
 * memory, no slot) the zone is simply searched in full. */
static void attach_v4maps(struct server *srv, const struct zoneset *zs)
{
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        if (!z->slot)
            continue;
        if (z->kind == ZONE_IP && !srv->v4maps[z->slot] && !(srv->v4maps[z->slot] = v4map_new()))
            log_warn("zone %s: no memory for its /24 map; every query searches the store", z->name);
        if (!srv->keymaps[z->slot] && !(srv->keymaps[z->slot] = v4map_new()))
            log_warn("zone %s: no memory for its key filter; every query searches the store", z->name);
    }
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    char err[1024];
    (void)sig, (void)what;
    struct zoneset *fresh = load_zones(srv, err, sizeof err);
    if (!fresh) {
        srv->reloads_failed++;
        log_err("reload failed, keeping the old configuration: %s", err);
        return;
    }
    metrics_assign_slots(srv, fresh);
    attach_v4maps(srv, fresh);
    srv->reloads_ok++;
    indexer_set_zones(srv->indexer, fresh);
    struct zoneset *old = atomic_exchange(&srv->zones, fresh);
    server_quiesce(srv, old);
    policy_server_quiesce(srv->policy, old);
    zoneset_free(old);
    free(old);
    log_info("reloaded %s: %d zones", srv->zones_dir, fresh->n);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    (void)what;
    log_info("signal %d: stopping", (int)sig);
    event_base_loopbreak(srv->base);
}

/* The process that parses packets from the network never writes the store. Before any socket is
 * read, a short read-write open creates the store and every configured zone's sub-database if they
 * are missing (so the server may start before the feeder); the store is then opened read-only for
 * good. Where we may not write (the store belongs to the feeder's user), the read-only open alone
 * decides. */
static void prepare_store(struct server *srv)
{
    char err[1024];
    struct store st;
    struct zoneset zs;
    if (zoneset_load(srv->zones_dir, &zs, err, sizeof err) < 0)
        return;     /* load_zones reports it */
    if (store_open(&st, srv->db_dir, 0, err, sizeof err) == 0) {
        if (zoneset_bind(&zs, &st, err, sizeof err) < 0)
            log_debug("store: %s", err);
        store_close(&st);
    } else {
        log_debug("store: cannot open read-write to prepare it: %s", err);
    }
    zoneset_free(&zs);
}

static int run(struct server *srv)
{
    char err[1024] = "";
    struct zoneset *zs;
    prepare_store(srv);
    if (store_open(&srv->store, srv->db_dir, STORE_READONLY, err, sizeof err) < 0) {
        log_err("store: %s", err);
        return 1;
    }
    if (!(zs = load_zones(srv, err, sizeof err))) {
        log_err("%s", err);
        return 1;
    }
    metrics_assign_slots(srv, zs);
    attach_v4maps(srv, zs);
    atomic_store(&srv->zones, zs);
    if (server_open_sockets(srv, err, sizeof err) < 0) {
        log_err("listen: %s", err);
        return 1;
    }
    if ((srv->policy_opts.npostfix || srv->policy_opts.dovecot) &&
        !(srv->policy = policy_server_open(srv, &srv->policy_opts, err, sizeof err))) {
        log_err("policy: %s", err);
        return 1;
    }
    if (!srv->foreground) {
        if (daemon(1, 0) < 0) {
            log_err("daemon: %s", strerror(errno));
            return 1;
        }
        log_open("dnsbl-server", 1, srv->verbose);
    }
    if (srv->pidfile) {
        FILE *f = fopen(srv->pidfile, "w");
        if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
            log_err("--pidfile %s: %s", srv->pidfile, strerror(errno));
            return 1;
        }
    }
    if (srv->user && drop_privileges(srv->user, err, sizeof err) < 0) {
        log_err("%s", err);
        return 1;
    }
    srv->base = event_base_new();
    if (!srv->base || server_start_workers(srv, err, sizeof err) < 0) {
        log_err("start: %s", srv->base ? err : "cannot create the event base");
        return 1;
    }
    if (srv->index_memory && !(srv->indexer = indexer_start(srv, srv->index_memory, err, sizeof err))) {
        log_err("%s", err);
        return 1;
    }
    if (srv->policy && policy_server_start(srv->policy, err, sizeof err) < 0) {
        log_err("%s", err);
        return 1;
    }
    if (srv->metrics_addr &&
        !(srv->metrics = metrics_http_start(srv->base, srv->metrics_addr, metrics_render, srv, err, sizeof err))) {
        log_err("%s", err);
        return 1;
    }
    struct event *hup = evsignal_new(srv->base, SIGHUP, on_reload, srv);
    struct event *term = evsignal_new(srv->base, SIGTERM, on_stop, srv);
    struct event *intr = evsignal_new(srv->base, SIGINT, on_stop, srv);
    evsignal_add(hup, NULL), evsignal_add(term, NULL), evsignal_add(intr, NULL);
    struct notifier *notifier = notify_start(srv, err, sizeof err);     /* zone transfers: notify.c */
    if (!notifier)
        log_warn("notify: %s", err);
    log_info("serving %d zones from %s with %d thread%s (%d UDP and %d TCP workers)", zs->n, srv->db_dir,
             srv->nthreads, srv->nthreads > 1 ? "s" : "", srv->nthreads * srv->nlisten, srv->nthreads);
    event_base_dispatch(srv->base);
    event_free(hup), event_free(term), event_free(intr);
    notify_stop(notifier);
    metrics_http_stop(srv->metrics);
    srv->metrics = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    struct server srv = { .db_dir = "./var/db", .zones_dir = "./zones", .nthreads = 1,
                          .tcp_max_conns = 256, .tcp_idle_seconds = 10, .tcp_timeout_ms = 2000,
                          .tcp_per_source = 16, .rrl_slip = 2, .index_memory = (size_t)512 << 20,
                          .policy_opts = { .max_conns = 256, .idle_seconds = 300 } };
    if (parse_args(argc, argv, &srv) < 0)
        return 2;
    log_open("dnsbl-server", srv.use_syslog, srv.verbose);
    signal(SIGPIPE, SIG_IGN);
    int rc = run(&srv);
    policy_server_stop(srv.policy);
    indexer_stop(srv.indexer);      /* its grace periods need the workers */
    server_stop_workers(&srv);
    struct zoneset *zs = atomic_load(&srv.zones);
    if (zs) {
        zoneset_free(zs);
        free(zs);
    }
    if (srv.base)
        event_base_free(srv.base);
    for (int i = 0; i < METRIC_ZONES; i++) {
        v4map_free(srv.v4maps[i]);
        v4map_free(srv.keymaps[i]);
    }
    store_close(&srv.store);
    if (srv.pidfile && rc == 0)
        unlink(srv.pidfile);
    return rc;
}
