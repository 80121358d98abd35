/* metrics.h - metrics.c: per-host counting on the line path, and the feeder's /metrics page. */
#ifndef FEEDER_METRICS_H
#define FEEDER_METRICS_H

#include <stddef.h>

#include "event.h"

struct evbuffer;
struct feeder;
struct syslog_source;
struct file_set;

void count_host_event(struct feeder *f, const char *host, size_t hlen, enum event_type type);
void feeder_metrics_free(struct feeder *f);
struct feeder_metrics_view {
    struct feeder *f;
    const struct syslog_source *syslog;
    int commit_ms;
    const struct file_set *files;       /* followed files: losses and duplicate names */
};
void feeder_metrics_render(struct evbuffer *out, void *view);

#endif
