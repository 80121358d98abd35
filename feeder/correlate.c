/* correlate.c - turns events into counters. Queue IDs join a message's lines per MTA host (the same
 * ID on two hosts is two messages); ratings are kept per source across all hosts, so that a source
 * spreading its attempts over many MX hosts still adds up. */
#include <string.h>

#include "feeder.h"
#include "correlate.h"
#include "rules.h"
#include "geo.h"

static struct subject *ip_subject(struct feeder *f, const struct ipaddr *ip)
{
    uint8_t key[16];
    return subject_get(&f->state, key, subject_key_ip(ip, key), 1);
}

static struct subject *name_subject(struct feeder *f, int kind, const char *name, size_t len)
{
    uint8_t key[1 + DOMAIN_MAX];
    if (len == 0)
        return NULL;
    return subject_get(&f->state, key, subject_key_name(kind, name, len, key), 1);
}

/* Counts toward the networks of ip's source, once for every prefix length that a zone's rule k rates
 * networks at. member: the event is misbehaviour (the source joins the network's members, and may
 * create it); otherwise it is a total such as dha's RCPTs, added only to networks that exist, so that
 * the clean mail of millions of clients makes no networks. judge: rule k is judged now (dha is judged
 * at the disconnect, as for addresses: not at an unknown RCPT unless its disconnect came first). */
static void count_net(struct feeder *f, const struct ipaddr *ip, enum metric m, uint32_t n, uint32_t t,
                      enum rule_kind k, int member, int judge)
{
    uint8_t done[ZONESET_MAX];
    int ndone = 0;
    for (int zi = 0; zi < f->zones.n && ndone < ZONESET_MAX; zi++) {
        const struct zone *z = &f->zones.zones[zi];
        if (z->kind != ZONE_IP || !z->rules[k].enabled || !z->rules[k].network_threshold)
            continue;
        uint8_t plen = ip->family == ADDR_V4 ? z->rules[k].network_v4 : z->rules[k].network_v6, key[16];
        if (memchr(done, plen, (size_t)ndone))
            continue;
        done[ndone++] = plen;
        size_t len = subject_key_net(ip, plen, key);
        struct subject *net = len ? subject_get(&f->state, key, len, member) : NULL;
        if (!net)
            continue;
        subject_count(&f->state, net, m, t, n);
        if (member)
            net_member_add(net, ip, (uint8_t)m, t);     /* without memory: one member fewer */
        if (m == M_UNKNOWN && t > net->last_unknown)
            net->last_unknown = t;
        if (judge)
            rules_eval(f, net, k, t);
    }
}

/* The slow windows' counts (dha and auth over hours). RCPTs are counted only while the subject has
 * unknown ones in its slow window, so that millions of clean clients keep no day-long ring; its first
 * unknown RCPT brings in the RCPTs of the hour before, so the ratio starts near the true one. */
static void count_slow(struct feeder *f, struct subject *sub, enum metric m, uint32_t t, uint32_t n)
{
    if (m == M_AUTH_FAIL) {
        subject_count(&f->state, sub, M_AUTH_FAIL_SLOW, t, n);
    } else if (m == M_RCPT) {
        if (!subject_window_empty(sub, M_UNKNOWN_SLOW, t))
            subject_count(&f->state, sub, M_RCPT_SLOW, t, n);
    } else if (m == M_UNKNOWN) {
        if (subject_window_empty(sub, M_UNKNOWN_SLOW, t)) {
            uint32_t before = subject_sum(sub, M_RCPT, t, 3600);
            if (before)
                subject_count(&f->state, sub, M_RCPT_SLOW, t, before);
        }
        subject_count(&f->state, sub, M_UNKNOWN_SLOW, t, n);
    }
}

