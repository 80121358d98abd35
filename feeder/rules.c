/* rules.c - compare a subject's windows with the zones' rules and turn crossings into listings.
 *
 * A crossing at event time t lists the subject until t + duration, where the duration is the rule's
 * `expire` doubled for every earlier listing within `repeat-memory` (up to `max-expire`); further
 * crossings while listed push the end out again, never in. Listings wait in the pending list (commit.c:
 * one per zone, key and code) and reach the zone databases in the next commit, where a manual entry
 * always wins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit.h"
#include "feeder.h"
#include "rules.h"
#include "geo.h"

static int zone_rates(const struct zone *z, const struct subject *sub)
{
    switch (z->kind) {
    case ZONE_IP: return sub->kind == SUBJ_IP;
    case ZONE_DOMAIN: return sub->kind == SUBJ_DOMAIN;
    case ZONE_ACCOUNT: return sub->kind == SUBJ_ACCOUNT;
    }
    return 0;
}

static int allowed(const struct zone *z, const struct subject *sub)
{
    struct ipnet net;
    if (subject_net(sub, &net) == 0)
        return zone_allows_net(z, &net);   /* an IPv6 /64 with one allowed address in it */
    char name[DOMAIN_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int)sub->keylen - 1, (const char *)sub->key + 1);
    return zone_allows_name(z, name);
}

/* The listing's end for an offending event at t, updating the subject's offence record; 0 when the
 * event is not newer than the one that set the listing (a dha session without unknown recipients
 * re-judges the window at its disconnect: that alone must neither extend nor renew a listing). */
static uint32_t offend(struct feeder *f, struct subject *sub, enum rule_kind k, const struct zone_rule *r, uint32_t t)
{
    struct offence *o = subject_offence(sub, k);  /* allocated for subjects ever listed only */
    if (!o || (o->count && t <= o->last))
        return 0;
    o->last = t;
    if (!(o->count && o->until > t))        /* not listed now (a listing "until t" has ended at t) */
        o->count = o->count && o->until + f->repeat_memory >= t ? o->count + 1 : 1;
    uint64_t d = r->expire;
    for (uint32_t i = 1; i < o->count && d < r->max_expire; i++)
        d *= 2;
    if (d > r->max_expire)
        d = r->max_expire;
    uint32_t until = t + (uint32_t)d;
    if (until > o->until)
        o->until = until;
    subject_touch(&f->state, sub);
    return o->until;
}

static size_t store_key_for(const struct subject *sub, uint8_t *key)
{
    struct ipnet net;
    if (subject_net(sub, &net) == 0)
        return store_key_net(&net, key);
    if (sub->kind == SUBJ_ACCOUNT) {
        char label[ACCOUNT_LABEL_LEN + 1];
        account_label((const char *)sub->key + 1, sub->keylen - 1u, label);
        return store_key_domain(label, ACCOUNT_LABEL_LEN, key);
    }
    return store_key_domain((const char *)sub->key + 1, sub->keylen - 1u, key);
}

/* List sub in zone zi for rule k; t is the offending event's time, why says what crossed the threshold. */
static void list(struct feeder *f, int zi, enum rule_kind k, struct subject *sub, uint32_t t, const char *why)
{
    const struct zone *z = &f->zones.zones[zi];
    const struct zone_rule *r = &z->rules[k];
    if (allowed(z, sub)) {
        f->stats.allowed++;
        return;
    }
    uint32_t until = offend(f, sub, k, r, t);
    if (!until)
        return;
    char text[REASON_TEXT_MAX + 1], stamp[24];
    time_t tt = until + 59;     /* the minute it is over by: never earlier than the real end */
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%MZ", &tm);
    snprintf(text, sizeof text, "%s; listed until %s", why, stamp);
    uint8_t skey[STORE_KEY_MAX];
    pending_add(f, zi, z->codes[r->code].addr, sub->offence[k].count, skey, store_key_for(sub, skey), t, until,
                text);
    f->stats.listings++;
    f->stats.listings_by[zi][k]++;
}

static void eval_dha(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_DHA];
    uint32_t unknown = subject_sum(sub, M_UNKNOWN, t, r->window), rcpt = subject_sum(sub, M_RCPT, t, r->window);
    if (rcpt < unknown)
        rcpt = unknown;
    if (unknown < r->threshold || (uint64_t)unknown * 100 < (uint64_t)r->ratio * rcpt)
        return;
    char why[160];
    snprintf(why, sizeof why, "unknown recipients %u/%u in %um", unknown, rcpt, r->window / 60);
    list(f, zi, RULE_DHA, sub, sub->last_unknown ? sub->last_unknown : t, why);
}

