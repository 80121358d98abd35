/* metrics.c - the feeder's counters per MTA host, and its /metrics (Prometheus text format).
 * README.md, "Metrics", documents every series. */
#include <stdlib.h>
#include <string.h>

#include "feeder.h"
#include "source.h"

void count_host_event(struct feeder *f, const char *host, size_t hlen, enum event_type type)
{
    struct feeder_stats *s = &f->stats;
    uint64_t h = table_hash(host, hlen);
    struct host_stats *hs = (struct host_stats *)table_get(&s->hosts, host, hlen, h);
    if (!hs && s->hosts.count < FEEDER_MAX_HOSTS && (hs = calloc(1, sizeof *hs + hlen + 1))) {
        memcpy(hs->name, host, hlen);
        hs->node.hash = h;
        hs->node.key = (const uint8_t *)hs->name;
        hs->node.keylen = hlen;
        if (table_put(&s->hosts, &hs->node) < 0) {
            free(hs);
            hs = NULL;
        }
    }
    if (!hs) {      /* too many hosts, or no memory: one bucket for the rest */
        if (!s->other_hosts && !(s->other_hosts = calloc(1, sizeof *s->other_hosts + 6)))
            return;
        strcpy(s->other_hosts->name, "other");
        hs = s->other_hosts;
    }
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
    free(f->stats.other_hosts);
    f->stats.other_hosts = NULL;
}

static void host_events(struct evbuffer *out, const struct host_stats *hs)
{
    for (int t = 1; t < EV_TYPES; t++) {
        if (!hs->events[t])
            continue;
        evbuffer_add_printf(out, "feeder_events_total{type=\"%s\",host=\"", event_type_name((enum event_type)t));
        metric_label_value(out, hs->name);
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
    if (s->other_hosts)
        host_events(out, s->other_hosts);
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
    metric_head(out, "feeder_allowlisted_total", "counter", "rule crossings not listed: the source is on an allowlist");
    evbuffer_add_printf(out, "feeder_allowlisted_total %llu\n", (unsigned long long)s->allowed);
}

static void render_state(struct evbuffer *out, const struct feeder *f)
{
    size_t kinds[3] = { 0, 0, 0 };
    const struct table *t = &f->state.subjects;
    for (size_t i = 0; i <= t->mask; i++)
        for (const struct hnode *n = t->buckets[i]; n; n = n->next) {
            int k = ((const struct subject *)n)->kind;
            kinds[k == SUBJ_IP ? 0 : k == SUBJ_DOMAIN ? 1 : 2]++;
        }
    metric_head(out, "feeder_sources", "gauge", "sources with counters in memory, by kind");
    evbuffer_add_printf(out, "feeder_sources{kind=\"ip\"} %zu\nfeeder_sources{kind=\"domain\"} %zu\n"
                        "feeder_sources{kind=\"account\"} %zu\n", kinds[0], kinds[1], kinds[2]);
    metric_head(out, "feeder_queue_entries", "gauge", "queue IDs being joined (all hosts)");
    evbuffer_add_printf(out, "feeder_queue_entries %zu\n", f->state.queue.count);
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
    if (!v->syslog)
        return;
    metric_head(out, "feeder_syslog_received_total", "counter", "syslog messages received");
    evbuffer_add_printf(out, "feeder_syslog_received_total %llu\n", (unsigned long long)v->syslog->received);
    metric_head(out, "feeder_syslog_dropped_total", "counter", "syslog messages or connections dropped, by reason");
    evbuffer_add_printf(out, "feeder_syslog_dropped_total{reason=\"sender not allowed\"} %llu\n"
                        "feeder_syslog_dropped_total{reason=\"bad framing\"} %llu\n",
                        (unsigned long long)v->syslog->dropped_peer, (unsigned long long)v->syslog->oversized);
}

void feeder_metrics_render(struct evbuffer *out, void *arg)
{
    const struct feeder_metrics_view *v = arg;
    render_lines(out, v->f);
    render_listings(out, v->f);
    render_state(out, v->f);
    render_store(out, v);
}
