/* main.c - feeder: options, the input loop, commits, signals. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feeder.h"
#include "metrics.h"
#include "log.h"
#include "source.h"

#define MAX_FILES 64
#define POLL_MS 10
#define ROTATE_GRACE_MS 5000    /* how long a renamed log file is read on after its last write */

struct options {
    const char *db, *zones, *geoip;
    const char *files[MAX_FILES];
    int nfiles;
    const char *udp[SYSLOG_MAX_LISTEN], *tcp[SYSLOG_MAX_LISTEN];
    int nudp, ntcp;
    const char *allow[SYSLOG_MAX_ALLOW];
    int nallow;
    int syslog_idle_s, syslog_per_source;
    int once, replay, dump, verbose;
    int commit_ms;
    int grace_set, grace_ms;    /* --rotate-grace; ROTATE_GRACE_MS when not set */
    long max_skew;              /* -1: the default */
    long max_sources, max_queue;    /* caps on the state in memory; -1: the defaults */
    const char *metrics;
};

struct run {
    struct options *o;
    struct feeder f;
    struct file_set fset;       /* positions per file, shared by the names in files[] */
    struct file_source files[MAX_FILES];
    struct syslog_source syslog;
    struct event_base *base;
    int dirty, stdin_done;
    uint64_t syslog_seen;       /* syslog messages counted at the previous tick */
    int64_t last_commit_ms;
    int failed;
};

static void usage(FILE *out)
{
    fprintf(out,
"usage: feeder [options] [FILE ... | -]\n"
"Reads Postfix and Dovecot logs (files it follows, stdin, syslog over UDP/TCP), keeps sliding-window\n"
"ratings per address, /64, sender domain and account, and lists what crosses a zone's rules.\n"
"\n"
"  --db DIR              LMDB store shared with dnsbl-server (default ./var/db)\n"
"  --zones DIR           zone files with the rules (default ./zones)\n"
"  --geoip FILE.mmdb     MaxMind DB for countries (without it, country rules are off)\n"
"  --once                read the files to their end, commit and exit (again: adds nothing)\n"
"  --follow              keep following the files like tail -F (the default)\n"
"  --replay              shift the log's time stamps so its first event is now\n"
"  --syslog-udp ADDR:PORT   receive syslog (RFC 3164/5424) over UDP; repeatable\n"
"  --syslog-tcp ADDR:PORT   ... over TCP (RFC 6587 octet counting or one per line)\n"
"  --allow-from CIDR     syslog senders to accept (repeatable; default 127.0.0.0/8 and ::1)\n"
"  --syslog-idle-timeout SECONDS  close TCP connections silent this long (default 300; 0: never)\n"
"  --syslog-max-per-source N      TCP connections per sender address (default 8; 1 to 256)\n"
"  --commit-interval MS  at most this long between an event and its commit (default 100)\n"
"  --rotate-grace SEC    read a renamed log file on until it has had no writes this long (default 5)\n"
"  --max-skew SECONDS    events dated further ahead of the clock are counted at the clock's time\n"
"                        (a host with a wrong clock or time zone; default 300)\n"
"  --max-sources N       sources (addresses, /64s, domains, accounts) kept at most; beyond it the least\n"
"                        recently seen are dropped (default 4000000, about 450 MB; 0: no cap)\n"
"  --max-queue N         queue IDs being joined at most, likewise (default 1000000; 0: no cap)\n"
"  --metrics ADDR:PORT   Prometheus metrics over HTTP (GET /metrics), in the following mode\n"
"  --dump                print the stored counters and state, sorted, and exit\n"
"  --verbose, --help\n"
"\n"
"Signals: HUP re-reads the zones (rules), TERM and INT commit and stop.\n");
}

