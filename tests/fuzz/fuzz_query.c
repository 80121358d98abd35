/* fuzz_query.c - libFuzzer target for the DNS hot path: query_parse, the two prefetch steps and answer_parsed
 * on a real LMDB store with the shipped zones and their /24 maps, as a server worker runs them. Every
 * response must fit its limit and parse with ldns. */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "query.h"
#include "store.h"
#include "zone.h"

static struct store st;
static struct zoneset zones;
static MDB_txn *txn;
static struct v4map *maps[ZONESET_MAX + 1], *keymaps[ZONESET_MAX + 1];

static void put(MDB_dbi dbi, const char *entry, int domain, uint32_t code, uint32_t expires, uint8_t flags)
{
    struct store_txn w;
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    struct ipnet net;
    if (domain)
        klen = store_key_domain(entry, strlen(entry), key);
    else if (net_parse(entry, &net) >= 0)
        klen = store_key_net(&net, key);
    else
        abort();
    struct listing l = { .flags = flags, .nreasons = 1, .since = 1 };
    l.reasons[0] = (struct reason){ code, expires, 6, "reason" };
    if (store_write_begin(&st, &w) || store_put(&w, dbi, key, klen, &l, 0) || store_write_commit(&w, 2))
        abort();
}

static void setup(void)
{
    char dir[] = "/tmp/fuzz-query.XXXXXX", err[1024];
    const char *zdir = getenv("DNSBL_ZONES") ? getenv("DNSBL_ZONES") : "zones";
    if (!mkdtemp(dir) || store_open(&st, dir, 0, err, sizeof err) || zoneset_load(zdir, &zones, err, sizeof err) ||
        zoneset_bind(&zones, &st, err, sizeof err)) {
        fprintf(stderr, "fuzz setup: %s\n", err);
        abort();
    }
    MDB_dbi ip = zoneset_find(&zones, "bl.example")->dbi, dom = zoneset_find(&zones, "dbl.example")->dbi;
    put(ip, "1.2.3.4", 0, 0x7f000002, 0, 0);
    put(ip, "10.0.0.0/8", 0, 0x7f000004, 0, 0);
    put(ip, "10.0.0.1", 0, 0, 0, LISTING_ALLOW);
    put(ip, "2001:db8::/32", 0, 0x7f000005, 0, 0);
    put(dom, "example.com", 1, 0x7f000103, 0, LISTING_WILDCARD);
    put(dom, "expired.example", 1, 0x7f000103, 5, 0);
    for (int i = 0; i < zones.n; i++) {     /* slots and maps as dnsbl-server gives them */
        zones.zones[i].slot = i + 1;
        if (zones.zones[i].kind == ZONE_IP && !(maps[i + 1] = v4map_new()))
            abort();
        if (!(keymaps[i + 1] = v4map_new()))
            abort();
    }
    if (mdb_txn_begin(st.env, NULL, MDB_RDONLY, &txn))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct answer_ctx ctx;
    static uint8_t out[65536];
    if (!txn) {
        setup();
        ctx.zones = &zones;
        ctx.txn = txn;
        ctx.v4maps = maps;
        ctx.keymaps = keymaps;
        answer_ctx_invalidate(&ctx);
    }
    ctx.now = 1000;
    int tcp = size > 0 && (data[size - 1] & 1);
    size_t cap = tcp ? sizeof out : 4096;
    struct answer_info info;
    struct dns_query q;     /* parsed once, as a server worker does: the prefetch and the answer read it */
    struct answer_prep prep;
    query_parse(data, size, &q);
    answer_prefetch(&ctx, &q, &prep);
    answer_prefetch_index(&ctx, &prep);
    size_t len = answer_parsed(&ctx, &q, &prep, data, out, cap, tcp, &info);
    if (len > (tcp ? 65535 : ANSWER_EDNS_SIZE))
        abort();
    if (len) {
        ldns_pkt *pkt = NULL;
        if (len < 12 || ldns_wire2pkt(&pkt, out, len) != LDNS_STATUS_OK)
            abort();    /* we wrote something that is not DNS */
        ldns_pkt_free(pkt);
    }
    return 0;
}
