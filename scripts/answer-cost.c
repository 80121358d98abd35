/* answer-cost.c - the user CPU of dnsbl-server's answer path alone, without the kernel.
 *
 *   answer-cost DB_DIR ZONES_DIR QUERIES_FILE ROUNDS
 *
 * Replays a dnsperf query file (one "name type" per line; the type is ignored, every question is A)
 * through what a UDP worker does for a batch: query_parse and answer_prefetch for up to 64 packets,
 * then answer_parsed for each, in one renewed read transaction, with the /24 maps and key filters a
 * server keeps. Prints the CPU time per query (CLOCK_PROCESS_CPUTIME_ID) and how many were listed.
 * For A/B comparisons of two builds on one store (scripts/bench-answer builds and runs it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "query.h"
#include "store.h"
#include "store_index.h"
#include "v4map.h"
#include "zone.h"

#define MAX_QUERIES 1000000
#define BATCH 64

struct packet {
    uint8_t b[300];
    size_t len;
};

/* The A question for name in wire form; 0 if the name does not fit. */
static size_t build(struct packet *p, const char *name, unsigned id)
{
    uint8_t *b = p->b;
    memset(b, 0, 12);
    b[0] = (uint8_t)(id >> 8);
    b[1] = (uint8_t)id;
    b[2] = 1;           /* RD */
    b[5] = 1;           /* one question */
    size_t pos = 12;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n > 63 || pos + 1 + n + 5 > sizeof p->b)
            return 0;
        b[pos++] = (uint8_t)n;
        memcpy(b + pos, s, n);
        pos += n;
        s += n + (dot ? 1 : 0);
    }
    memcpy(b + pos, "\0\0\1\0\1", 5);
    return p->len = pos + 5;
}

static int setup(const char *db, const char *zones, struct store *st, struct zoneset *zs, struct answer_ctx *ctx)
{
    static struct v4map *v4[ZONESET_MAX + 1], *keys[ZONESET_MAX + 1];
    static _Atomic(struct store_index *) indexes[ZONESET_MAX + 1];
    const char *no_index = getenv("ANSWER_COST_NO_INDEX");    /* set: answer from the B-tree alone */
    char err[512];
    if (store_open(st, db, STORE_READONLY, err, sizeof err) < 0 || zoneset_load(zones, zs, err, sizeof err) < 0 ||
        zoneset_bind(zs, st, err, sizeof err) < 0) {
        fprintf(stderr, "answer-cost: %s\n", err);
        return -1;
    }
    for (int i = 0; i < zs->n; i++) {
        zs->zones[i].slot = i + 1;
        if ((zs->zones[i].kind == ZONE_IP && !(v4[i + 1] = v4map_new())) || !(keys[i + 1] = v4map_new())) {
            fprintf(stderr, "answer-cost: out of memory\n");
            return -1;
        }
        struct store_index *ix;
        if (!no_index && store_index_build(st->env, zs->zones[i].dbi, (size_t)4 << 30, &ix, err, sizeof err) == 0)
            atomic_store(&indexes[i + 1], ix);     /* as the server's indexer does (indexer.c) */
    }
    *ctx = (struct answer_ctx){ .zones = zs, .v4maps = v4, .keymaps = keys, .indexes = indexes };
    answer_ctx_invalidate(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc == 5 ? atoi(argv[4]) : 0;
    if (argc != 5 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: answer-cost DB_DIR ZONES_DIR QUERIES_FILE ROUNDS(1-1000)\n");
        return 2;
    }
    struct store st;
    struct zoneset zs;
    struct answer_ctx ctx;
    if (setup(argv[1], argv[2], &st, &zs, &ctx) < 0)
        return 1;
    FILE *f = fopen(argv[3], "r");
    struct packet *pk = calloc(MAX_QUERIES, sizeof *pk);
    if (!f || !pk) {
        perror("answer-cost");
        return 1;
    }
    char line[600], name[512];
    int n = 0;
    while (n < MAX_QUERIES && fgets(line, sizeof line, f))
        if (sscanf(line, "%511s", name) == 1 && build(&pk[n], name, (unsigned)n))
            n++;
    fclose(f);
    MDB_txn *txn;
    if (n == 0 || mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn) != 0) {
        fprintf(stderr, "answer-cost: no queries, or no read transaction\n");
        return 1;
    }
    mdb_txn_reset(txn);
    static uint8_t out[BATCH][1300];
    static struct dns_query q[BATCH];
    static struct answer_prep prep[BATCH];
    long listed = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (int r = 0; r < rounds; r++)
        for (int b = 0; b < n; b += BATCH) {
            int m = n - b < BATCH ? n - b : BATCH;
            mdb_txn_renew(txn);
            ctx.txn = txn;
            ctx.now = (uint32_t)time(NULL);
            for (int i = 0; i < m; i++) {
                query_parse(pk[b + i].b, pk[b + i].len, &q[i]);
                answer_prefetch(&ctx, &q[i], &prep[i]);
            }
            for (int i = 0; i < m; i++)
                answer_prefetch_index(&ctx, &prep[i]);
            for (int i = 0; i < m; i++) {
                struct answer_info info;
                answer_parsed(&ctx, &q[i], &prep[i], pk[b + i].b, out[i], sizeof out[i], 0, &info);
                listed += info.listed;
            }
            mdb_txn_reset(txn);
        }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / ((double)n * rounds);
    printf("%.0f ns/query user+system CPU of the answer path (%d queries x %d rounds, %ld answered listed)\n", ns, n,
           rounds, listed);
    mdb_txn_abort(txn);
    free(pk);
    return 0;
}
