/* metrics.c - dnsbl-server's /metrics (Prometheus text format), rendered in the main thread from the
 * workers' counters and from the store. dnsbl-server(8), METRICS, documents every series. */
#include <string.h>
#include <time.h>

#include "log.h"
#include "server.h"

static const char *const qtype_names[METRIC_QTYPES] = { "A", "TXT", "ANY", "SOA", "NS", "AAAA", "XFR", "other" };
static const char *const rcode_names[METRIC_RCODES] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                                                        "REFUSED", "other" };

/* Zones keep their metric slot (and so their counters) across reloads, by name. */
void metrics_assign_slots(struct server *srv, struct zoneset *zs)
{
    if (srv->metric_zones == 0)
        srv->metric_zones = 1;     /* slot 0: out of zone */
    for (int i = 0; i < zs->n; i++) {
        struct zone *z = &zs->zones[i];
        z->slot = 0;
        for (int s = 1; s < srv->metric_zones && !z->slot; s++)
            if (!strcmp(srv->metric_zone[s], z->name))
                z->slot = s;
        if (!z->slot && srv->metric_zones < METRIC_ZONES) {
            z->slot = srv->metric_zones++;
            strcpy(srv->metric_zone[z->slot], z->name);
        }
    }
}

static uint64_t sum(const struct server *srv, size_t offset)
{
    uint64_t total = 0;
    for (int t = 0; t < srv->nworkers; t++)
        total += atomic_load_explicit((counter_t *)((char *)srv->workers[t].metrics + offset), memory_order_relaxed);
    return total;
}

#define SUM(srv, field) sum((srv), offsetof(struct worker_metrics, field))

static void render_queries(struct evbuffer *out, const struct server *srv)
{
    metric_head(out, "dnsbl_queries_total", "counter", "DNS queries answered, by zone, query type and response code");
    for (int z = 0; z < srv->metric_zones; z++)
        for (int q = 0; q < METRIC_QTYPES; q++)
            for (int r = 0; r < METRIC_RCODES; r++) {
                uint64_t n = SUM(srv, queries[z][q][r]);
                if (!n)
                    continue;
                evbuffer_add_printf(out, "dnsbl_queries_total{zone=\"");
                metric_label_value(out, z ? srv->metric_zone[z] : "");
                evbuffer_add_printf(out, "\",type=\"%s\",rcode=\"%s\"} %llu\n", qtype_names[q], rcode_names[r],
                                    (unsigned long long)n);
            }
    metric_head(out, "dnsbl_listed_answers_total", "counter", "answers that said listed");
    evbuffer_add_printf(out, "dnsbl_listed_answers_total %llu\n", (unsigned long long)SUM(srv, listed));
    metric_head(out, "dnsbl_dropped_total", "counter", "packets not answered (too short, or responses)");
    evbuffer_add_printf(out, "dnsbl_dropped_total %llu\n", (unsigned long long)SUM(srv, dropped));
    metric_head(out, "dnsbl_answer_latency_seconds", "histogram",
                "UDP: from the batch's receipt to its send, per query");
    struct histogram h = { .count = SUM(srv, latency_count), .sum = (double)SUM(srv, latency_ns) / 1e9 };
    for (int i = 0; i < HIST_BUCKETS; i++)
        h.le[i] = SUM(srv, latency[i]);
    histogram_render(out, "dnsbl_answer_latency_seconds", "", &h);
    int conns = 0;
    for (int t = 0; t < srv->nworkers; t++)
        conns += atomic_load(&srv->workers[t].metrics->tcp_conns);
    metric_head(out, "dnsbl_tcp_connections", "gauge", "open TCP connections");
    evbuffer_add_printf(out, "dnsbl_tcp_connections %d\n", conns);
    static const struct { const char *name, *help; size_t field; } counters[] = {
        { "dnsbl_tcp_refused_total", "TCP connections closed at once: no room could be made",
          offsetof(struct worker_metrics, tcp_refused) },
        { "dnsbl_tcp_per_source_refused_total", "TCP connections refused: the source already held --tcp-per-source",
          offsetof(struct worker_metrics, tcp_per_source) },
        { "dnsbl_tcp_evicted_total", "TCP connections closed to make room: the one without progress for longest",
          offsetof(struct worker_metrics, tcp_evicted) },
        { "dnsbl_tcp_timeouts_total", "TCP connections closed: idle for --tcp-idle, or a query not whole within --tcp-timeout",
          offsetof(struct worker_metrics, tcp_timeouts) },
        { "dnsbl_rrl_dropped_total", "UDP responses dropped by --rrl", offsetof(struct worker_metrics, rrl_dropped) },
        { "dnsbl_rrl_slipped_total", "UDP responses sent truncated (TC) by --rrl",
          offsetof(struct worker_metrics, rrl_slipped) },
    };
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) {
        metric_head(out, counters[i].name, "counter", counters[i].help);
        evbuffer_add_printf(out, "%s %llu\n", counters[i].name, (unsigned long long)sum(srv, counters[i].field));
    }
}