static void count_ip(struct feeder *f, const struct ipaddr *ip, enum metric m, uint32_t n, uint32_t t,
                     int rule)
{
    if (rule >= 0 && rule != RULE_VOLUME && rule != RULE_BACKSCATTER)   /* those are not aggregated */
        count_net(f, ip, m, n, t, (enum rule_kind)rule, m != M_RCPT, 1);
    struct subject *sub = ip_subject(f, ip);
    if (!sub)
        return;
    subject_count(&f->state, sub, m, t, n);
    count_slow(f, sub, m, t, n);
    if (rule >= 0)
        rules_eval(f, sub, (enum rule_kind)rule, t);
}

/* The sender's domain, lower case, or 0 if it has none we can rate. */
static size_t sender_domain(const struct event *ev, char *out)
{
    const char *at = memrchr(ev->sender, '@', ev->sender_len);
    if (!at)
        return 0;
    char raw[DOMAIN_MAX + 1];
    size_t len = (size_t)(ev->sender + ev->sender_len - at - 1);
    if (len == 0 || len > DOMAIN_MAX)
        return 0;
    memcpy(raw, at + 1, len);
    raw[len] = '\0';
    int n = domain_normalize(raw, out, DOMAIN_MAX + 1);
    return n < 0 ? 0 : (size_t)n;
}

static void account_failure(struct feeder *f, const struct event *ev, uint32_t t)
{
    struct subject *acct = name_subject(f, SUBJ_ACCOUNT, ev->user, ev->user_len);
    struct account_state *a = acct ? subject_account(acct) : NULL;
    if (!a)
        return;
    subject_count(&f->state, acct, M_AUTH_FAIL, t, ev->n1);
    count_slow(f, acct, M_AUTH_FAIL, t, ev->n1);
    int i;
    for (i = 0; i < a->nfail; i++)
        if (!memcmp(&a->fail[i].ip, &ev->ip, sizeof ev->ip))
            break;
    if (i == a->nfail) {
        if (a->nfail < ACCT_FAIL_IPS) {
            a->nfail++;
        } else {    /* replace the address that failed longest ago */
            i = 0;
            for (int j = 1; j < a->nfail; j++)
                if (a->fail[j].last < a->fail[i].last)
                    i = j;
        }
        a->fail[i].ip = ev->ip;
    }
    if (t > a->fail[i].last)
        a->fail[i].last = t;
    rules_eval(f, acct, RULE_AUTH, t);
}

static void account_login(struct feeder *f, const char *user, size_t ulen, const struct ipaddr *ip, uint32_t t)
{
    struct subject *acct = name_subject(f, SUBJ_ACCOUNT, user, ulen);
    struct account_state *a = acct ? subject_account(acct) : NULL;
    if (!a)
        return;
    char cc[2];
    geo_country(f->geo, ip, cc);
    struct login *last = a->nlogin ? &a->login[a->nlogin - 1] : NULL;
    if (last && last->time <= t && !memcmp(&last->ip, ip, sizeof *ip)) {
        last->time = t;     /* the same client again: one entry, the latest time */
        subject_touch(&f->state, acct);
        rules_eval(f, acct, RULE_COMPROMISED, t);
        return;
    }
    if (a->nlogin == ACCT_LOGINS) {
        /* full: drop the oldest login that repeats its predecessor's country, so that the country
         * changes the rule counts survive; only if there is none, the oldest of all */
        int drop = 0;
        for (int i = 1; i < a->nlogin && !drop; i++)
            if (!memcmp(a->login[i].cc, a->login[i - 1].cc, 2))
                drop = i;
        memmove(a->login + drop, a->login + drop + 1, (size_t)(ACCT_LOGINS - 1 - drop) * sizeof *a->login);
        a->nlogin--;
    }
    int pos = a->nlogin;
    while (pos > 0 && a->login[pos - 1].time > t)   /* keep them in time order */
        pos--;
    memmove(a->login + pos + 1, a->login + pos, (size_t)(a->nlogin - pos) * sizeof *a->login);
    a->login[pos].time = t;
    a->login[pos].ip = *ip;
    memcpy(a->login[pos].cc, cc, 2);
    a->nlogin++;
    subject_touch(&f->state, acct);
    rules_eval(f, acct, RULE_COMPROMISED, t);
}