/* dha without the ratio: so many unknown recipients that no share of valid ones (a harvest diluted
 * with real addresses to stay under the ratio) makes them innocent. Listed with the same reason text
 * and under the same rule as eval_dha, so a client crossing both is listed once. */
static void eval_dha_count(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_DHA];
    uint32_t unknown = subject_sum(sub, M_UNKNOWN, t, r->window), rcpt = subject_sum(sub, M_RCPT, t, r->window);
    if (!r->count || unknown < r->count)
        return;
    char why[160];
    snprintf(why, sizeof why, "unknown recipients %u/%u in %um", unknown, rcpt < unknown ? unknown : rcpt,
             r->window / 60);
    list(f, zi, RULE_DHA, sub, sub->last_unknown ? sub->last_unknown : t, why);
}

/* A window's length as the reason text says it: "10m", "24h". */
static const char *span(uint32_t seconds, char *buf, size_t n)
{
    if (seconds % 3600 == 0)
        snprintf(buf, n, "%uh", seconds / 3600);
    else
        snprintf(buf, n, "%um", seconds / 60);
    return buf;
}

/* dha over the slow window: a harvest kept under the ten-minute threshold for hours. The ratio holds
 * here too, against the RCPTs counted since the subject's first unknown one (correlate.c count_slow),
 * so a big sender with a few stale addresses a day is not listed. */
static void eval_dha_slow(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_DHA];
    if (!r->slow_threshold)
        return;
    uint32_t unknown = subject_sum(sub, M_UNKNOWN_SLOW, t, r->slow_window);
    uint32_t rcpt = subject_sum(sub, M_RCPT_SLOW, t, r->slow_window);
    if (rcpt < unknown)
        rcpt = unknown;
    if (unknown < r->slow_threshold || (uint64_t)unknown * 100 < (uint64_t)r->ratio * rcpt)
        return;
    char why[160], w[16];
    snprintf(why, sizeof why, "unknown recipients %u/%u in %s", unknown, rcpt, span(r->slow_window, w, sizeof w));
    list(f, zi, RULE_DHA, sub, sub->last_unknown ? sub->last_unknown : t, why);
}

/* Connections that end without a message after a hang-up, timeout, protocol error or pregreet
 * (correlate.c counts each connection once, at its end). The reason names the commonest kind so far. */
static void eval_abnormal(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_ABNORMAL];
    const struct abnormal_state *a = sub->kind == SUBJ_IP ? sub->abn : NULL;
    uint32_t n = subject_sum(sub, M_ABNORMAL, t, r->window);
    if (!a || n < r->threshold)
        return;
    int top = 0;
    for (int k = 1; k < AB_KINDS; k++)
        if (a->sessions[k] > a->sessions[top])
            top = k;
    char why[160];
    snprintf(why, sizeof why, "abnormal sessions %u in %um (mostly %s; longest %us)", n, r->window / 60,
             abnormal_kind_name(top), a->max_hold);
    list(f, zi, RULE_ABNORMAL, sub, t, why);
}

static void eval_backscatter(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_BACKSCATTER];
    uint32_t in = subject_sum(sub, M_NDR_IN, t, r->window), out = subject_sum(sub, M_NDR_OUT, t, r->window);
    if (in + out < r->threshold)
        return;
    char why[160];
    snprintf(why, sizeof why, "NDRs %u in %um (%u received, %u sent)", in + out, r->window / 60, in, out);
    list(f, zi, RULE_BACKSCATTER, sub, t, why);
}

/* An account's submissions (authenticated mail it sent): messages or recipients over the limits. */
static void eval_account_volume(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_VOLUME];
    uint32_t msgs = subject_sum(sub, M_MSGS, t, r->window), rcpts = subject_sum(sub, M_RCPT, t, r->window);
    if (msgs < r->threshold && !(r->recipients && rcpts >= r->recipients))
        return;
    char why[200], w[16];
    snprintf(why, sizeof why, "account %.*s sent %u messages to %u recipients in %s (limits %u messages, %u recipients)",
             (int)sub->keylen - 1 > 64 ? 64 : (int)sub->keylen - 1, (const char *)sub->key + 1, msgs, rcpts,
             span(r->window, w, sizeof w), r->threshold, r->recipients);
    list(f, zi, RULE_VOLUME, sub, t, why);
}