/* Live listings per zone and reason code: a scan of each zone, in one read transaction. */
static void render_listings(struct evbuffer *out, struct server *srv, MDB_txn *txn, const struct zoneset *zs)
{
    uint32_t now = (uint32_t)time(NULL);
    metric_head(out, "dnsbl_listings", "gauge", "live listings by zone and reason code (allow entries: reason=\"allow\")");
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        uint64_t per_code[ZONE_MAX_CODES + 2] = { 0 };     /* + other, + allow */
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_cursor_open(txn, z->dbi, &cur) != 0)
            continue;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct listing l;
            if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0 ||
                !listing_live(&l, now))
                continue;
            if (l.flags & LISTING_ALLOW) {
                per_code[ZONE_MAX_CODES + 1]++;
                continue;
            }
            for (int r = 0; r < l.nreasons; r++) {
                const struct zone_code *c = zone_code_by_addr(z, l.reasons[r].code);
                if (l.reasons[r].expires == 0 || l.reasons[r].expires > now)
                    per_code[c ? c - z->codes : ZONE_MAX_CODES]++;
            }
        }
        mdb_cursor_close(cur);
        for (int c = 0; c < ZONE_MAX_CODES + 2; c++) {
            if (c < ZONE_MAX_CODES && c >= z->ncodes)
                continue;
            evbuffer_add_printf(out, "dnsbl_listings{zone=\"");
            metric_label_value(out, z->name);
            evbuffer_add_printf(out, "\",reason=\"");
            metric_label_value(out, c < ZONE_MAX_CODES ? (z->codes[c].name[0] ? z->codes[c].name : "unnamed")
                                    : c == ZONE_MAX_CODES ? "other" : "allow");
            evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)per_code[c]);
        }
    }
    (void)srv;
}

static void render_store(struct evbuffer *out, struct server *srv)
{
    MDB_envinfo info;
    mdb_env_info(srv->store.env, &info);
    metric_head(out, "dnsbl_lmdb_used_bytes", "gauge", "pages in use in the LMDB file");
    evbuffer_add_printf(out, "dnsbl_lmdb_used_bytes %llu\n", (unsigned long long)store_used_bytes(&srv->store));
    metric_head(out, "dnsbl_lmdb_readers", "gauge", "LMDB reader slots in use (all processes)");
    evbuffer_add_printf(out, "dnsbl_lmdb_readers %d\n", store_readers(&srv->store));
    metric_head(out, "dnsbl_lmdb_last_txn", "counter", "the store's last committed transaction");
    evbuffer_add_printf(out, "dnsbl_lmdb_last_txn %zu\n", info.me_last_txnid);
    metric_head(out, "dnsbl_reloads_total", "counter", "SIGHUP reloads of the zones directory, by result");
    evbuffer_add_printf(out, "dnsbl_reloads_total{result=\"ok\"} %llu\ndnsbl_reloads_total{result=\"failed\"} %llu\n",
                        (unsigned long long)srv->reloads_ok, (unsigned long long)srv->reloads_failed);
}

