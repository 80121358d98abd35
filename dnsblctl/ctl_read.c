/* ctl_read.c - dnsblctl's reading commands: list, show, top, stats, history. Each prints
 * tab-separated lines for people and grep, or one JSON document with --json. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "feeder_store.h"

static const char *const metric_names[METRICS] = { "rcpt", "unknown", "ndr_in", "ndr_out", "auth_fail", "msgs",
                                                       "abnormal", "unknown_slow", "rcpt_slow", "auth_fail_slow" };

static void json_listing(struct json *j, const struct zone *z, const char *what, const struct listing *l, uint32_t now)
{
    char t[32], code[16];
    json_string(j, "zone", z->name);
    json_string(j, "entry", what);
    json_string(j, "state", (l->flags & LISTING_ALLOW) ? "allow" : listing_live(l, now) ? "listed" : "expired");
    json_string(j, "source", (l->flags & LISTING_MANUAL) ? "manual" : "feeder");
    json_string(j, "since", fmt_time(l->since, t, sizeof t));
    json_begin_array(j, "reasons");
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        const struct zone_code *zc = zone_code_by_addr(z, r->code);
        json_begin_object(j, NULL);
        if (r->code) json_string(j, "code", fmt_code(r->code, code, sizeof code)); else json_null(j, "code");
        if (zc) json_string(j, "name", zc->name); else json_null(j, "name");
        if (r->expires) json_string(j, "until", fmt_time(r->expires, t, sizeof t)); else json_null(j, "until");
        json_bool(j, "live", r->expires == 0 || r->expires > now);
        if (r->text_len) json_stringn(j, "text", r->text, r->text_len);
        else json_string(j, "text", zc ? zc->meaning : "");
        json_end_object(j);
    }
    json_end_array(j);
}

static void print_listing(const struct zone *z, const char *what, const struct listing *l, uint32_t now)
{
    char t1[32], t2[32], code[16];
    const char *state = (l->flags & LISTING_ALLOW) ? "allow" : listing_live(l, now) ? "listed" : "expired";
    printf("%s\t%s\t%s\tsince %s\n", what, state, (l->flags & LISTING_MANUAL) ? "manual" : "feeder",
           fmt_time(l->since, t1, sizeof t1));
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        const struct zone_code *zc = zone_code_by_addr(z, r->code);
        int live = r->expires == 0 || r->expires > now;
        const char *text = r->text_len ? r->text : zc ? zc->meaning : "";
        printf("\t%s\t%s\t%s %s\t%.*s\n", r->code ? fmt_code(r->code, code, sizeof code) : "-",
               zc ? zc->name : "-", live ? "until" : "expired", fmt_time(r->expires, t2, sizeof t2),
               r->text_len ? r->text_len : (int)strlen(text), text);
    }
}

/* Does the listing pass list's --reason and --since? */
static int wanted(struct ctl *c, const struct zone *z, const struct listing *l)
{
    if (!c->all && !listing_live(l, c->now))
        return 0;
    if (c->since_filter && l->since < c->since_filter)
        return 0;
    if (!c->reason_filter)
        return 1;
    const struct zone_code *want = zone_find_code(z, c->reason_filter);
    for (int i = 0; want && i < l->nreasons; i++)
        if (l->reasons[i].code == want->addr)
            return 1;
    return 0;
}

