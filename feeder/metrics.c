/* metrics.c - the feeder's counters per MTA host, and its /metrics (Prometheus text format).
 * dnsbl-feeder(8), METRICS, documents every series. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeder.h"
#include "metrics.h"
#include "source.h"

#define HOST_LABEL_MAX 255      /* longer host names (no DNS name is) count as "other" */

/* The counters of one host name (raw bytes: the label is escaped when rendered), made on first use
 * when `grow`; "other" (past FEEDER_MAX_HOSTS) is made whenever needed, and is the same series as a
 * host really named "other". */
static struct host_stats *host_stats_get(struct feeder_stats *s, const char *host, size_t hlen, int grow)
{
    uint64_t h = table_hash(&s->hosts, host, hlen);
    struct host_stats *hs = (struct host_stats *)table_get(&s->hosts, host, hlen, h);
    if (hs || !grow || !(hs = calloc(1, sizeof *hs + hlen + 1)))
        return hs;
    memcpy(hs->name, host, hlen);
    hs->node.hash = h;
    hs->node.key = (const uint8_t *)hs->name;
    hs->node.keylen = hlen;
    if (table_put(&s->hosts, &hs->node) < 0) {
        free(hs);
        return NULL;
    }
    return hs;
}

void count_host_event(struct feeder *f, const char *host, size_t hlen, enum event_type type)
{
    struct feeder_stats *s = &f->stats;
    struct host_stats *hs = hlen <= HOST_LABEL_MAX
        ? host_stats_get(s, host, hlen, s->hosts.count < FEEDER_MAX_HOSTS) : NULL;
    if (!hs)        /* too many hosts, a name too long, or no memory: one bucket for the rest */
        hs = s->other_hosts ? s->other_hosts : (s->other_hosts = host_stats_get(s, "other", 5, 1));
    if (hs)
        hs->events[type]++;
}

void feeder_metrics_free(struct feeder *f)
{
    struct table *t = &f->stats.hosts;
    for (size_t i = 0; t->buckets && i <= t->mask; i++)
        for (struct hnode *n = t->buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    table_free(t);
    f->stats.other_hosts = NULL;      /* one of the table's */
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if there is none. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    static const struct { uint8_t lead_min, lead_max, len, second_min, second_max; } forms[] = {
        { 0xc2, 0xdf, 2, 0x80, 0xbf }, { 0xe0, 0xe0, 3, 0xa0, 0xbf }, { 0xe1, 0xec, 3, 0x80, 0xbf },
        { 0xed, 0xed, 3, 0x80, 0x9f }, { 0xee, 0xef, 3, 0x80, 0xbf }, { 0xf0, 0xf0, 4, 0x90, 0xbf },
        { 0xf1, 0xf3, 4, 0x80, 0xbf }, { 0xf4, 0xf4, 4, 0x80, 0x8f },
    };      /* no overlong forms, no surrogates, nothing past U+10FFFF */
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        if (p[0] < forms[i].lead_min || p[0] > forms[i].lead_max)
            continue;
        if (n < forms[i].len || p[1] < forms[i].second_min || p[1] > forms[i].second_max)
            return 0;
        for (size_t k = 2; k < forms[i].len; k++)
            if (p[k] < 0x80 || p[k] > 0xbf)
                return 0;
        return forms[i].len;
    }
    return 0;
}

/* A host name as a label value that is valid UTF-8 and one-to-one with the raw bytes: a backslash is
 * doubled, control bytes and bytes that are not UTF-8 become \xHH; then the exposition format
 * escapes backslash and quote. So "mx<NUL>a" shows as host="mx\\x00a", never as "mx", and two raw
 * names never share a series. */
static void host_label_value(struct evbuffer *out, const char *name, size_t len)
{
    const uint8_t *p = (const uint8_t *)name;
    for (size_t i = 0; i < len;) {
        size_t seq = p[i] >= 0x80 ? utf8_seq(p + i, len - i) : (p[i] >= 0x20 && p[i] != 0x7f);
        if (seq == 0) {
            evbuffer_add_printf(out, "\\\\x%02x", p[i]);
            i++;
        } else if (p[i] == '\\' || p[i] == '"') {
            evbuffer_add(out, p[i] == '"' ? "\\\"" : "\\\\\\\\", p[i] == '"' ? 2 : 4);
            i++;
        } else {
            evbuffer_add(out, p + i, seq);
            i += seq;
        }
    }
}