/* A whole number option within [lo, hi]: 0, or -1 with the reason on stderr. */
static int num_option(const char *name, const char *arg, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi) {
        fprintf(stderr, "feeder: --%s '%s': want a number from %ld to %ld\n", name, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int int_option(const char *name, const char *arg, long lo, long hi, int *out)
{
    long v;
    if (num_option(name, arg, lo, hi, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { O_DB = 256, O_ZONES, O_GEO, O_ONCE, O_FOLLOW, O_REPLAY, O_UDP, O_TCP, O_ALLOW, O_COMMIT,
           O_DUMP, O_VERBOSE, O_HELP, O_METRICS, O_MAX_SKEW, O_SYSLOG_IDLE, O_SYSLOG_PER_SOURCE };
    static const struct option opts[] = {
        { "db", 1, 0, O_DB }, { "zones", 1, 0, O_ZONES }, { "geoip", 1, 0, O_GEO }, { "once", 0, 0, O_ONCE },
        { "follow", 0, 0, O_FOLLOW }, { "replay", 0, 0, O_REPLAY }, { "syslog-udp", 1, 0, O_UDP },
        { "syslog-tcp", 1, 0, O_TCP }, { "allow-from", 1, 0, O_ALLOW }, { "commit-interval", 1, 0, O_COMMIT },
        { "dump", 0, 0, O_DUMP }, { "verbose", 0, 0, O_VERBOSE }, { "help", 0, 0, O_HELP },
        { "metrics", 1, 0, O_METRICS }, { "max-skew", 1, 0, O_MAX_SKEW },
        { "max-sources", 1, 0, 'S' }, { "max-queue", 1, 0, 'Q' },
        { "syslog-idle-timeout", 1, 0, O_SYSLOG_IDLE }, { "syslog-max-per-source", 1, 0, O_SYSLOG_PER_SOURCE },
        { "rotate-grace", 1, 0, 'g' },
        { 0, 0, 0, 0 },
    };
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DB: o->db = optarg; break;
        case O_ZONES: o->zones = optarg; break;
        case O_GEO: o->geoip = optarg; break;
        case O_ONCE: o->once = 1; break;
        case O_FOLLOW: o->once = 0; break;
        case O_REPLAY: o->replay = 1; break;
        case O_UDP: if (o->nudp == SYSLOG_MAX_LISTEN) goto many; o->udp[o->nudp++] = optarg; break;
        case O_TCP: if (o->ntcp == SYSLOG_MAX_LISTEN) goto many; o->tcp[o->ntcp++] = optarg; break;
        case O_ALLOW: if (o->nallow == SYSLOG_MAX_ALLOW) goto many; o->allow[o->nallow++] = optarg; break;
        case O_COMMIT: bad = int_option("commit-interval", optarg, 1, 60000, &o->commit_ms); break;
        case O_MAX_SKEW: bad = num_option("max-skew", optarg, 0, 86400, &o->max_skew); break;
        case O_SYSLOG_IDLE: bad = int_option("syslog-idle-timeout", optarg, 0, 86400, &o->syslog_idle_s); break;
        case O_SYSLOG_PER_SOURCE:
            bad = int_option("syslog-max-per-source", optarg, 1, SYSLOG_MAX_CONNS, &o->syslog_per_source);
            break;
        case 'g': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 0 && v <= 3600)) {
                fprintf(stderr, "feeder: --rotate-grace '%s': want seconds from 0 to 3600\n", optarg);
                return -1;
            }
            o->grace_set = 1;
            o->grace_ms = (int)(v * 1000 + 0.5);
            break;
        }
        case 'S': bad = num_option("max-sources", optarg, 0, 1000000000, &o->max_sources); break;
        case 'Q': bad = num_option("max-queue", optarg, 0, 1000000000, &o->max_queue); break;
        case O_DUMP: o->dump = 1; break;
        case O_METRICS: o->metrics = optarg; break;
        case O_VERBOSE: o->verbose = 1; break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (bad)
        return -1;
    for (int i = optind; i < argc; i++) {
        if (o->nfiles == MAX_FILES)
            goto many;
        o->files[o->nfiles++] = argv[i];
    }
    if (o->once && (o->nudp || o->ntcp || o->metrics)) {
        fprintf(stderr, "feeder: --once reads files and exits; syslog listeners and --metrics need the following mode\n");
        return -1;
    }
    if (!o->dump && !o->nfiles && !o->nudp && !o->ntcp) {
        fprintf(stderr, "feeder: nothing to read: give files, '-', --syslog-udp or --syslog-tcp\n");
        return -1;
    }
    return 0;
many:
    fprintf(stderr, "feeder: too many files or listeners\n");
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int save_positions(void *arg, MDB_txn *txn, MDB_dbi meta)
{
    struct run *r = arg;
    return file_set_save(&r->fset, txn, meta);
}

static void commit(struct run *r)
{
    if (feeder_commit(&r->f, save_positions, r) < 0)
        r->failed = 1;
    else
        file_set_saved(&r->fset);
    r->dirty = 0;
    r->last_commit_ms = now_ms();
}

/* Reads what the files have; 1 if anything was read. */
static int poll_files(struct run *r, size_t budget)
{
    int any = 0;
    for (int i = 0; i < r->o->nfiles; i++) {
        struct file_source *s = &r->files[i];
        if (s->is_stdin && r->stdin_done)
            continue;
        long n = file_source_poll(s, budget);
        if (n == -2)
            r->stdin_done = 1;
        else if (n < 0)
            r->failed = 1;
        if (n > 0) {
            any = 1;
            r->dirty = 1;
        }
    }
    return any;
}

/* Commits come at most every commit interval while lines keep coming, and at once (next tick) when
 * the input goes quiet: a lone event reaches DNS in a tick plus a commit, a flood in batches. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct run *r = arg;
    (void)fd, (void)what;
    int read_any = 0;
    while (poll_files(r, 4 << 20) && now_ms() - r->last_commit_ms < r->o->commit_ms)
        read_any = 1;
    int quiet = !read_any && r->syslog.received == r->syslog_seen;
    r->syslog_seen = r->syslog.received;
    if (r->dirty && (quiet || now_ms() - r->last_commit_ms >= r->o->commit_ms))
        commit(r);
    if (feeder_expire(&r->f, (uint32_t)time(NULL)) < 0)    /* dnsbl-server never writes: we record expiries */
        r->failed = 1;
    if (r->failed || (r->stdin_done && r->o->nfiles == 1 && !r->syslog.nudp && !r->syslog.ntcp))
        event_base_loopbreak(r->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct run *r = arg;
    (void)what;
    if (sig == SIGHUP) {
        char err[1024];
        struct zoneset fresh;
        commit(r);      /* pending listings refer to the old zones */
        if (zoneset_load(r->o->zones, &fresh, err, sizeof err) < 0 ||
            zoneset_bind(&fresh, &r->f.store, err, sizeof err) < 0) {
            log_err("reload failed, keeping the old rules: %s", err);
            return;
        }
        zoneset_free(&r->f.zones);
        r->f.zones = fresh;
        log_info("reloaded %s: %d zones", r->o->zones, fresh.n);
        return;
    }
    log_info("signal %d: committing and stopping", (int)sig);
    event_base_loopbreak(r->base);
}

static void run_once(struct run *r)
{
    while (!r->failed && !r->stdin_done) {
        int any = poll_files(r, 1 << 20);
        if (now_ms() - r->last_commit_ms >= r->o->commit_ms)
            commit(r);
        if (!any)
            break;
    }
    commit(r);
    if (feeder_expire(&r->f, (uint32_t)time(NULL)) < 0)
        r->failed = 1;
}

static int run_follow(struct run *r)
{
    char err[1024];
    struct event *tick, *sig[3];
    r->base = event_base_new();
    r->syslog.f = &r->f;
    r->syslog.base = r->base;
    r->syslog.dirty = &r->dirty;
    r->syslog.idle_timeout_s = r->o->syslog_idle_s;
    r->syslog.max_per_source = r->o->syslog_per_source;
    const char *allow = r->o->nallow ? NULL : "127.0.0.0/8,::1";
    for (int i = 0; i < (allow ? 2 : r->o->nallow); i++) {
        const char *a = allow ? (i ? "::1" : "127.0.0.0/8") : r->o->allow[i];
        if (net_parse(a, &r->syslog.allow[r->syslog.nallow]) != 0) {
            log_err("--allow-from '%s': not a network (address/prefix without host bits)", a);
            return 2;
        }
        r->syslog.nallow++;
    }
    for (int i = 0; i < r->o->nudp; i++)
        if (syslog_listen_udp(&r->syslog, r->o->udp[i], err, sizeof err) < 0)
            goto fail;
    for (int i = 0; i < r->o->ntcp; i++)
        if (syslog_listen_tcp(&r->syslog, r->o->tcp[i], err, sizeof err) < 0)
            goto fail;
    struct feeder_metrics_view view = { .f = &r->f, .syslog = &r->syslog, .commit_ms = r->o->commit_ms,
                                        .files = &r->fset };
    struct metrics_http *metrics = NULL;
    if (r->o->metrics && !(metrics = metrics_http_start(r->base, r->o->metrics, feeder_metrics_render, &view, err, sizeof err)))
        goto fail;
    struct timeval tv = { 0, POLL_MS * 1000 };
    tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
    event_add(tick, &tv);
    int signals[3] = { SIGHUP, SIGTERM, SIGINT };
    for (int i = 0; i < 3; i++) {
        sig[i] = evsignal_new(r->base, signals[i], on_signal, r);
        evsignal_add(sig[i], NULL);
    }
    event_base_dispatch(r->base);
    commit(r);
    event_free(tick);
    for (int i = 0; i < 3; i++)
        event_free(sig[i]);
    metrics_http_stop(metrics);
    syslog_close(&r->syslog);
    event_base_free(r->base);
    return r->failed;
fail:
    log_err("%s", err);
    syslog_close(&r->syslog);
    event_base_free(r->base);
    return 1;
}

static void report(const struct run *r)
{
    const struct feeder_stats *s = &r->f.stats;
    log_info("%llu lines: %llu events, %llu skipped, %llu unparsable; %llu listing updates (%llu kept manual, "
             "%llu allowlisted); %llu commits; syslog %llu received, %llu dropped from unlisted senders",
             (unsigned long long)s->lines, (unsigned long long)(s->lines - s->skipped - s->unparsed),
             (unsigned long long)s->skipped, (unsigned long long)s->unparsed, (unsigned long long)s->listings,
             (unsigned long long)s->manual_kept, (unsigned long long)s->allowed, (unsigned long long)s->commits,
             (unsigned long long)r->syslog.received, (unsigned long long)r->syslog.dropped_peer);
    if (s->listings_lost)
        log_err("%llu listings were lost: no memory to queue them (feeder_listings_lost_total)",
                (unsigned long long)s->listings_lost);
    const struct state_stats *st = &r->f.state.stats;
    if (st->evicted_sources || st->evicted_queue)
        log_warn("at the caps, dropped the least recently seen: %llu sources (--max-sources %zu), %llu queue IDs "
                 "(--max-queue %zu)", (unsigned long long)st->evicted_sources, r->f.state.max_sources,
                 (unsigned long long)st->evicted_queue, r->f.state.max_queue);
    if (st->expired_queue)
        log_info("%llu queue IDs dropped after %us without a line (their removed line never came)",
                 (unsigned long long)st->expired_queue, r->f.state.queue_idle);
    for (int i = 0; i < r->o->nfiles; i++) {
        const struct file_source *fs = &r->files[i];
        if (fs->lost_bytes || fs->duplicates)
            log_warn("%s: %llu bytes lost (truncated or deleted before they were read); %llu times found to "
                     "be a file read under another name", fs->path, (unsigned long long)fs->lost_bytes,
                     (unsigned long long)fs->duplicates);
    }
}

int main(int argc, char **argv)
{
    static struct options o = { .db = "./var/db", .zones = "./zones", .commit_ms = 100, .max_skew = -1,
                                .max_sources = -1, .max_queue = -1,
                                .syslog_idle_s = 300, .syslog_per_source = 8 };
    static struct run r;
    char err[1024];
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    log_open("feeder", 0, o.verbose);
    signal(SIGPIPE, SIG_IGN);
    r.o = &o;
    if (o.dump) {
        struct store st;
        if (store_open(&st, o.db, 0, err, sizeof err) < 0 || state_dump(st.env, stdout, err, sizeof err) < 0) {
            log_err("%s", err);
            return 1;
        }
        store_close(&st);
        return 0;
    }
    int rc = 1;
    int64_t open_ms = now_ms();
    if (feeder_open(&r.f, o.db, o.zones, o.geoip, o.replay, err, sizeof err) < 0) {
        log_err("%s", err);
        goto out;
    }
    log_info("state loaded in %.2f s: %zu sources, %zu queue IDs", (double)(now_ms() - open_ms) / 1000,
             r.f.state.subjects.count, r.f.state.queue.count);
    if (o.max_skew >= 0)
        feeder_set_max_skew(&r.f, (uint32_t)o.max_skew);
    if (o.max_sources >= 0)
        r.f.state.max_sources = (size_t)o.max_sources;
    if (o.max_queue >= 0)
        r.f.state.max_queue = (size_t)o.max_queue;
    if (!o.geoip)
        log_info("no --geoip: country rules are off (foreign volume limits, compromised accounts by country)");
    /* --once: nobody waits for late writes to a renamed file */
    file_set_init(&r.fset, &r.f, o.once ? 0 : o.grace_set ? o.grace_ms : ROTATE_GRACE_MS);
    for (int i = 0; i < o.nfiles; i++)
        if (file_source_open(&r.files[i], &r.fset, o.files[i], err, sizeof err) < 0) {
            log_err("%s", err);
            goto out;
        }
    r.last_commit_ms = now_ms();
    if (o.once) {
        run_once(&r);
        rc = r.failed;
    } else {
        rc = run_follow(&r);
    }
    report(&r);
out:
    for (int i = 0; i < o.nfiles; i++)
        file_source_close(&r.files[i]);
    feeder_close(&r.f);
    return rc;
}