static void eval_volume(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_VOLUME];
    if (sub->kind == SUBJ_ACCOUNT) {
        eval_account_volume(f, zi, sub, t);
        return;
    }
    uint32_t msgs = subject_sum(sub, M_MSGS, t, r->window), limit = r->threshold;
    char where[32] = "";
    if (sub->kind == SUBJ_IP && f->geo && r->foreign_threshold) {
        if (!sub->geo_done) {
            struct ipnet net;
            subject_net(sub, &net);
            geo_country(f->geo, &net.addr, sub->cc);
            sub->geo_done = 1;
        }
        if (sub->cc[0] != '-' && memcmp(sub->cc, r->home_country, 2) != 0) {
            limit = r->foreign_threshold;
            snprintf(where, sizeof where, ", client in %.2s", sub->cc);
        }
    }
    if (msgs < limit)
        return;
    char why[160];
    snprintf(why, sizeof why, "mass volume %u messages in %um (limit %u%s)", msgs, r->window / 60, limit, where);
    list(f, zi, RULE_VOLUME, sub, t, why);
}

/* Failures of the address (IP zone) or account (account zone) itself, in the window and then in the
 * slow window: the first that crosses gives the reason. */
static void eval_auth_own(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_AUTH];
    char why[200], w[16];
    uint32_t fails = subject_sum(sub, M_AUTH_FAIL, t, r->window);
    if (fails >= r->threshold) {
        snprintf(why, sizeof why, "authentication failures %u in %um", fails, r->window / 60);
        list(f, zi, RULE_AUTH, sub, t, why);
    }
    fails = r->slow_threshold ? subject_sum(sub, M_AUTH_FAIL_SLOW, t, r->slow_window) : 0;
    if (r->slow_threshold && fails >= r->slow_threshold) {
        snprintf(why, sizeof why, "authentication failures %u in %s", fails, span(r->slow_window, w, sizeof w));
        list(f, zi, RULE_AUTH, sub, t, why);
    }
}

/* An account failing from at least min_ips addresses within window lists those addresses (reverse
 * brute force: one password tried against many accounts, or one account from a botnet). */
static void eval_account_ips(struct feeder *f, int zi, struct subject *sub, uint32_t t, uint32_t window,
                             uint32_t min_ips)
{
    const struct zone_rule *r = &f->zones.zones[zi].rules[RULE_AUTH];
    const struct account_state *a = sub->acct;
    uint32_t recent = 0;
    for (int i = 0; i < a->nfail; i++)
        recent += a->fail[i].last + window > t;
    if (recent < min_ips)
        return;
    char why[200], w[16];
    snprintf(why, sizeof why, "one of %u addresses failing logins for account %.*s in %s", recent,
             (int)sub->keylen - 1 > 64 ? 64 : (int)sub->keylen - 1, (const char *)sub->key + 1,
             span(window, w, sizeof w));
    for (int i = 0; i < a->nfail; i++) {
        if (a->fail[i].last + window <= t)
            continue;
        uint8_t key[16];
        struct subject *ip = subject_get(&f->state, key, subject_key_ip(&a->fail[i].ip, key), 1);
        /* an address over its own threshold keeps its own, more telling reason; the listing runs
         * from the address's own last failure, not from the other addresses' later ones */
        if (ip && subject_sum(ip, M_AUTH_FAIL, t, r->window) < r->threshold)
            list(f, zi, RULE_AUTH, ip, a->fail[i].last, why);
    }
}

static void eval_auth(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone *z = &f->zones.zones[zi];
    const struct zone_rule *r = &z->rules[RULE_AUTH];
    if (zone_rates(z, sub)) {   /* an address in an IP zone, an account in an account zone */
        eval_auth_own(f, zi, sub, t);
        return;
    }
    if (z->kind != ZONE_IP || sub->kind != SUBJ_ACCOUNT || !sub->acct)
        return;
    if (r->account_ips)
        eval_account_ips(f, zi, sub, t, r->window, r->account_ips);
    if (r->slow_account_ips)
        eval_account_ips(f, zi, sub, t, r->slow_window, r->slow_account_ips);
}

/* The metric a network rule sums: its members' misbehaviour. dha and auth, and otherwise abnormal
 * sessions, the one other kind of misbehaviour the feeder counts per address. */
static enum metric network_metric(enum rule_kind k)
{
    return k == RULE_DHA ? M_UNKNOWN : k == RULE_AUTH ? M_AUTH_FAIL : M_ABNORMAL;
}