/* An authenticated submission counts toward its account's volume (the account zone's per-account send
 * limit) once both smtpd's client= line (the account) and qmgr's from= line (accepted, nrcpt) are seen,
 * in either order. */
static void submission(struct feeder *f, struct qentry *q, uint32_t t)
{
    if (q->submitted || !q->counted || !q->account_len)
        return;
    struct subject *acct = name_subject(f, SUBJ_ACCOUNT, queue_account(q), q->account_len);
    if (!acct)
        return;
    q->submitted = 1;
    queue_touch(&f->state, q);
    subject_count(&f->state, acct, M_MSGS, t, 1);
    subject_count(&f->state, acct, M_RCPT, t, q->nrcpt);
    rules_eval(f, acct, RULE_VOLUME, t);
}

static void queued(struct feeder *f, struct qentry *q, const struct event *ev, uint32_t t)
{
    char domain[DOMAIN_MAX + 1];
    size_t dlen = ev->sender_len ? sender_domain(ev, domain) : 0;
    if (q->counted)
        return;
    q->counted = 1;
    q->nrcpt = (uint16_t)(ev->n1 > UINT16_MAX ? UINT16_MAX : ev->n1);
    q->null_sender = ev->sender_len == 0;
    if (dlen)
        queue_set_domain(q, domain, dlen);  /* without memory: the domain goes unrated */
    queue_touch(&f->state, q);
    if (q->has_ip) {
        if (q->null_sender)
            count_ip(f, &q->ip, M_NDR_IN, 1, t, RULE_BACKSCATTER);
        count_ip(f, &q->ip, M_MSGS, 1, t, RULE_VOLUME);
    }
    struct subject *d = dlen ? name_subject(f, SUBJ_DOMAIN, domain, dlen) : NULL;
    if (d) {
        subject_count(&f->state, d, M_MSGS, t, 1);
        rules_eval(f, d, RULE_VOLUME, t);
    }
    submission(f, q, t);
}

static void ndr_sent(struct feeder *f, struct qentry *q, uint32_t t)
{
    if (q->has_ip)
        count_ip(f, &q->ip, M_NDR_OUT, 1, t, RULE_BACKSCATTER);
    else
        q->ndr_unjoined = 1;
    struct subject *d = q->has_sender ? name_subject(f, SUBJ_DOMAIN, q->domain, q->domain_len) : NULL;
    if (d) {
        subject_count(&f->state, d, M_NDR_OUT, t, 1);
        rules_eval(f, d, RULE_BACKSCATTER, t);
    }
}

/* smtpd's client= line after qmgr's from= (or bounce's NDR) for the same queue ID, as lines relayed
 * out of order arrive: what those counted for the sender's domain alone now counts for the client. */
static void client_late(struct feeder *f, struct qentry *q, uint32_t t)
{
    queue_touch(&f->state, q);
    if (q->counted) {
        if (q->null_sender)
            count_ip(f, &q->ip, M_NDR_IN, 1, t, RULE_BACKSCATTER);
        count_ip(f, &q->ip, M_MSGS, 1, t, RULE_VOLUME);
    }
    if (q->ndr_unjoined) {
        q->ndr_unjoined = 0;
        count_ip(f, &q->ip, M_NDR_OUT, 1, t, RULE_BACKSCATTER);
    }
}

/* ---- a session's RCPT rejects and its disconnect, in either order ----
 * dha is judged at the disconnect, whose rcpt= counters hold all of the session's RCPTs: judged at
 * an unknown RCPT before it, the session's unknown ones would be set against none of its valid ones.
 * When lines arrive out of order, the disconnect comes first: its counters say how many RCPTs were
 * rejected, and the reject lines that no disconnect has claimed yet (rejects_open) are its; what it
 * finds missing is owed, and a reject that a disconnect of the last minute owes is judged at once. A
 * reject whose disconnect is lost stays open: a later session's early disconnect then owes less, and
 * its late rejects wait for the next disconnect, as they did before. */