static int list_zone(struct ctl *c, MDB_txn *txn, const struct zone *z, struct json *j, size_t *shown)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, z->dbi, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        char what[300];
        if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0 || !wanted(c, z, &l))
            continue;
        fmt_key(z, k.mv_data, k.mv_size, l.flags, what, sizeof what);
        if (c->json) {
            json_begin_object(j, NULL);
            json_listing(j, z, what, &l, c->now);
            json_end_object(j);
        } else {
            print_listing(z, what, &l, c->now);
        }
        (*shown)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int cmd_list(struct ctl *c, const char *zone)
{
    struct zone *only = zone ? need_zone(c, zone) : NULL;
    if (zone && !only)
        return EXIT_USAGE;
    if (c->reason_filter) {
        int known = 0;
        for (int i = 0; i < c->zones.n; i++)
            known |= (!only || only == &c->zones.zones[i]) && zone_find_code(&c->zones.zones[i], c->reason_filter);
        if (!known) {
            fprintf(stderr, "dnsblctl: --reason '%s' is not a code of %s\n", c->reason_filter, only ? only->name : "any zone");
            return EXIT_USAGE;
        }
    }
    MDB_txn *txn;
    struct json j;
    size_t shown = 0;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_error(rc);
    json_init(&j, stdout);
    if (c->json)
        json_begin_array(&j, NULL);
    for (int i = 0; rc == 0 && i < c->zones.n; i++)
        if (!only || only == &c->zones.zones[i])
            rc = list_zone(c, txn, &c->zones.zones[i], &j, &shown);
    if (c->json)
        json_end_array(&j);
    mdb_txn_abort(txn);
    if (rc)
        return store_error(rc);
    if (!c->json)
        fprintf(stderr, "%zu entr%s\n", shown, shown == 1 ? "y" : "ies");
    return 0;
}

/* ---- show ---- */

static MDB_dbi feeder_dbi(MDB_txn *txn, const char *name, int *ok)
{
    MDB_dbi dbi = 0;
    *ok = mdb_dbi_open(txn, name, 0, &dbi) == 0;
    return dbi;
}

/* "N abnormal sessions (so far: pregreet 5, lost connection 7; longest 31s)": the window's count, then
 * every session counted since the feeder began to track the address, by kind, and the longest hold. */
static void abnormal_line(const struct feeder_subject *sub, uint32_t n, char *line, size_t cap)
{
    const struct abnormal_state *ab = sub->kind == SUBJ_IP ? sub->abn : NULL;
    size_t pos = (size_t)snprintf(line, cap, "%u abnormal sessions", n);
    int first = 1;
    for (int k = 0; ab && k < AB_KINDS && pos < cap; k++) {
        if (!ab->sessions[k])
            continue;
        pos += (size_t)snprintf(line + pos, cap - pos, "%s%s %u", first ? " (so far: " : ", ", abnormal_kind_name(k),
                                ab->sessions[k]);
        first = 0;
    }
    if (!first && pos < cap)
        snprintf(line + pos, cap - pos, "; longest %us)", ab->max_hold);
}

/* The slow window's count of metric m (and of `of`, unless METRICS) as "; N of M in 24h" in out, when
 * the rule has a slow window and the count is not 0 (else ""); adds it to *any. */
static void slow_counts(const struct feeder_subject *sub, const struct zone_rule *r, uint32_t now, enum metric m,
                        enum metric of, char *out, size_t cap, uint32_t *any)
{
    uint32_t n = r->slow_threshold ? feeder_subject_sum(sub, m, now, r->slow_window) : 0;
    out[0] = '\0';
    if (!n)
        return;
    if (of < METRICS)
        snprintf(out, cap, "; %u of %u in %uh", n, feeder_subject_sum(sub, of, now, r->slow_window), r->slow_window / 3600);
    else
        snprintf(out, cap, "; %u in %uh", n, r->slow_window / 3600);
    *any += n;
}