/* A network (SUBJ_NET) against zone zi's rule k: its members' counts together over the rule's
 * network-threshold (dha: at the rule's ratio too), from at least network-members distinct members.
 * Only the zone whose prefix length made the network judges it. */
static void eval_network(struct feeder *f, int zi, struct subject *sub, enum rule_kind k, uint32_t t)
{
    const struct zone *z = &f->zones.zones[zi];
    const struct zone_rule *r = &z->rules[k];
    struct ipnet net;
    if (z->kind != ZONE_IP || !r->network_threshold || subject_net(sub, &net) < 0 ||
        net.plen != (net.addr.family == ADDR_V4 ? r->network_v4 : r->network_v6))
        return;
    enum metric m = network_metric(k);
    uint32_t n = subject_sum(sub, m, t, r->window), members = net_member_count(sub, (uint8_t)m, t, r->window);
    if (n < r->network_threshold || members < r->network_members)
        return;
    char what[80], name[64], why[220];
    if (k == RULE_DHA) {
        /* the network counts RCPTs from its first unknown one on; its members' own totals hold those
         * of their earlier sessions too: the larger is the closer to all RCPTs */
        uint32_t rcpt = subject_sum(sub, M_RCPT, t, r->window);
        uint32_t by_members = net_members_sum(&f->state, sub, (uint8_t)M_UNKNOWN, M_RCPT, t, r->window);
        if (rcpt < by_members)
            rcpt = by_members;
        if (rcpt < n)
            rcpt = n;
        if ((uint64_t)n * 100 < (uint64_t)r->ratio * rcpt)
            return;
        snprintf(what, sizeof what, "unknown recipients %u/%u", n, rcpt);
    } else {
        snprintf(what, sizeof what, "%s %u", m == M_AUTH_FAIL ? "authentication failures" : "abnormal sessions", n);
    }
    snprintf(why, sizeof why, "network %s: %s from %u%s %s in %um", net_format(&net, name, sizeof name), what,
             members, members >= NET_MEMBERS_MAX ? "+" : "", net.addr.family == ADDR_V4 ? "addresses" : "/64s",
             r->window / 60);
    list(f, zi, k, sub, k == RULE_DHA && sub->last_unknown ? sub->last_unknown : t, why);
}

/* Logins in the window: country runs (A, B, A is three) and distinct addresses. */
static void login_spread(const struct account_state *a, uint32_t t, uint32_t window, uint32_t *runs,
                         uint32_t *ips, char *trail, size_t cap)
{
    char last[2] = { 0, 0 };
    size_t pos = 0;
    *runs = *ips = 0;
    for (int i = 0; i < a->nlogin; i++) {
        const struct login *l = &a->login[i];
        if (l->time + window <= t)
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = a->login[j].time + window > t && !memcmp(&a->login[j].ip, &l->ip, sizeof l->ip);
        *ips += !seen;
        if (l->cc[0] == '-' || !memcmp(l->cc, last, 2))
            continue;
        memcpy(last, l->cc, 2);
        (*runs)++;
        if (pos + 4 < cap)
            pos += (size_t)snprintf(trail + pos, cap - pos, "%s%.2s", pos ? " " : "", l->cc);
    }
    trail[pos] = '\0';
}

static void eval_compromised(struct feeder *f, int zi, struct subject *sub, uint32_t t)
{
    const struct zone *z = &f->zones.zones[zi];
    const struct zone_rule *r = &z->rules[RULE_COMPROMISED];
    const struct account_state *a = sub->acct;
    if (sub->kind != SUBJ_ACCOUNT || !a)
        return;
    uint32_t runs, ips;
    char trail[100], why[220];
    login_spread(a, t, r->window, &runs, &ips, trail, sizeof trail);
    int by_country = f->geo && runs >= r->threshold, by_ips = r->ips && ips >= r->ips;
    if (!by_country && !by_ips)
        return;
    snprintf(why, sizeof why, "account %.*s logged in from %u countries (%s) and %u addresses in %uh",
             (int)sub->keylen - 1 > 64 ? 64 : (int)sub->keylen - 1, (const char *)sub->key + 1, runs,
             trail, ips, r->window / 3600);
    if (z->kind == ZONE_ACCOUNT) {
        list(f, zi, RULE_COMPROMISED, sub, t, why);
        return;
    }
    for (int i = 0; i < a->nlogin; i++) {  /* IP zone: the account's clients abroad */
        const struct login *l = &a->login[i];
        if (l->time + r->window <= t || l->cc[0] == '-' || !memcmp(l->cc, r->home_country, 2))
            continue;
        uint8_t key[16];
        struct subject *ip = subject_get(&f->state, key, subject_key_ip(&l->ip, key), 1);
        if (ip)
            list(f, zi, RULE_COMPROMISED, ip, t, why);
    }
}