static void disconnect_claims(struct feeder *f, const struct event *ev)
{
    uint8_t key[16];
    uint32_t rejected = ev->n2 > ev->n1 ? ev->n2 - ev->n1 : 0;
    struct subject *sub = rejected ? subject_get(&f->state, key, subject_key_ip(&ev->ip, key), 1) : NULL;
    if (!sub)
        return;
    uint32_t claimed = rejected < sub->rejects_open ? rejected : sub->rejects_open;
    uint32_t owed = sub->rejects_owed + rejected - claimed;
    sub->rejects_open = (uint8_t)(sub->rejects_open - claimed);
    sub->rejects_owed = (uint8_t)(owed > UINT8_MAX ? UINT8_MAX : owed);
}

/* An RCPT reject at t: 1 if a disconnect counted its session already. */
static int reject_late(struct subject *sub, uint32_t t)
{
    if (sub->rejects_owed && subject_newest_minute(sub, M_RCPT) + 1 >= t / 60) {
        sub->rejects_owed--;
        return 1;
    }
    sub->rejects_owed = 0;      /* a disconnect's rejects that never came (lines lost) */
    sub->rejects_open += sub->rejects_open < UINT8_MAX;
    return 0;
}

static void rcpt_rejected(struct feeder *f, const struct event *ev, uint32_t t)
{
    uint8_t key[16];
    struct subject *sub = subject_get(&f->state, key, subject_key_ip(&ev->ip, key), 1);
    int late = sub && reject_late(sub, t);
    if (ev->type != EV_RCPT_UNKNOWN)
        return;
    if (sub) {     /* listed from this time on */
        count_slow(f, sub, M_UNKNOWN, t, 1);
        subject_count(&f->state, sub, M_UNKNOWN, t, 1);
        if (t > sub->last_unknown)
            sub->last_unknown = t;
    }
    count_net(f, &ev->ip, M_UNKNOWN, 1, t, RULE_DHA, 1, late);
    if (late && (sub = subject_get(&f->state, key, subject_key_ip(&ev->ip, key), 0)))
        rules_eval(f, sub, RULE_DHA, t);
}

/* ---- abnormal sessions (state.h, struct abnormal_state: how one connection counts once) ---- */

/* The address's record if it has one: lines of ordinary sessions (connect, disconnect) make none. */
static struct abnormal_state *abnormal_of(struct feeder *f, const struct ipaddr *ip, int create)
{
    uint8_t key[16];
    struct subject *sub = subject_get(&f->state, key, subject_key_ip(ip, key), create);
    if (!sub || (!create && (sub->kind != SUBJ_IP || !sub->abn)))
        return NULL;
    struct abnormal_state *a = subject_abnormal(sub);
    if (a)
        subject_touch(&f->state, sub);
    return a;
}

/* Did then happen within span seconds before t (or up to a minute after it: lines from two hosts)? */
static int recent(uint32_t then, uint32_t t, uint32_t span)
{
    return then <= t + 60 && (uint64_t)t < (uint64_t)then + span;
}

/* One abnormal session ended at t, after hold seconds: counted by kind and in the rule's window. */
static void abnormal_session(struct feeder *f, struct abnormal_state *a, const struct ipaddr *ip, int kind,
                             uint32_t hold, uint32_t t)
{
    a->sessions[kind]++;
    if (hold > a->max_hold)
        a->max_hold = hold;
    count_ip(f, ip, M_ABNORMAL, 1, t, RULE_ABNORMAL);
}

static void smtpd_connect(struct feeder *f, const struct event *ev, uint32_t t)
{
    struct abnormal_state *a = abnormal_of(f, &ev->ip, 0);
    if (a && t > a->connect)
        a->connect = t;
}