/* The feeder's counters behind a listing, over each enabled rule's window. */
static void show_counters(struct ctl *c, MDB_txn *txn, const struct zone *z, const uint8_t *skey, size_t sklen,
                          struct json *j)
{
    int ok;
    MDB_dbi dbi = feeder_dbi(txn, FEEDER_DB_SUBJECTS, &ok);
    struct feeder_subject *sub = ok ? feeder_subject_read(txn, dbi, skey, sklen) : NULL;
    if (!sub)
        return;
    if (c->json)
        json_begin_object(j, "counters");
    for (int k = 0; k < RULE_KINDS; k++) {
        const struct zone_rule *r = &z->rules[k];
        if (!r->enabled)
            continue;
        uint32_t w = r->window, a = 0, b = 0;
        char line[300], slow[80] = "";
        switch (k) {
        case RULE_DHA:
            a = feeder_subject_sum(sub, M_UNKNOWN, c->now, w);
            b = feeder_subject_sum(sub, M_RCPT, c->now, w);
            snprintf(line, sizeof line, "%u unknown of %u RCPTs", a, b);
            slow_counts(sub, r, c->now, M_UNKNOWN_SLOW, M_RCPT_SLOW, slow, sizeof slow, &a);
            break;
        case RULE_BACKSCATTER:
            a = feeder_subject_sum(sub, M_NDR_IN, c->now, w);
            b = feeder_subject_sum(sub, M_NDR_OUT, c->now, w);
            snprintf(line, sizeof line, "%u NDRs received, %u sent", a, b);
            break;
        case RULE_AUTH:
            a = feeder_subject_sum(sub, M_AUTH_FAIL, c->now, w);
            snprintf(line, sizeof line, "%u failed logins", a);
            slow_counts(sub, r, c->now, M_AUTH_FAIL_SLOW, METRICS, slow, sizeof slow, &a);
            break;
        case RULE_VOLUME:
            a = feeder_subject_sum(sub, M_MSGS, c->now, w);
            if (sub->kind == SUBJ_ACCOUNT)     /* submissions: messages and their recipients */
                snprintf(line, sizeof line, "%u messages to %u recipients", a, b = feeder_subject_sum(sub, M_RCPT, c->now, w));
            else
                snprintf(line, sizeof line, "%u messages", a);
            break;
        case RULE_ABNORMAL:
            a = feeder_subject_sum(sub, M_ABNORMAL, c->now, w);
            abnormal_line(sub, a, line, sizeof line);
            break;
        default:
            /* an account's logins; an address's union holds its abnormal sessions instead */
            for (int i = 0; sub->kind == SUBJ_ACCOUNT && sub->acct && i < sub->acct->nlogin; i++)
                a += sub->acct->login[i].time + w > c->now;
            snprintf(line, sizeof line, "%u logins", a);
        }
        if (!a && !b && !sub->offence[k].count)
            continue;   /* a rule with nothing to say about this source */
        if (c->json) {
            json_begin_object(j, rule_kind_name(k));
            json_uint(j, "window_seconds", w);
            json_string(j, "counts", line);
            if (slow[0])
                json_string(j, "slow_counts", slow + 2);
            json_uint(j, "times_listed", sub->offence[k].count);
            json_end_object(j);
        } else {
            printf("\t\t%s: %s in %um%s; listed %u time%s under this rule\n", rule_kind_name(k), line, w / 60,
                   slow, sub->offence[k].count, sub->offence[k].count == 1 ? "" : "s");
        }
    }
    if (c->json)
        json_end_object(j);
    feeder_subject_free(sub);
}

static void show_one(struct ctl *c, MDB_txn *txn, const struct zone *z, const char *what, const struct listing *l,
                     const uint8_t *fkey, size_t fklen, struct json *j)
{
    if (c->json) {
        json_begin_object(j, NULL);
        json_listing(j, z, what, l, c->now);
    } else {
        char line[400];
        snprintf(line, sizeof line, "%s\t%s", z->name, what);
        print_listing(z, line, l, c->now);
    }
    if (fklen)
        show_counters(c, txn, z, fkey, fklen, j);
    if (c->json)
        json_end_object(j);
}

/* The feeder counters to show for what was asked: an address's (or its /64's), or a network's, such
 * as the /24 or /48 that the feeder rates as a whole. */
static size_t counters_key(const struct ipnet *net, uint8_t *key)
{
    size_t len = 0;
    if (net->plen < (net->addr.family == ADDR_V4 ? 32 : 64))
        len = subject_key_net(&net->addr, net->plen, key);
    return len ? len : subject_key_ip(&net->addr, key);
}

/* Every live listing that covers the address, most specific (the one at `from`) first: the answer
 * holds the reasons of all of them. The counters are those of what was asked (counters_key). */