static void host_events(struct evbuffer *out, const struct host_stats *hs)
{
    for (int t = 1; t < EV_TYPES; t++) {
        if (!hs->events[t])
            continue;
        evbuffer_add_printf(out, "feeder_events_total{type=\"%s\",host=\"", event_type_name((enum event_type)t));
        host_label_value(out, hs->name, hs->node.keylen);
        evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)hs->events[t]);
    }
}

static void render_lines(struct evbuffer *out, const struct feeder *f)
{
    const struct feeder_stats *s = &f->stats;
    metric_head(out, "feeder_lines_total", "counter", "log lines read");
    evbuffer_add_printf(out, "feeder_lines_total %llu\n", (unsigned long long)s->lines);
    metric_head(out, "feeder_lines_skipped_total", "counter", "lines with a syslog envelope but no event the rules use");
    evbuffer_add_printf(out, "feeder_lines_skipped_total %llu\n", (unsigned long long)s->skipped);
    metric_head(out, "feeder_lines_unparsable_total", "counter", "lines without a recognisable syslog envelope");
    evbuffer_add_printf(out, "feeder_lines_unparsable_total %llu\n", (unsigned long long)s->unparsed);
    metric_head(out, "feeder_events_skewed_total", "counter",
                "events dated more than max-skew ahead of the clock, counted at the clock's time");
    evbuffer_add_printf(out, "feeder_events_skewed_total %llu\n", (unsigned long long)s->skewed);
    metric_head(out, "feeder_events_total", "counter", "events by type and MTA host");
    for (size_t i = 0; i <= s->hosts.mask; i++)
        for (const struct hnode *n = s->hosts.buckets[i]; n; n = n->next)
            host_events(out, (const struct host_stats *)n);
}

static void render_listings(struct evbuffer *out, const struct feeder *f)
{
    const struct feeder_stats *s = &f->stats;
    metric_head(out, "feeder_listing_updates_total", "counter", "listings made or extended, by zone and rule");
    for (int z = 0; z < f->zones.n; z++)
        for (int k = 0; k < RULE_KINDS; k++)
            if (f->zones.zones[z].rules[k].enabled) {
                evbuffer_add_printf(out, "feeder_listing_updates_total{zone=\"");
                metric_label_value(out, f->zones.zones[z].name);
                evbuffer_add_printf(out, "\",rule=\"%s\"} %llu\n", rule_kind_name((enum rule_kind)k),
                                    (unsigned long long)s->listings_by[z][k]);
            }
    metric_head(out, "feeder_manual_kept_total", "counter", "listings not written because a manual entry was there");
    evbuffer_add_printf(out, "feeder_manual_kept_total %llu\n", (unsigned long long)s->manual_kept);
    metric_head(out, "feeder_listings_lost_total", "counter", "listings a rule made but the feeder had no memory to queue");
    evbuffer_add_printf(out, "feeder_listings_lost_total %llu\n", (unsigned long long)s->listings_lost);
    metric_head(out, "feeder_allowlisted_total", "counter", "rule crossings not listed: the source is on an allowlist");
    evbuffer_add_printf(out, "feeder_allowlisted_total %llu\n", (unsigned long long)s->allowed);
}

static void render_state(struct evbuffer *out, const struct feeder *f)
{
    const size_t *kinds = f->state.sources_by_kind;     /* kept by state.c: no walk over millions */
    metric_head(out, "feeder_sources", "gauge", "sources with counters in memory, by kind");
    evbuffer_add_printf(out, "feeder_sources{kind=\"ip\"} %zu\nfeeder_sources{kind=\"domain\"} %zu\n"
                        "feeder_sources{kind=\"account\"} %zu\nfeeder_sources{kind=\"network\"} %zu\n",
                        kinds[0], kinds[1], kinds[2], kinds[3]);
    metric_head(out, "feeder_queue_entries", "gauge", "queue IDs being joined (all hosts)");
    evbuffer_add_printf(out, "feeder_queue_entries %zu\n", f->state.queue.count);
    metric_head(out, "feeder_evicted_total", "counter", "state dropped at the caps (least recently seen first), by kind");
    evbuffer_add_printf(out, "feeder_evicted_total{kind=\"source\"} %llu\nfeeder_evicted_total{kind=\"queue\"} %llu\n",
                        (unsigned long long)f->state.stats.evicted_sources, (unsigned long long)f->state.stats.evicted_queue);
    metric_head(out, "feeder_queue_expired_total", "counter", "queue IDs dropped after idling without their removed line");
    evbuffer_add_printf(out, "feeder_queue_expired_total %llu\n", (unsigned long long)f->state.stats.expired_queue);
}

