/* policy_server.h - the policy endpoints of dnsbl-server (dnsbl-server(8), POLICY; docs/policy.md): a thread of its own with
 * one event loop serving the Postfix policy protocol (TCP or a UNIX socket; policy_postfix.c) and
 * Dovecot's authentication policy over HTTP (evhttp; policy_dovecot.c), both deciding with
 * policy_decide from the server's store and zone set. Off unless an address is given. */
#ifndef DNSBL_POLICY_SERVER_H
#define DNSBL_POLICY_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zone.h"

#define POLICY_MAX_LISTEN 4

struct policy_options {
    const char *postfix[POLICY_MAX_LISTEN];    /* --policy-postfix ADDR:PORT or unix:PATH */
    int npostfix;
    const char *dovecot;                        /* --policy-dovecot ADDR:PORT */
    const char *dovecot_key_file;               /* --policy-dovecot-key FILE: "Header: value" */
    const char *geoip;                          /* --geoip FILE */
    int max_conns;                              /* --policy-max-conns: Postfix connections at once */
    int idle_seconds;                           /* --policy-idle */
};

/* Counters the policy thread writes and /metrics reads. */
struct policy_counters {
    _Atomic uint64_t postfix[4];                /* by action: DUNNO, REJECT, DEFER, error */
    _Atomic uint64_t dovecot[4];                /* allow, refuse, tarpit, report */
    _Atomic uint64_t bad_requests;              /* malformed, too large, wrong method or key */
    _Atomic uint64_t refused_conns;             /* over --policy-max-conns */
    _Atomic uint64_t store_errors;              /* answered "permit" because the store failed */
};

struct server;
struct policy_server;

/* Binds the sockets (before the server detaches and drops privileges): NULL with err on failure. */
struct policy_server *policy_server_open(struct server *srv, const struct policy_options *o, char *err,
                                         size_t errlen);
/* Starts the thread. 0, or -1 with err. */
int policy_server_start(struct policy_server *ps, char *err, size_t errlen);
/* Waits until the thread no longer answers from old (a reload swapped it out). */
void policy_server_quiesce(struct policy_server *ps, const struct zoneset *old);
const struct policy_counters *policy_server_counters(const struct policy_server *ps);
/* Stops the thread, closes everything; NULL is fine. */
void policy_server_stop(struct policy_server *ps);

#endif