static void show_covering_nets(struct ctl *c, MDB_txn *txn, const struct zone *z, const struct zone_meta *meta,
                               const struct ipnet *asked, int from, struct json *j)
{
    uint8_t key[STORE_KEY_MAX], fkey[1 + DOMAIN_MAX];
    size_t fklen = counters_key(asked, fkey);
    const struct ipaddr *a = &asked->addr;
    char what[300];
    for (int plen = from; plen >= 0; plen--) {
        uint64_t plens = a->family == ADDR_V4 ? meta->v4_plens : meta->v6_plens[plen / 64];
        struct ipnet up = { *a, (uint8_t)plen };
        struct listing l;
        if (!((plens >> (plen % 64)) & 1))
            continue;       /* no entry of this prefix length in the zone */
        net_clear_host_bits(&up);
        if (store_get(txn, z->dbi, key, store_key_net(&up, key), &l) <= 0 || !listing_live(&l, c->now) ||
            (l.flags & LISTING_ALLOW))
            continue;
        show_one(c, txn, z, net_format(&up, what, sizeof what), &l, fkey, fklen, j);
        fklen = 0;
    }
}

/* The same for a domain: the name's own entry (from offset 0) and its parents' wildcards. */
static void show_covering_names(struct ctl *c, MDB_txn *txn, const struct zone *z, const char *name, size_t len,
                                size_t from, struct json *j)
{
    uint8_t key[STORE_KEY_MAX], fkey[1 + DOMAIN_MAX];
    size_t fklen = subject_key_name(SUBJ_DOMAIN, name + from, len - from, fkey);
    char what[300];
    for (size_t off = from; off < len;) {
        struct listing l;
        int found = store_get(txn, z->dbi, key, store_key_domain(name + off, len - off, key), &l);
        int applies = off == 0 ? !(l.flags & LISTING_SUBDOMAINS) : (l.flags & LISTING_WILDCARD);
        if (found > 0 && applies && listing_live(&l, c->now) && !(l.flags & LISTING_ALLOW)) {
            snprintf(what, sizeof what, "%s%s", off ? "." : "", name + off);
            show_one(c, txn, z, what, &l, fkey, fklen, j);
            fklen = 0;
        }
        const char *dot = memchr(name + off, '.', len - off);
        if (!dot)
            break;
        off = (size_t)(dot - name) + 1;
    }
}

/* 1 if the zone lists (or excludes) the entry. A listed entry shows every live listing covering it;
 * an excluded one the allow entry that decides it. */
/* An account's domestic-only mark (store.h, account marks): 1 shown, 0 none. */
static int show_mark(struct ctl *c, MDB_txn *txn, const struct zone *z, const char *text, struct json *j)
{
    char label[ACCOUNT_LABEL_LEN + 1], since[32], until[32];
    struct account_mark m;
    account_label(text, strlen(text), label);
    if (store_account_mark_get(txn, z->dbi, label, c->now, &m) <= 0 || !(m.flags & ACCOUNT_DOMESTIC_ONLY))
        return 0;
    const char *home = m.country[0] ? m.country : z->policy.home_country;
    if (c->json) {
        json_begin_object(j, NULL);
        json_string(j, "zone", z->name);
        json_string(j, "entry", text);
        json_string(j, "mark", "domestic-only");
        json_string(j, "country", home);
        json_string(j, "since", fmt_time(m.since, since, sizeof since));
        json_string(j, "until", fmt_time(m.expires, until, sizeof until));
        json_end_object(j);
    } else {
        printf("%s\taccount:%s\tdomestic-only: submissions and logins from outside %s are refused\tsince %s\t"
               "until %s%s%.*s\n", z->name, text, home, fmt_time(m.since, since, sizeof since),
               fmt_time(m.expires, until, sizeof until), m.note_len ? "\t" : "", (int)m.note_len, m.note);
    }
    return 1;
}