/* Every zone's rule k against sub's windows ending at t. */
static void eval_at(struct feeder *f, struct subject *sub, enum rule_kind k, uint32_t t)
{
    if (sub->kind == SUBJ_NET) {    /* networks have a rule of their own for every kind */
        for (int zi = 0; zi < f->zones.n; zi++)
            if (f->zones.zones[zi].rules[k].enabled)
                eval_network(f, zi, sub, k, t);
        return;
    }
    for (int zi = 0; zi < f->zones.n; zi++) {
        const struct zone *z = &f->zones.zones[zi];
        if (!z->rules[k].enabled)
            continue;
        switch (k) {
        case RULE_DHA:
            if (zone_rates(z, sub)) {
                eval_dha(f, zi, sub, t);
                eval_dha_count(f, zi, sub, t);
                eval_dha_slow(f, zi, sub, t);
            }
            break;
        case RULE_BACKSCATTER: if (zone_rates(z, sub)) eval_backscatter(f, zi, sub, t); break;
        case RULE_VOLUME: if (zone_rates(z, sub)) eval_volume(f, zi, sub, t); break;
        case RULE_AUTH: eval_auth(f, zi, sub, t); break;
        case RULE_COMPROMISED: eval_compromised(f, zi, sub, t); break;
        case RULE_ABNORMAL: if (zone_rates(z, sub)) eval_abnormal(f, zi, sub, t); break;
        default: break;
        }
    }
}

/* The metrics whose windows rule k sums for sub: m[0], and m[1] or METRICS. m[0] is METRICS for the
 * rules judged by lists of times rather than windows (compromised). */
static void judged_metrics(const struct subject *sub, enum rule_kind k, enum metric m[2])
{
    m[1] = METRICS;
    if (sub->kind == SUBJ_NET) {
        m[0] = network_metric(k);
        return;
    }
    switch (k) {
    case RULE_DHA: m[0] = M_UNKNOWN; break;
    case RULE_BACKSCATTER: m[0] = M_NDR_IN; m[1] = M_NDR_OUT; break;
    case RULE_AUTH: m[0] = M_AUTH_FAIL; break;
    case RULE_VOLUME: m[0] = M_MSGS; break;
    case RULE_ABNORMAL: m[0] = M_ABNORMAL; break;
    default: m[0] = METRICS; break;
    }
}

/* The widest window of rule k among the zones, in minutes (at most a ring's). */
static uint32_t widest_window(const struct feeder *f, enum rule_kind k)
{
    uint32_t w = 0;
    for (int zi = 0; zi < f->zones.n; zi++)
        if (f->zones.zones[zi].rules[k].enabled && f->zones.zones[zi].rules[k].window > w)
            w = f->zones.zones[zi].rules[k].window;
    w = (w + 59) / 60;
    return w > RING_MINUTES ? RING_MINUTES : w;
}

/* An event dated t is judged in the window ending at t and, when the subject already holds newer
 * counts (a line from a host whose clock is behind, or one that arrived late), in the later windows
 * that still hold it: those ending at each later minute with a count, up to a window's width after t.
 * The fullest window that holds t ends at one of them, so two MTAs whose clocks differ by less than
 * a window count an attack split between them whole, in whichever order their lines arrive. */
void rules_eval(struct feeder *f, struct subject *sub, enum rule_kind k, uint32_t t)
{
    eval_at(f, sub, k, t);
    enum metric m[2];
    judged_metrics(sub, k, m);
    if (m[0] == METRICS)
        return;
    uint32_t from = t / 60, newest = subject_newest_minute(sub, m[0]);
    if (m[1] != METRICS && subject_newest_minute(sub, m[1]) > newest)
        newest = subject_newest_minute(sub, m[1]);
    if (newest <= from)
        return;     /* the usual case: nothing newer than this event */
    uint32_t width = widest_window(f, k), to = from + (width ? width - 1 : 0);
    if (newest < to)
        to = newest;
    for (uint32_t e = from + 1; e <= to; e++)
        if (subject_sum(sub, m[0], e * 60, 60) || (m[1] != METRICS && subject_sum(sub, m[1], e * 60, 60)))
            eval_at(f, sub, k, e * 60);
}
