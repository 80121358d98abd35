/* policy_server.c - see policy_server.h. One thread, one event loop, one LMDB read transaction
 * renewed per request: a request is answered from one store snapshot and one zone set. */
#include "policy_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "geo.h"
#include "log.h"
#include "policy_dovecot.h"
#include "policy_postfix.h"
#include "server.h"

#define PF_OUTPUT_HIGH (64 * 1024)  /* a client that sends requests and reads no replies waits */

struct pf_conn;

struct policy_server {
    struct server *srv;
    struct policy_options o;
    int pf_fd[POLICY_MAX_LISTEN];
    char *pf_path[POLICY_MAX_LISTEN];   /* UNIX sockets: removed at stop */
    int dv_fd;
    char dv_header[128];                /* --policy-dovecot-key: header name, value */
    char dv_value[512];
    struct geo *geo;
    struct event_base *base;
    struct evconnlistener *pf_listener[POLICY_MAX_LISTEN];
    struct evhttp *http;
    pthread_t thread;
    int running;
    MDB_txn *txn;
    _Atomic(const struct zoneset *) in_use;
    struct pf_conn *conns;
    int nconns;
    struct policy_counters counters;
};

static void bump(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- sockets ---- */

static int listen_inet(const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, one = 1;
    memset(&ss, 0, sizeof ss);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) < 0 ||
        (ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port) == 0) {
        snprintf(err, errlen, "'%s': want ADDR:PORT", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "%s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* A UNIX socket; a socket file left by an earlier run is replaced, anything else at the path is not.
 * Mode 0666: who may connect is decided by the directory's permissions. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct stat st;
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "unix:%s: path too long", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "unix:%s: exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(path, 0666) < 0 ||
        listen(fd, 128) < 0) {
        snprintf(err, errlen, "unix:%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* "Header-Name: value" from the first line of the file, as Dovecot's auth_policy_server_api_header. */
static int read_key(struct policy_server *ps, const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    char line[700];
    if (!f) {
        snprintf(err, errlen, "--policy-dovecot-key %s: %s", file, strerror(errno));
        return -1;
    }
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[ok ? strcspn(line, "\r\n") : 0] = '\0';
    char *colon = strchr(line, ':');
    const char *value = colon ? colon + 1 + strspn(colon + 1, " \t") : NULL;
    if (!colon || colon == line || (size_t)(colon - line) >= sizeof ps->dv_header || !*value ||
        strlen(value) >= sizeof ps->dv_value) {
        snprintf(err, errlen, "--policy-dovecot-key %s: want one line 'Header-Name: value'", file);
        return -1;
    }
    snprintf(ps->dv_header, sizeof ps->dv_header, "%.*s", (int)(colon - line), line);
    strcpy(ps->dv_value, value);
    explicit_bzero(line, sizeof line);
    return 0;
}

struct policy_server *policy_server_open(struct server *srv, const struct policy_options *o, char *err,
                                         size_t errlen)
{
    struct policy_server *ps = calloc(1, sizeof *ps);
    if (!ps) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ps->srv = srv;
    ps->o = *o;
    ps->dv_fd = -1;
    for (int i = 0; i < POLICY_MAX_LISTEN; i++)
        ps->pf_fd[i] = -1;
    int ok = 1;
    for (int i = 0; ok && i < o->npostfix; i++) {
        const char *a = o->postfix[i];
        if (!strncmp(a, "unix:", 5)) {
            ok = (ps->pf_fd[i] = listen_unix(a + 5, err, errlen)) >= 0;
            if (ok && !(ps->pf_path[i] = strdup(a + 5)))
                ok = 0, snprintf(err, errlen, "out of memory");
        } else {
            ok = (ps->pf_fd[i] = listen_inet(a, err, errlen)) >= 0;
        }
    }
    if (ok && o->dovecot)
        ok = (ps->dv_fd = listen_inet(o->dovecot, err, errlen)) >= 0;
    if (ok && o->dovecot_key_file)
        ok = read_key(ps, o->dovecot_key_file, err, errlen) == 0;
    if (ok && o->geoip)
        ok = (ps->geo = geo_open(o->geoip, err, errlen)) != NULL;
    if (!ok) {
        policy_server_stop(ps);
        return NULL;
    }
    return ps;
}

/* ---- one decision ---- */

static void country(void *arg, const struct ipaddr *a, char cc[2])
{
    geo_country(arg, a, cc);
}

/* Decides in a fresh snapshot of the store with the current zone set (the pairing with
 * policy_server_quiesce is listen.c's batch_begin). Returns policy_decide's result. */
static int decide(struct policy_server *ps, const struct policy_request *q, struct policy_verdict *v)
{
    const struct zoneset *zs;
    do {
        zs = atomic_load(&ps->srv->zones);
        atomic_store(&ps->in_use, zs);
    } while (atomic_load(&ps->srv->zones) != zs);
    int rc = mdb_txn_renew(ps->txn);
    if (rc == 0) {
        struct policy_ctx ctx = { .zones = zs, .txn = ps->txn, .now = (uint32_t)time(NULL),
                                  .country = ps->geo ? country : NULL, .country_arg = ps->geo };
        rc = policy_decide(&ctx, q, v);
        mdb_txn_reset(ps->txn);
    } else {
        log_err("policy: cannot renew the read transaction: %s", mdb_strerror(rc));
        memset(v, 0, sizeof *v);
        rc = -1;
    }
    atomic_store(&ps->in_use, NULL);
    if (rc < 0)
        bump(&ps->counters.store_errors);
    return rc;
}

static void log_verdict(const char *endpoint, const struct policy_verdict *v)
{
    static const char *const names[] = { "permit", "reject", "defer", "tarpit" };
    if (v->action != POLICY_PERMIT)
        log_info("policy %s: %s %s", endpoint, names[v->action], v->text);
}

/* ---- Postfix ----
 * A connection is a socket and one event: readable (with the idle timeout) while replies go out
 * whole, writable while a reply waits in `out` because the socket would block. Reading stops while
 * replies are pending, so a client that sends and never reads holds one connection's buffers, no
 * more. Plain read/write on the socket: a request and its reply cost two system calls. */

struct pf_conn {
    struct policy_server *ps;
    int fd;
    struct event *ev;
    struct pf_conn *prev, *next;
    int closing;                    /* the last reply is on its way; then close */
    size_t inlen, outlen, outoff;
    char in[PF_REQUEST_MAX];
    char out[PF_OUTPUT_HIGH + PF_REPLY_MAX];
};

static void pf_close(struct pf_conn *c)
{
    struct policy_server *ps = c->ps;
    if (c->prev) c->prev->next = c->next;
    else ps->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    ps->nconns--;
    event_free(c->ev);
    close(c->fd);
    free(c);
}

/* The last reply: the connection closes once it is written. */
static void pf_fail(struct pf_conn *c, const char *why)
{
    bump(&c->ps->counters.bad_requests);
    bump(&c->ps->counters.postfix[3]);
    log_info("policy postfix: %s; closing the connection", why);
    c->outlen += pf_reply_error(why, c->out + c->outlen, sizeof c->out - c->outlen);
    c->closing = 1;
}

static void pf_answer(struct pf_conn *c, const struct pf_request *rq)
{
    struct policy_request q;
    struct policy_verdict v;
    const char *why;
    if (pf_question(rq, &q, &why) < 0) {
        pf_fail(c, why);
        return;
    }
    decide(c->ps, &q, &v);
    log_verdict("postfix", &v);
    bump(&c->ps->counters.postfix[v.action == POLICY_PERMIT ? 0 : v.action == POLICY_DEFER ? 2 : 1]);
    c->outlen += pf_reply(&q, &v, c->out + c->outlen, sizeof c->out - c->outlen);
}

/* Answers the complete requests in `in` while the pending replies stay under PF_OUTPUT_HIGH;
 * returns the bytes of requests consumed. */
static size_t pf_process(struct pf_conn *c)
{
    size_t pos = 0;
    while (!c->closing && c->outlen < PF_OUTPUT_HIGH && pos < c->inlen) {
        struct pf_request rq;
        const char *why = NULL;
        size_t used = 0;
        enum pf_status st = pf_parse(c->in + pos, c->inlen - pos, &rq, &used, &why);
        if (st == PF_INCOMPLETE) {
            if (c->inlen - pos >= PF_REQUEST_MAX)
                pf_fail(c, "request too large");
            break;
        }
        if (st == PF_MALFORMED) {
            pf_fail(c, why);
            break;
        }
        pf_answer(c, &rq);
        pos += used;
    }
    memmove(c->in, c->in + pos, c->inlen - pos);
    c->inlen -= pos;
    return pos;
}

static void pf_io(evutil_socket_t fd, short what, void *arg);

/* Waits for the socket to take more (want EV_WRITE) or for the next request (EV_READ). */
static void pf_wait(struct pf_conn *c, short want)
{
    struct timeval idle = { c->ps->o.idle_seconds, 0 };
    event_del(c->ev);
    event_assign(c->ev, c->ps->base, c->fd, want | EV_PERSIST, pf_io, c);
    event_add(c->ev, &idle);
}

/* Writes what is pending: 1 all of it, 0 the socket would block, -1 the connection is gone. */
static int pf_flush(struct pf_conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->outoff += (size_t)n;
    }
    c->outoff = c->outlen = 0;
    return 1;
}

static void pf_io(evutil_socket_t fd, short what, void *arg)
{
    struct pf_conn *c = arg;
    if (what & EV_TIMEOUT) {
        pf_close(c);            /* idle, or a client that reads nothing */
        return;
    }
    int writing = c->outlen > 0;
    if (what & EV_READ) {
        ssize_t n = read(fd, c->in + c->inlen, sizeof c->in - c->inlen);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            pf_close(c);
            return;
        }
        if (n > 0)
            c->inlen += (size_t)n;
    }
    for (;;) {
        size_t consumed = c->closing ? 0 : pf_process(c);
        int rc = pf_flush(c);
        if (rc < 0 || (rc == 1 && c->closing)) {
            pf_close(c);
            return;
        }
        if (rc == 0) {
            if (!writing)
                pf_wait(c, EV_WRITE);
            return;
        }
        /* all written: more requests may have waited behind the replies */
        if (c->closing || !consumed || !c->inlen)
            break;
    }
    if (writing)
        pf_wait(c, EV_READ);
}

static void pf_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct policy_server *ps = arg;
    (void)l, (void)sa, (void)salen;
    if (ps->nconns >= ps->o.max_conns) {
        bump(&ps->counters.refused_conns);
        evutil_closesocket(fd);
        return;
    }
    struct pf_conn *c = malloc(sizeof *c);
    if (!c || evutil_make_socket_nonblocking(fd) < 0) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->ps = ps;
    c->fd = fd;
    c->closing = 0;
    c->inlen = c->outlen = c->outoff = 0;
    c->prev = NULL;
    struct timeval idle = { ps->o.idle_seconds, 0 };
    if (!(c->ev = event_new(ps->base, fd, EV_READ | EV_PERSIST, pf_io, c)) || event_add(c->ev, &idle) < 0) {
        if (c->ev)
            event_free(c->ev);
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->next = ps->conns;
    if (ps->conns)
        ps->conns->prev = c;
    ps->conns = c;
    ps->nconns++;
}

/* ---- Dovecot ---- */

static void dv_send(struct evhttp_request *req, int code, const char *reason, const char *json, size_t n)
{
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add(out, json, n);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

static void dv_refuse(struct policy_server *ps, struct evhttp_request *req, int code, const char *reason)
{
    bump(&ps->counters.bad_requests);
    log_debug("policy dovecot: %d %s", code, reason);
    evhttp_send_error(req, code, reason);
}

static void dv_request(struct evhttp_request *req, void *arg)
{
    struct policy_server *ps = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL, *why;
    enum dv_command cmd;
    if (!path || strcmp(path, "/")) {
        dv_refuse(ps, req, HTTP_NOTFOUND, "the policy lives at /");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        dv_refuse(ps, req, 405, "POST only");
        return;
    }
    if (ps->dv_header[0]) {
        const char *got = evhttp_find_header(evhttp_request_get_input_headers(req), ps->dv_header);
        if (!got || !dv_key_matches(ps->dv_value, got)) {
            dv_refuse(ps, req, 401, "wrong or missing API key");
            return;
        }
    }
    if (dv_command(evhttp_uri_get_query(uri), &cmd, &why) < 0) {
        dv_refuse(ps, req, HTTP_BADREQUEST, why);
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *data = len ? (const char *)evbuffer_pullup(body, (ev_ssize_t)len) : "";
    struct dv_request rq;
    if (len > DV_BODY_MAX || !data || dv_parse(data, len, &rq, &why) < 0) {
        dv_refuse(ps, req, len > DV_BODY_MAX ? 413 : HTTP_BADREQUEST, len > DV_BODY_MAX ? "body too large" : why);
        return;
    }
    char out[DV_REPLY_MAX];
    size_t n;
    if (cmd == DV_REPORT) {
        bump(&ps->counters.dovecot[3]);
        n = dv_reply_report(out, sizeof out);
    } else {
        struct policy_request q;
        struct policy_verdict v;
        dv_question(&rq, &q);
        decide(ps, &q, &v);
        log_verdict("dovecot", &v);
        bump(&ps->counters.dovecot[v.action == POLICY_PERMIT ? 0 : v.action == POLICY_TARPIT ? 2 : 1]);
        n = dv_reply(&v, out, sizeof out);
    }
    if (!n) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    dv_send(req, HTTP_OK, "OK", out, n);
}

/* ---- the thread ---- */

static void *run(void *arg)
{
    struct policy_server *ps = arg;
    event_base_dispatch(ps->base);
    return NULL;
}

int policy_server_start(struct policy_server *ps, char *err, size_t errlen)
{
    int rc = mdb_txn_begin(ps->srv->store.env, NULL, MDB_RDONLY, &ps->txn);
    if (rc != 0) {
        snprintf(err, errlen, "policy: read transaction: %s", mdb_strerror(rc));
        return -1;
    }
    mdb_txn_reset(ps->txn);
    if (!(ps->base = event_base_new())) {
        snprintf(err, errlen, "policy: cannot create the event base");
        return -1;
    }
    for (int i = 0; i < ps->o.npostfix; i++) {
        ps->pf_listener[i] = evconnlistener_new(ps->base, pf_accept, ps, LEV_OPT_CLOSE_ON_FREE, -1, ps->pf_fd[i]);
        if (!ps->pf_listener[i]) {
            snprintf(err, errlen, "policy: cannot register the listener of %s", ps->o.postfix[i]);
            return -1;
        }
        ps->pf_fd[i] = -1;
    }
    if (ps->dv_fd >= 0) {
        if (!(ps->http = evhttp_new(ps->base)) || evhttp_accept_socket(ps->http, ps->dv_fd) < 0) {
            snprintf(err, errlen, "policy: cannot serve HTTP on %s", ps->o.dovecot);
            return -1;
        }
        ps->dv_fd = -1;     /* evhttp owns it */
        evhttp_set_max_body_size(ps->http, DV_BODY_MAX);
        evhttp_set_max_headers_size(ps->http, 8192);
        evhttp_set_timeout(ps->http, ps->o.idle_seconds);
        evhttp_set_allowed_methods(ps->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
        evhttp_set_gencb(ps->http, dv_request, ps);
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&ps->thread, NULL, run, ps);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "policy: pthread_create: %s", strerror(rc));
        return -1;
    }
    ps->running = 1;
    pthread_setname_np(ps->thread, "dnsbl-policy");   /* top -H, and scripts/bench-policy, find it */
    log_info("policy endpoints:%s%s%s%s", ps->o.npostfix ? " postfix on " : "", ps->o.npostfix ? ps->o.postfix[0] : "",
             ps->o.dovecot ? " dovecot on " : "", ps->o.dovecot ? ps->o.dovecot : "");
    return 0;
}

void policy_server_quiesce(struct policy_server *ps, const struct zoneset *old)
{
    struct timespec ms = { 0, 1000000 };
    while (ps && atomic_load(&ps->in_use) == old)
        nanosleep(&ms, NULL);
}

const struct policy_counters *policy_server_counters(const struct policy_server *ps)
{
    return &ps->counters;
}

void policy_server_stop(struct policy_server *ps)
{
    if (!ps)
        return;
    if (ps->running) {
        event_base_loopbreak(ps->base);
        pthread_join(ps->thread, NULL);
    }
    while (ps->conns)
        pf_close(ps->conns);
    for (int i = 0; i < POLICY_MAX_LISTEN; i++) {
        if (ps->pf_listener[i])
            evconnlistener_free(ps->pf_listener[i]);
        if (ps->pf_fd[i] >= 0)
            close(ps->pf_fd[i]);
        if (ps->pf_path[i])
            unlink(ps->pf_path[i]);
        free(ps->pf_path[i]);
    }
    if (ps->http)
        evhttp_free(ps->http);
    if (ps->dv_fd >= 0)
        close(ps->dv_fd);
    if (ps->txn)
        mdb_txn_abort(ps->txn);
    if (ps->base)
        event_base_free(ps->base);
    geo_close(ps->geo);
    explicit_bzero(ps->dv_value, sizeof ps->dv_value);
    free(ps);
}