static int show_in_zone(struct ctl *c, MDB_txn *txn, const struct zone *z, const char *text, struct json *j)
{
    struct listing l;
    char what[300];
    uint8_t fkey[1 + DOMAIN_MAX];
    if (z->kind == ZONE_IP) {
        struct ipnet net, matched;
        struct zone_meta meta;
        if (net_parse(text, &net) < 0)
            return 0;
        addr_unmap_v4(&net.addr);
        store_read_meta(txn, z->dbi, &meta);
        int rc = store_lookup_ip(txn, z->dbi, &meta, &net.addr, c->now, &l, &matched);
        if (rc < 0 || (rc == 0 && !(l.flags & LISTING_ALLOW)) || matched.plen > net.plen)
            return 0;
        if (rc == 1)
            show_covering_nets(c, txn, z, &meta, &net, matched.plen, j);
        else
            show_one(c, txn, z, net_format(&matched, what, sizeof what), &l, fkey, counters_key(&net, fkey), j);
        return 1;
    }
    if (z->kind == ZONE_ACCOUNT) {
        struct entry e;
        int marked = show_mark(c, txn, z, text, j);
        if (parse_entry(z, text, &e, 1) < 0 || store_get(txn, z->dbi, e.key, e.klen, &l) <= 0 || !listing_live(&l, c->now))
            return marked;
        snprintf(what, sizeof what, "account:%s", text);
        show_one(c, txn, z, what, &l, fkey, subject_key_name(SUBJ_ACCOUNT, text, strlen(text), fkey), j);
        return 1;
    }
    char name[DOMAIN_MAX + 1];
    size_t off = 0;
    int len = domain_normalize(text, name, sizeof name);
    if (len < 0)
        return 0;
    int rc = store_lookup_domain(txn, z->dbi, name, (size_t)len, c->now, &l, &off);
    if (rc < 0 || (rc == 0 && !(l.flags & LISTING_ALLOW)))
        return 0;
    if (rc == 1) {
        show_covering_names(c, txn, z, name, (size_t)len, off, j);
        return 1;
    }
    snprintf(what, sizeof what, "%s%s", off ? "." : "", name + off);
    show_one(c, txn, z, what, &l, fkey, subject_key_name(SUBJ_DOMAIN, name + off, (size_t)len - off, fkey), j);
    return 1;
}

int cmd_show(struct ctl *c, const char *text)
{
    MDB_txn *txn;
    struct json j;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_error(rc);
    json_init(&j, stdout);
    if (c->json) {
        json_begin_object(&j, NULL);
        json_string(&j, "entry", text);
        json_begin_array(&j, "listings");
    }
    int hits = 0;
    for (int i = 0; i < c->zones.n; i++)
        hits += show_in_zone(c, txn, &c->zones.zones[i], text, &j);
    mdb_txn_abort(txn);
    if (c->json) {
        json_end_array(&j);
        json_end_object(&j);
    } else if (!hits) {
        printf("%s: not listed in any zone\n", text);
    }
    return hits ? 0 : EXIT_NOTFOUND;
}

/* ---- top ---- */

#define TOP_BARS 12     /* five-minute bars over the last hour */

struct active {
    struct feeder_subject *sub;
    uint32_t total, metric[METRICS], bar[TOP_BARS];
};

static int by_total(const void *a, const void *b)
{
    const struct active *x = a, *y = b;
    return x->total < y->total ? 1 : x->total > y->total ? -1 : 0;
}

static void activity(struct active *a, uint32_t minute)
{
    for (int m = 0; m < M_UNKNOWN_SLOW; m++) {     /* the slow metrics count the same events again */
        const struct ring *r = a->sub->ring[m];
        for (uint32_t back = 0; r && back < 60; back++) {
            uint32_t mm = minute - back;
            if (mm > r->last || r->last - mm >= RING_MINUTES)
                continue;
            uint32_t n = r->slot[mm % RING_MINUTES];
            a->metric[m] += n;
            a->bar[TOP_BARS - 1 - back / 5] += n;
            a->total += n;
        }
    }
}

static void histogram(const struct active *a, char *out)
{
    static const char ramp[] = " .:-=+*#%@";
    uint32_t max = 1;
    for (int i = 0; i < TOP_BARS; i++)
        if (a->bar[i] > max)
            max = a->bar[i];
    for (int i = 0; i < TOP_BARS; i++)
        out[i] = a->bar[i] ? ramp[1 + (a->bar[i] * 8 + max - 1) / max] : ramp[0];
    out[TOP_BARS] = '\0';
}