static void render_indexes(struct evbuffer *out, struct server *srv)
{
    metric_head(out, "dnsbl_index_keys", "gauge", "entries in the zone's in-memory index (0: none, see --index-memory)");
    for (int slot = 1; slot < srv->metric_zones; slot++) {
        evbuffer_add_printf(out, "dnsbl_index_keys{zone=\"");
        metric_label_value(out, srv->metric_zone[slot]);
        evbuffer_add_printf(out, "\"} %zu\n", atomic_load_explicit(&srv->index_keys[slot], memory_order_relaxed));
    }
    metric_head(out, "dnsbl_index_bytes", "gauge", "memory the zone's in-memory index takes");
    for (int slot = 1; slot < srv->metric_zones; slot++) {
        evbuffer_add_printf(out, "dnsbl_index_bytes{zone=\"");
        metric_label_value(out, srv->metric_zone[slot]);
        evbuffer_add_printf(out, "\"} %zu\n", atomic_load_explicit(&srv->index_bytes[slot], memory_order_relaxed));
    }
    metric_head(out, "dnsbl_index_builds_total", "counter", "in-memory indexes built (one per zone serial, at most)");
    evbuffer_add_printf(out, "dnsbl_index_builds_total %llu\n", (unsigned long long)atomic_load(&srv->index_builds));
    metric_head(out, "dnsbl_index_failures_total", "counter", "index builds that failed (store error, no memory)");
    evbuffer_add_printf(out, "dnsbl_index_failures_total %llu\n", (unsigned long long)atomic_load(&srv->index_failures));
}

static void render_policy(struct evbuffer *out, const struct policy_counters *pc)
{
    static const char *const pf[] = { "dunno", "reject", "defer", "error" };
    static const char *const dv[] = { "allow", "refuse", "tarpit", "report" };
    metric_head(out, "dnsbl_policy_requests_total", "counter",
                "policy requests answered, by endpoint and answer (dnsbl-server(8), POLICY)");
    for (int i = 0; i < 4; i++)
        evbuffer_add_printf(out, "dnsbl_policy_requests_total{endpoint=\"postfix\",answer=\"%s\"} %llu\n", pf[i],
                            (unsigned long long)atomic_load(&pc->postfix[i]));
    for (int i = 0; i < 4; i++)
        evbuffer_add_printf(out, "dnsbl_policy_requests_total{endpoint=\"dovecot\",answer=\"%s\"} %llu\n", dv[i],
                            (unsigned long long)atomic_load(&pc->dovecot[i]));
    metric_head(out, "dnsbl_policy_bad_requests_total", "counter",
                "malformed or oversized requests, wrong method, URL or API key");
    evbuffer_add_printf(out, "dnsbl_policy_bad_requests_total %llu\n", (unsigned long long)atomic_load(&pc->bad_requests));
    metric_head(out, "dnsbl_policy_refused_connections_total", "counter", "Postfix connections over --policy-max-conns");
    evbuffer_add_printf(out, "dnsbl_policy_refused_connections_total %llu\n",
                        (unsigned long long)atomic_load(&pc->refused_conns));
    metric_head(out, "dnsbl_policy_store_errors_total", "counter", "requests permitted because the store failed");
    evbuffer_add_printf(out, "dnsbl_policy_store_errors_total %llu\n", (unsigned long long)atomic_load(&pc->store_errors));
}

void metrics_render(struct evbuffer *out, void *arg)
{
    struct server *srv = arg;
    struct zoneset *zs = atomic_load(&srv->zones);
    MDB_txn *txn;
    render_queries(out, srv);
    if (mdb_txn_begin(srv->store.env, NULL, MDB_RDONLY, &txn) == 0) {
        render_listings(out, srv, txn, zs);
        mdb_txn_abort(txn);
    }
    render_store(out, srv);
    render_indexes(out, srv);
    if (srv->policy)
        render_policy(out, policy_server_counters(srv->policy));
}