/* lost connection, timeout, too many errors, improper pipelining: judged at the disconnect. Improper
 * pipelining that a lost connection follows in the same session is one signal, not two. */
static void smtpd_signal(struct feeder *f, const struct event *ev, uint32_t t)
{
    static const uint8_t kinds[EV_TYPES] = {
        [EV_LOST] = AB_LOST, [EV_SMTP_TIMEOUT] = AB_TIMEOUT, [EV_TOO_MANY_ERRORS] = AB_ERRORS, [EV_PIPELINING] = AB_PIPELINING,
    };
    struct abnormal_state *a = abnormal_of(f, &ev->ip, 1);
    if (!a)
        return;
    if (!(a->pending && a->pending_kind == AB_PIPELINING && recent(a->signal, t, 60))) {
        a->pending += a->pending < 255;
        a->pending_kind = kinds[ev->type];      /* else: the pipelining session ending, counted as such */
    }
    a->signal = t;
}

/* The postscreen slot of port (opened by its first signal), or -1. */
static int ps_slot(const struct abnormal_state *a, uint32_t port)
{
    for (int i = 0; i < a->nps; i++)
        if (a->ps[i].port == port)
            return i;
    return -1;
}

static void ps_close(struct abnormal_state *a, int i)
{
    memmove(a->ps + i, a->ps + i + 1, (size_t)(a->nps - i - 1) * sizeof *a->ps);
    a->nps--;
}

static void postscreen_signal(struct feeder *f, const struct event *ev, uint32_t t)
{
    static const uint8_t kinds[EV_TYPES] = {
        [EV_PS_PREGREET] = AB_PREGREET, [EV_PS_HANGUP] = AB_HANGUP, [EV_PS_PIPELINING] = AB_PS_PIPELINING,
        [EV_PS_NON_SMTP] = AB_NON_SMTP, [EV_PS_BARE_NEWLINE] = AB_BARE_NEWLINE, [EV_PS_TIME_LIMIT] = AB_TIME_LIMIT,
        [EV_PS_COUNT_LIMIT] = AB_COUNT_LIMIT,
    };
    struct abnormal_state *a = abnormal_of(f, &ev->ip, 1);
    if (!a)
        return;
    uint8_t hold = ev->n1 > 255 ? 255 : (uint8_t)ev->n1;
    int i = ps_slot(a, ev->n2);
    if (i >= 0 && recent(a->ps[i].time, t, ABNORMAL_JOIN)) {
        if (hold > a->ps[i].hold)       /* the same connection again (PREGREET, then HANGUP) */
            a->ps[i].hold = hold;
        return;
    }
    if (i >= 0 || a->nps == ABNORMAL_PS_SLOTS) {    /* a port reused, or no room: the oldest ended unseen */
        int old = i >= 0 ? i : 0;
        abnormal_session(f, a, &ev->ip, a->ps[old].kind, a->ps[old].hold, a->ps[old].time);
        ps_close(a, old);
    }
    a->ps[a->nps++] = (struct abnormal_ps){ t, (uint16_t)ev->n2, kinds[ev->type], hold };
}

/* postscreen's DISCONNECT [IP]:PORT: the connection ended in postscreen, never reaching smtpd. */
static void postscreen_end(struct feeder *f, const struct event *ev, uint32_t t)
{
    struct abnormal_state *a = abnormal_of(f, &ev->ip, 0);
    int i = a ? ps_slot(a, ev->n2) : -1;
    if (i < 0)
        return;
    uint32_t hold = a->ps[i].hold + (t > a->ps[i].time ? t - a->ps[i].time : 0);
    int kind = a->ps[i].kind;
    ps_close(a, i);
    abnormal_session(f, a, &ev->ip, kind, hold, t);
}

/* smtpd's disconnect: the session is abnormal if a signal of its own waits, or postscreen handed on a
 * connection it had flagged (the oldest open slot), and no message was accepted. */