int cmd_top(struct ctl *c)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int ok, rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_error(rc);
    MDB_dbi dbi = feeder_dbi(txn, FEEDER_DB_SUBJECTS, &ok);
    struct active *all = NULL;
    size_t n = 0, cap = 0;
    uint32_t latest = 0;
    if (ok && mdb_cursor_open(txn, dbi, &cur) == 0) {
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct feeder_subject *sub = feeder_subject_read(txn, dbi, k.mv_data, k.mv_size);
            if (!sub)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                struct active *grown = realloc(all, cap * sizeof *all);
                if (!grown) {
                    feeder_subject_free(sub);
                    break;
                }
                all = grown;
            }
            memset(&all[n], 0, sizeof all[n]);
            all[n++].sub = sub;
            for (int m = 0; m < M_UNKNOWN_SLOW; m++)     /* minutes; the slow rings count half-hours */
                if (sub->ring[m] && sub->ring[m]->last > latest)
                    latest = sub->ring[m]->last;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    /* "now" is the newest event the feeder counted, so a replayed or delayed log shows too */
    uint32_t minute = latest ? latest : c->now / 60;
    for (size_t i = 0; i < n; i++)
        activity(&all[i], minute);
    if (n)
        qsort(all, n, sizeof *all, by_total);
    struct json j;
    json_init(&j, stdout);
    if (c->json)
        json_begin_array(&j, NULL);
    else
        printf("source\tevents/h\t%-12s\tby kind (last hour, to %s)\n", "-60m    now", fmt_time(minute * 60, (char[32]){0}, 32));
    for (size_t i = 0; i < n && (int)i < c->limit && all[i].total; i++) {
        char name[300], bars[TOP_BARS + 1];
        subject_key_format(all[i].sub->key, all[i].sub->keylen, name, sizeof name);
        histogram(&all[i], bars);
        if (c->json) {
            json_begin_object(&j, NULL);
            json_string(&j, "source", name);
            json_string(&j, "kind", all[i].sub->kind == SUBJ_IP ? "ip" : all[i].sub->kind == SUBJ_DOMAIN ? "domain"
                        : all[i].sub->kind == SUBJ_NET ? "network" : "account");
            json_uint(&j, "events", all[i].total);
            json_begin_object(&j, "by_kind");
            for (int m = 0; m < METRICS; m++)
                if (all[i].metric[m])
                    json_uint(&j, metric_names[m], all[i].metric[m]);
            json_end_object(&j);
            json_begin_array(&j, "per_5_minutes");
            for (int b = 0; b < TOP_BARS; b++)
                json_uint(&j, NULL, all[i].bar[b]);
            json_end_array(&j);
            json_end_object(&j);
            continue;
        }
        printf("%s\t%u\t|%s|\t", name, all[i].total, bars);
        for (int m = 0; m < METRICS; m++)
            if (all[i].metric[m])
                printf("%s=%u ", metric_names[m], all[i].metric[m]);
        printf("\n");
    }
    if (c->json)
        json_end_array(&j);
    for (size_t i = 0; i < n; i++)
        feeder_subject_free(all[i].sub);
    free(all);
    return 0;
}

/* ---- stats ---- */

static void zone_stats(struct ctl *c, MDB_txn *txn, const struct zone *z, struct json *j)
{
    MDB_cursor *cur;
    MDB_val k, v;
    size_t live = 0, expired = 0, manual = 0, allow = 0, per_code[ZONE_MAX_CODES] = { 0 };
    if (mdb_cursor_open(txn, z->dbi, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct listing l;
            if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0)
                continue;
            int is_live = listing_live(&l, c->now);
            live += is_live && !(l.flags & LISTING_ALLOW);
            expired += !is_live;
            manual += is_live && (l.flags & LISTING_MANUAL) && !(l.flags & LISTING_ALLOW);
            allow += is_live && (l.flags & LISTING_ALLOW);
            for (int i = 0; is_live && i < l.nreasons; i++) {
                const struct zone_code *zc = zone_code_by_addr(z, l.reasons[i].code);
                if (zc && (l.reasons[i].expires == 0 || l.reasons[i].expires > c->now))
                    per_code[zc - z->codes]++;
            }
        }
        mdb_cursor_close(cur);
    }
    struct zone_meta meta;
    store_read_meta(txn, z->dbi, &meta);
    if (c->json) {
        json_begin_object(j, NULL);
        json_string(j, "zone", z->name);
        json_string(j, "kind", zone_kind_name(z->kind));
        json_uint(j, "serial", meta.serial);
        json_uint(j, "listed", live);
        json_uint(j, "manual", manual);
        json_uint(j, "feeder", live - manual);
        json_uint(j, "allow", allow);
        json_uint(j, "expired_not_purged", expired);
        json_begin_object(j, "by_code");
        for (int i = 0; i < z->ncodes; i++)
            json_uint(j, z->codes[i].name[0] ? z->codes[i].name : "unnamed", per_code[i]);
        json_end_object(j);
        json_end_object(j);
        return;
    }
    printf("%s\t%s\tserial %u\t%zu listed (%zu manual, %zu feeder), %zu allow, %zu expired not purged\n", z->name,
           zone_kind_name(z->kind), meta.serial, live, manual, live - manual, allow, expired);
    for (int i = 0; i < z->ncodes; i++) {
        char code[16];
        printf("\t%s\t%s\t%zu\n", fmt_code(z->codes[i].addr, code, sizeof code), z->codes[i].name, per_code[i]);
    }
}

