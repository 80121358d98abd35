/* metrics_http.c - see metrics_http.h. */
#include "metrics_http.h"

#include <event2/http.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct metrics_http {
    struct evhttp *http;
    metrics_render_fn render;
    void *arg;
};

const double histogram_bounds[HIST_BUCKETS] = { 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3,
                                                10e-3, 100e-3, 1.0, 1e300 };

static void on_request(struct evhttp_request *req, void *arg)
{
    struct metrics_http *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !path || strcmp(path, "/metrics")) {
        evhttp_send_error(req, HTTP_NOTFOUND, "try GET /metrics");
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    m->render(out, m->arg);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, HTTP_OK, "OK", out);
    evbuffer_free(out);
}

struct metrics_http *metrics_http_start(struct event_base *base, const char *addr, metrics_render_fn render,
                                        void *arg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) < 0) {
        snprintf(err, errlen, "--metrics '%s': want ADDR:PORT", addr);
        return NULL;
    }
    struct metrics_http *m = calloc(1, sizeof *m);
    struct evconnlistener *l = NULL;
    if (!m || !(m->http = evhttp_new(base)) ||
        !(l = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                      (struct sockaddr *)&ss, len)) ||
        !evhttp_bind_listener(m->http, l)) {
        snprintf(err, errlen, "--metrics %s: cannot listen", addr);
        if (l)
            evconnlistener_free(l);
        if (m && m->http)
            evhttp_free(m->http);
        free(m);
        return NULL;
    }
    m->render = render;
    m->arg = arg;
    evhttp_set_gencb(m->http, on_request, m);
    evhttp_set_timeout(m->http, 10);
    return m;
}

void metrics_http_stop(struct metrics_http *m)
{
    if (!m)
        return;
    evhttp_free(m->http);
    free(m);
}

void metric_head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metric_label_value(struct evbuffer *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, p, 1);
    }
}

void histogram_observe(struct histogram *h, double seconds)
{
    int i = 0;
    while (i < HIST_BUCKETS - 1 && seconds > histogram_bounds[i])
        i++;
    h->le[i]++;
    h->count++;
    h->sum += seconds;
}

void histogram_render(struct evbuffer *out, const char *name, const char *labels, const struct histogram *h)
{
    uint64_t cumulative = 0;
    const char *sep = labels && *labels ? "," : "";
    for (int i = 0; i < HIST_BUCKETS; i++) {
        cumulative += h->le[i];
        if (i == HIST_BUCKETS - 1)
            evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels ? labels : "", sep,
                                (unsigned long long)cumulative);
        else
            evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels ? labels : "", sep,
                                histogram_bounds[i], (unsigned long long)cumulative);
    }
    int has = labels && *labels;
    evbuffer_add_printf(out, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, has ? "{" : "", has ? labels : "",
                        has ? "}" : "", h->sum, name, has ? "{" : "", has ? labels : "", has ? "}" : "",
                        (unsigned long long)h->count);
}
