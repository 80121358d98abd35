/* fuzz_policy.c - libFuzzer target for the request handling of both policy endpoints: the first byte
 * picks the endpoint. Even: the bytes are what a Postfix policy client sent on one connection, parsed
 * request by request as policy_server.c does; odd: a Dovecot request, its first line the URL's query,
 * the rest the body. Every request that parses is decided against the shipped zones in an (empty)
 * store and answered; the reply must be one "action=" line, or JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "policy_dovecot.h"
#include "policy_postfix.h"
#include "store.h"

static struct zoneset zones;
static struct store st;
static char dir[] = "/tmp/fuzz_policy.XXXXXX";

static void remove_store(void)
{
    char path[64];
    store_close(&st);
    snprintf(path, sizeof path, "%s/data.mdb", dir), unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir), unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    char err[512];
    const char *zdir = getenv("DNSBL_ZONES") ? getenv("DNSBL_ZONES") : "zones";
    if (!mkdtemp(dir) || zoneset_load(zdir, &zones, err, sizeof err) < 0 || store_open(&st, dir, 0, err, sizeof err) < 0 ||
        zoneset_bind(&zones, &st, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    atexit(remove_store);
}

static void foreign(void *arg, const struct ipaddr *a, char cc[2])
{
    (void)arg;
    cc[0] = a->bytes[0] & 1 ? 'U' : 'J', cc[1] = a->bytes[0] & 1 ? 'S' : 'P';
}

static void decide(const struct policy_request *q, struct policy_verdict *v)
{
    MDB_txn *txn;
    if (mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn) != 0)
        abort();
    struct policy_ctx ctx = { .zones = &zones, .txn = txn, .now = 1700000000u, .country = foreign };
    policy_decide(&ctx, q, v);
    mdb_txn_abort(txn);
}

static void postfix(const char *buf, size_t len)
{
    char out[PF_REPLY_MAX];
    while (len) {
        struct pf_request rq;
        struct policy_request q;
        struct policy_verdict v;
        size_t used = 0;
        const char *why = NULL;
        enum pf_status s = pf_parse(buf, len, &rq, &used, &why);
        if (s != PF_COMPLETE) {
            if (s == PF_MALFORMED && !why)
                abort();        /* a refusal must say why */
            pf_reply_error(why ? why : "request too large", out, sizeof out);
            return;
        }
        if (used == 0 || used > len)
            abort();
        if (pf_question(&rq, &q, &why) == 0) {
            decide(&q, &v);
            size_t n = pf_reply(&q, &v, out, sizeof out);
            if (n < 9 || strncmp(out, "action=", 7) || strlen(out) != n || memchr(out, '\n', n - 2))
                abort();        /* exactly one line, then the empty one */
        }
        buf += used, len -= used;
    }
}

static void dovecot(const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    char query[256];
    size_t qlen = nl ? (size_t)(nl - buf) : len;
    snprintf(query, sizeof query, "%.*s", (int)(qlen < sizeof query ? qlen : sizeof query - 1), buf);
    enum dv_command cmd;
    const char *why;
    struct dv_request rq;
    if (dv_command(query, &cmd, &why) < 0)
        return;
    const char *body = nl ? nl + 1 : buf + len;
    if (dv_parse(body, (size_t)(buf + len - body), &rq, &why) < 0)
        return;
    struct policy_request q;
    struct policy_verdict v;
    char out[DV_REPLY_MAX];
    dv_question(&rq, &q);
    decide(&q, &v);
    if (!dv_reply(&v, out, sizeof out) || out[0] != '{')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        setup(), ready = 1;
    if (size < 1)
        return 0;
    char *copy = malloc(size);     /* exactly the input's bytes: reads past them are caught */
    memcpy(copy, data + 1, size - 1);
    if (data[0] & 1)
        dovecot(copy, size - 1);
    else
        postfix(copy, size - 1);
    free(copy);
    return 0;
}