int cmd_stats(struct ctl *c)
{
    MDB_txn *txn;
    MDB_envinfo info;
    MDB_stat st;
    struct json j;
    int readers = 0, ok;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_error(rc);
    json_init(&j, stdout);
    if (c->json) {
        json_begin_object(&j, NULL);
        json_begin_array(&j, "zones");
    }
    for (int i = 0; i < c->zones.n; i++)
        zone_stats(c, txn, &c->zones.zones[i], &j);
    mdb_env_info(c->store.env, &info);
    mdb_env_stat(c->store.env, &st);
    readers = store_readers(&c->store);
    size_t subjects = 0, queue = 0;
    MDB_dbi dbi = feeder_dbi(txn, FEEDER_DB_SUBJECTS, &ok);
    if (ok && mdb_stat(txn, dbi, &st) == 0)
        subjects = st.ms_entries;
    dbi = feeder_dbi(txn, FEEDER_DB_QUEUE, &ok);
    if (ok && mdb_stat(txn, dbi, &st) == 0)
        queue = st.ms_entries;
    mdb_env_stat(c->store.env, &st);
    size_t used = (size_t)store_used_bytes(&c->store);
    mdb_txn_abort(txn);
    if (c->json) {
        json_end_array(&j);
        json_begin_object(&j, "store");
        json_uint(&j, "used_bytes", used);
        json_uint(&j, "map_bytes", info.me_mapsize);
        json_uint(&j, "readers", (uint64_t)readers);
        json_uint(&j, "max_readers", info.me_maxreaders);
        json_uint(&j, "last_txn", info.me_last_txnid);
        json_end_object(&j);
        json_begin_object(&j, "feeder");
        json_uint(&j, "subjects", subjects);
        json_uint(&j, "queue_entries", queue);
        json_end_object(&j);
        json_end_object(&j);
    } else {
        printf("store\t%s\t%.1f MB used, %d readers (of %u), transaction %zu\n", c->db_dir, used / 1e6, readers,
               info.me_maxreaders, info.me_last_txnid);
        printf("feeder\t%zu sources rated, %zu queue IDs being joined\n", subjects, queue);
    }
    return 0;
}

/* ---- history ---- */

struct hist {
    char zone[DOMAIN_MAX + 1], what[300], who[33], why[401];
    uint32_t time, code, expires;
    char action;
};

