/* policy_dovecot.h - Dovecot's authentication policy (auth_policy_server_url): Dovecot POSTs a JSON
 * object (login, remote, protocol, ...) to URL?command=allow before (and after) authentication and
 * to URL?command=report after it, and reads {"status": N, "msg": "..."}: N < 0 refuses, 0 allows,
 * N > 0 delays the answer N seconds. The request handling only, without sockets (policy_server.c
 * runs it behind libevent's evhttp), so that tests and the fuzzer drive it directly. */
#ifndef DNSBL_POLICY_DOVECOT_H
#define DNSBL_POLICY_DOVECOT_H

#include <stddef.h>

#include "policy.h"

#define DV_BODY_MAX 16384       /* bytes of a request body */
#define DV_DEPTH_MAX 8          /* nesting of objects and arrays in it (Dovecot sends 2 at most) */
#define DV_REPLY_MAX 1024

enum dv_command { DV_ALLOW, DV_REPORT };

struct dv_request {
    enum dv_command command;
    char login[POLICY_ACCOUNT_MAX + 1];
    size_t login_len;
    int have_remote;
    struct ipaddr remote;
};

/* The command from the URL's query ("command=allow", other parameters ignored): 0, or -1 with *why. */
int dv_command(const char *query, enum dv_command *out, const char **why);
/* The request body: 0, or -1 with *why (not JSON, too deep, not an object, a field of the wrong type).
 * A login longer than POLICY_ACCOUNT_MAX is kept empty (nothing lists it); an unparsable remote gives
 * have_remote 0. */
int dv_parse(const char *body, size_t len, struct dv_request *rq, const char **why);
/* The decision's question. */
void dv_question(const struct dv_request *rq, struct policy_request *q);
/* The reply body, {"status":N,"msg":"..."}: its length (< cap), 0 if it does not fit. */
size_t dv_reply(const struct policy_verdict *v, char *out, size_t cap);
size_t dv_reply_report(char *out, size_t cap);

/* Is the header value the one configured? Constant time in the value's bytes. */
int dv_key_matches(const char *want, const char *got);

#endif
