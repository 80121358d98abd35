/* metrics_http.h - a Prometheus text endpoint (GET /metrics) on libevent's evhttp, and helpers to
 * write the exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/). */
#ifndef DNSBL_METRICS_HTTP_H
#define DNSBL_METRICS_HTTP_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_http;
typedef void (*metrics_render_fn)(struct evbuffer *out, void *arg);

/* Listens on ADDR:PORT ("127.0.0.1:9153", "[::1]:9153") in the given event base. */
struct metrics_http *metrics_http_start(struct event_base *base, const char *addr, metrics_render_fn render,
                                        void *arg, char *err, size_t errlen);
void metrics_http_stop(struct metrics_http *m);

/* "# HELP name help\n# TYPE name type\n" */
void metric_head(struct evbuffer *out, const char *name, const char *type, const char *help);
/* A label value, escaped as the format wants (\\, \", \n). */
void metric_label_value(struct evbuffer *out, const char *value);

/* Histograms with fixed bucket bounds in seconds. */
#define HIST_BUCKETS 12
struct histogram {
    uint64_t le[HIST_BUCKETS];      /* cumulative at render time; stored per bucket */
    uint64_t count;
    double sum;
};
extern const double histogram_bounds[HIST_BUCKETS];     /* 10 us .. 1 s, then +Inf */
void histogram_observe(struct histogram *h, double seconds);
void histogram_render(struct evbuffer *out, const char *name, const char *labels, const struct histogram *h);

#endif
