/* policy_postfix.h - Postfix's SMTP access policy delegation protocol (SMTPD_POLICY_README):
 * "name=value" lines, an empty line ends a request; the reply is "action=..." and an empty line; the
 * connection is reused for the next request. Parsing and replying only: no sockets here
 * (policy_server.c does the connections), so that tests and the fuzzer drive it directly. */
#ifndef DNSBL_POLICY_POSTFIX_H
#define DNSBL_POLICY_POSTFIX_H

#include <stddef.h>

#include "policy.h"

#define PF_REQUEST_MAX 16384        /* bytes of one request, the empty line included */
#define PF_REPLY_MAX 1024

/* A string inside the request buffer, not NUL-terminated; p NULL when the attribute was absent. */
struct pf_str {
    const char *p;
    size_t len;
};

struct pf_request {
    struct pf_str request, protocol_state, client_address, sasl_username, sender;
};

enum pf_status { PF_INCOMPLETE = 0, PF_COMPLETE = 1, PF_MALFORMED = -1 };

/* One request from the start of buf. PF_COMPLETE: *used is its length through the empty line.
 * PF_INCOMPLETE: more bytes are needed (a caller holding PF_REQUEST_MAX bytes without a complete
 * request has one that is too large). PF_MALFORMED: *why says what is wrong (static text). Unknown
 * attributes are ignored; an attribute this module reads given twice is malformed. */
enum pf_status pf_parse(const char *buf, size_t len, struct pf_request *rq, size_t *used, const char **why);

/* The decision's question from a parsed request: -1 (with *why) when it is not a request this server
 * answers (request=smtpd_access_policy is required). */
int pf_question(const struct pf_request *rq, struct policy_request *q, const char **why);

/* The reply for a verdict, "action=...\n\n"; returns its length (< cap; cap >= PF_REPLY_MAX). */
size_t pf_reply(const struct policy_request *q, const struct policy_verdict *v, char *out, size_t cap);
/* The reply to a request that cannot be answered: a temporary refusal naming the problem. */
size_t pf_reply_error(const char *why, char *out, size_t cap);

#endif