static void render_syslog(struct evbuffer *out, const struct syslog_source *sl)
{
    static const char *const refused[SYSLOG_REFUSALS] = { "not_allowed", "slots_full" };
    static const char *const closed[SYSLOG_CLOSINGS] = { "idle_timeout", "per_source_cap", "evicted", "bad_framing" };
    metric_head(out, "feeder_syslog_received_total", "counter", "syslog messages received");
    evbuffer_add_printf(out, "feeder_syslog_received_total %llu\n", (unsigned long long)sl->received);
    metric_head(out, "feeder_syslog_dropped_total", "counter", "UDP datagrams dropped, by reason");
    evbuffer_add_printf(out, "feeder_syslog_dropped_total{reason=\"not_allowed\"} %llu\n",
                        (unsigned long long)sl->dropped_peer);
    metric_head(out, "feeder_syslog_kernel_drops_total", "counter",
                "UDP datagrams the kernel dropped, its receive buffer full (known when the next one arrives)");
    evbuffer_add_printf(out, "feeder_syslog_kernel_drops_total %llu\n", (unsigned long long)sl->kernel_drops);
    metric_head(out, "feeder_syslog_tcp_connections", "gauge", "open syslog TCP connections");
    evbuffer_add_printf(out, "feeder_syslog_tcp_connections %d\n", sl->nconns);
    metric_head(out, "feeder_syslog_tcp_accepted_total", "counter", "syslog TCP connections accepted");
    evbuffer_add_printf(out, "feeder_syslog_tcp_accepted_total %llu\n", (unsigned long long)sl->tcp_accepted);
    metric_head(out, "feeder_syslog_tcp_refused_total", "counter", "syslog TCP connections refused, by reason");
    for (int i = 0; i < SYSLOG_REFUSALS; i++)
        evbuffer_add_printf(out, "feeder_syslog_tcp_refused_total{reason=\"%s\"} %llu\n", refused[i],
                            (unsigned long long)sl->tcp_refused[i]);
    metric_head(out, "feeder_syslog_tcp_closed_total", "counter", "syslog TCP connections the feeder closed, by reason");
    for (int i = 0; i < SYSLOG_CLOSINGS; i++)
        evbuffer_add_printf(out, "feeder_syslog_tcp_closed_total{reason=\"%s\"} %llu\n", closed[i],
                            (unsigned long long)sl->tcp_closed[i]);
}

static void render_store(struct evbuffer *out, const struct feeder_metrics_view *v)
{
    const struct feeder_stats *s = &v->f->stats;
    MDB_envinfo info;
    mdb_env_info(v->f->store.env, &info);
    metric_head(out, "feeder_commits_total", "counter", "LMDB write transactions, by result");
    evbuffer_add_printf(out, "feeder_commits_total{result=\"ok\"} %llu\nfeeder_commits_total{result=\"failed\"} %llu\n",
                        (unsigned long long)s->commits, (unsigned long long)s->commit_failures);
    metric_head(out, "feeder_commit_seconds", "histogram", "time to write and commit one transaction");
    histogram_render(out, "feeder_commit_seconds", "", &s->commit_seconds);
    metric_head(out, "feeder_commit_interval_seconds", "gauge", "the longest an event waits for its commit");
    evbuffer_add_printf(out, "feeder_commit_interval_seconds %.3f\n", v->commit_ms / 1000.0);
    metric_head(out, "feeder_lmdb_used_bytes", "gauge", "pages in use in the LMDB file");
    evbuffer_add_printf(out, "feeder_lmdb_used_bytes %llu\n", (unsigned long long)store_used_bytes(&v->f->store));
    metric_head(out, "feeder_lmdb_max_readers", "gauge", "LMDB reader slots");
    evbuffer_add_printf(out, "feeder_lmdb_max_readers %u\n", info.me_maxreaders);
    if (v->syslog)
        render_syslog(out, v->syslog);
}

void feeder_metrics_render(struct evbuffer *out, void *arg)
{
    const struct feeder_metrics_view *v = arg;
    render_lines(out, v->f);
    render_listings(out, v->f);
    render_state(out, v->f);
    render_store(out, v);
    if (v->files)
        file_set_metrics(out, v->files);
}