static void smtpd_end(struct feeder *f, const struct event *ev, uint32_t t)
{
    struct abnormal_state *a = abnormal_of(f, &ev->ip, 0);
    if (!a)
        return;
    int kind = -1;
    if (a->pending && recent(a->signal, t, ABNORMAL_JOIN)) {
        kind = a->pending_kind;
        a->pending--;
    } else {
        a->pending = 0;     /* a signal whose disconnect never came (lost lines) */
    }
    for (int i = 0; i < a->nps; i++) {
        if (!recent(a->ps[i].time, t, ABNORMAL_JOIN) || a->ps[i].time > a->connect)
            continue;       /* not one that postscreen handed to this session's connect */
        if (kind < 0)
            kind = a->ps[i].kind;
        ps_close(a, i);
        break;
    }
    if (kind < 0 || ev->data_ok)
        return;
    uint32_t hold = a->connect && a->connect <= t && t - a->connect < 86400 ? t - a->connect : 0;
    abnormal_session(f, a, &ev->ip, kind, hold, t);
}

void feed_event(struct feeder *f, const char *host, size_t hlen, const struct event *ev, uint32_t t)
{
    struct qentry *q = NULL;
    if (t > f->state.latest)
        f->state.latest = t;
    state_limit(&f->state);     /* here, before this event holds any subject or queue entry */
    if (ev->qid && ev->type != EV_RCPT_UNKNOWN && ev->type != EV_RCPT_REJECT && ev->type != EV_MAIL_REJECT)
        q = queue_get(&f->state, host, hlen, ev->qid, ev->qid_len, ev->type == EV_CLIENT || ev->type == EV_QUEUED);
    if (q)
        queue_touch(&f->state, q);  /* any line of the message keeps its entry from idling out */
    switch (ev->type) {
    case EV_DISCONNECT:
        if (ev->n2)
            count_ip(f, &ev->ip, M_RCPT, ev->n2, t, RULE_DHA);
        disconnect_claims(f, ev);
        smtpd_end(f, ev, t);
        break;
    case EV_RCPT_UNKNOWN: case EV_RCPT_REJECT:
        rcpt_rejected(f, ev, t);
        break;
    case EV_CLIENT:
        if (q) {
            int late = !q->has_ip && (q->counted || q->ndr_unjoined);
            q->has_ip = 1;
            q->ip = ev->ip;
            if (late)
                client_late(f, q, t);
            if (ev->user && !q->account_len && queue_set_account(q, ev->user, ev->user_len) == 0)
                submission(f, q, t);    /* qmgr's from= came first */
        }
        if (ev->user)
            account_login(f, ev->user, ev->user_len, &ev->ip, t);
        break;
    case EV_QUEUED:
        if (q)
            queued(f, q, ev, t);
        break;
    case EV_NDR_SENT:
        if (q)
            ndr_sent(f, q, t);
        break;
    case EV_REMOVED:
        if (q)
            q->removed = t;
        break;
    case EV_AUTH_FAIL:
        count_ip(f, &ev->ip, M_AUTH_FAIL, ev->n1, t, RULE_AUTH);
        if (ev->user)
            account_failure(f, ev, t);
        break;
    case EV_LOGIN:
        account_login(f, ev->user, ev->user_len, &ev->ip, t);
        break;
    case EV_LOST: case EV_TOO_MANY_ERRORS: case EV_SMTP_TIMEOUT: case EV_PIPELINING:
        smtpd_signal(f, ev, t);
        break;
    case EV_PS_PREGREET: case EV_PS_HANGUP: case EV_PS_PIPELINING: case EV_PS_NON_SMTP: case EV_PS_BARE_NEWLINE:
    case EV_PS_TIME_LIMIT: case EV_PS_COUNT_LIMIT:
        postscreen_signal(f, ev, t);
        break;
    case EV_PS_DISCONNECT:
        postscreen_end(f, ev, t);
        break;
    case EV_CONNECT:
        smtpd_connect(f, ev, t);
        break;
    default:
        break;
    }
}