static int hist_decode(const struct ctl *c, const MDB_val *k, const MDB_val *v, struct hist *h)
{
    const uint8_t *p = v->mv_data, *key = k->mv_data;
    const uint8_t *nul = memchr(key, 0, k->mv_size);
    if (!nul || v->mv_size < 16)
        return -1;
    snprintf(h->zone, sizeof h->zone, "%.*s", (int)(nul - key), (const char *)key);
    const struct zone *z = zoneset_find(&c->zones, h->zone);
    size_t sklen = k->mv_size - (size_t)(nul - key) - 1;
    if (!sklen)
        snprintf(h->what, sizeof h->what, "(zone)");
    else if (z)
        fmt_key(z, nul + 1, sklen, 0, h->what, sizeof h->what);
    else
        snprintf(h->what, sizeof h->what, "?");
    uint32_t be;
    memcpy(&be, p, 4);
    h->time = __builtin_bswap32(be);
    h->action = (char)p[4];
    memcpy(&h->code, p + 5, 4);
    memcpy(&h->expires, p + 9, 4);
    size_t wl = p[13], pos = 14;
    if (pos + wl + 2 > v->mv_size)
        return -1;
    snprintf(h->who, sizeof h->who, "%.*s", (int)wl, (const char *)p + pos);
    pos += wl;
    size_t yl = (size_t)p[pos] << 8 | p[pos + 1];
    pos += 2;
    if (pos + yl > v->mv_size)
        return -1;
    snprintf(h->why, sizeof h->why, "%.*s", (int)yl, (const char *)p + pos);
    return 0;
}

static const char *action_name(char a)
{
    switch (a) {
    case 'a': return "add";
    case 'A': return "allow";
    case 'd': return "delist";
    case 'u': return "unallow";
    case 'i': return "import";
    case 'p': return "purge";
    case 'o': return "domestic";
    case 'O': return "undomestic";
    }
    return "?";
}

static int by_time(const void *a, const void *b)
{
    const struct hist *x = a, *y = b;
    return x->time < y->time ? -1 : x->time > y->time;
}

int cmd_history(struct ctl *c, const char *text)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    struct hist *all = NULL;
    size_t n = 0, cap = 0;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return store_error(rc);
    if ((rc = mdb_cursor_open(txn, c->history, &cur)) != 0) {
        mdb_txn_abort(txn);
        return store_error(rc);
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (text) {     /* only this entry, in any zone where it can be spelled */
            const uint8_t *nul = memchr(k.mv_data, 0, k.mv_size);
            struct zone *z = nul ? zoneset_find(&c->zones, (const char *)k.mv_data) : NULL;
            struct entry e;
            size_t sklen = nul ? k.mv_size - (size_t)(nul - (const uint8_t *)k.mv_data) - 1 : 0;
            if (!z || parse_entry(z, text, &e, 1) < 0 || e.klen != sklen || memcmp(e.key, nul + 1, sklen))
                continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct hist *grown = realloc(all, cap * sizeof *all);
            if (!grown)
                break;
            all = grown;
        }
        if (hist_decode(c, &k, &v, &all[n]) == 0)
            n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (n)
        qsort(all, n, sizeof *all, by_time);
    size_t from = n > (size_t)c->limit && !text ? n - (size_t)c->limit : 0;
    struct json j;
    json_init(&j, stdout);
    if (c->json)
        json_begin_array(&j, NULL);
    for (size_t i = from; i < n; i++) {
        const struct hist *h = &all[i];
        char t[32], t2[32], code[16];
        if (c->json) {
            json_begin_object(&j, NULL);
            json_string(&j, "time", fmt_time(h->time, t, sizeof t));
            json_string(&j, "who", h->who);
            json_string(&j, "action", action_name(h->action));
            json_string(&j, "zone", h->zone);
            json_string(&j, "entry", h->what);
            if (h->action == 'a') json_string(&j, "code", fmt_code(h->code, code, sizeof code));
            if (h->action == 'i' || h->action == 'p') json_uint(&j, "entries", h->code);
            if (h->expires) json_string(&j, "until", fmt_time(h->expires, t2, sizeof t2));
            json_string(&j, "why", h->why);
            json_end_object(&j);
            continue;
        }
        printf("%s\t%s\t%s\t%s\t%s", fmt_time(h->time, t, sizeof t), h->who, action_name(h->action), h->zone, h->what);
        if (h->action == 'a')
            printf("\t%s", fmt_code(h->code, code, sizeof code));
        if (h->expires)
            printf("\tuntil %s", fmt_time(h->expires, t2, sizeof t2));
        printf("\t%s\n", h->why);
    }
    if (c->json)
        json_end_array(&j);
    free(all);
    if (!n && text && !c->json)
        printf("%s: no manual changes recorded\n", text);
    return n || !text ? 0 : EXIT_NOTFOUND;
}
