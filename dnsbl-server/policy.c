/* policy.c - see policy.h. Reads the store only; allocates nothing. */
#include "policy.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "listing_text.h"
#include "store.h"

const char *policy_until(uint32_t until, char *buf, size_t n)
{
    if (!until) {
        snprintf(buf, n, "until removed");
        return buf;
    }
    time_t t = (time_t)until;
    struct tm tm;
    char when[32];
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(buf, n, "until %s", when);
    return buf;
}

static int wants(const struct zone *z, enum policy_service s)
{
    return s == POLICY_SUBMISSION ? z->policy.postfix : z->policy.dovecot;
}

/* Does the listing hold a live reason with one of the codes in mask (a bit per zone code index)? */
static int has_code(const struct zone *z, const struct listing *l, uint32_t mask, uint32_t now)
{
    for (int i = 0; i < l->nreasons; i++) {
        if (!reason_live(&l->reasons[i], now))
            continue;
        const struct zone_code *c = zone_code_by_addr(z, l->reasons[i].code);
        if (c && (mask & (1u << (c - z->codes))))
            return 1;
    }
    return 0;
}

/* A listing in z applies: the verdict gets the zone's TXT for it and until when it lasts. */
static void listed(const struct policy_ctx *ctx, const struct zone *z, const struct listing *l,
                   const char *subject, enum policy_why why, struct policy_verdict *v)
{
    v->why = why;
    v->zone = z;
    v->until = listing_expires(l);
    listing_txt(z, l, ctx->now, subject, v->reason, sizeof v->reason);
}

/* A login: refused, or delayed where the zone says dovecot-tarpit. */
static void refuse_login(const struct zone *z, struct policy_verdict *v)
{
    v->action = z->policy.tarpit ? POLICY_TARPIT : POLICY_REJECT;
    v->delay = z->policy.tarpit;
}

static int account_listed(const struct policy_ctx *ctx, const struct policy_request *rq, const char *label,
                          struct policy_verdict *v)
{
    const struct zoneset *zs = ctx->zones;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        struct listing l;
        if (z->kind != ZONE_ACCOUNT || !wants(z, rq->service))
            continue;
        int rc = store_lookup_domain(ctx->txn, z->dbi, label, ACCOUNT_LABEL_LEN, ctx->now, &l, NULL);
        if (rc < 0)
            return -1;
        if (rc == 0 || (rq->service == POLICY_LOGIN && !has_code(z, &l, z->policy.dovecot_codes, ctx->now)))
            continue;
        char subject[POLICY_ACCOUNT_MAX + 1];
        snprintf(subject, sizeof subject, "%.*s", (int)rq->account_len, rq->account);
        listed(ctx, z, &l, subject, POLICY_WHY_ACCOUNT, v);
        if (rq->service == POLICY_SUBMISSION)
            v->action = z->policy.defer ? POLICY_DEFER : POLICY_REJECT;
        else
            refuse_login(z, v);
        return 1;
    }
    return 0;
}

/* A domestic-only account from a client whose country is not its home. Unknown countries (no GeoIP
 * file, an address the file does not know) pass: the mark narrows where an account may come from,
 * it never locks it out because a lookup failed. */
static int domestic_refused(const struct policy_ctx *ctx, const struct policy_request *rq, const char *label,
                            struct policy_verdict *v)
{
    const struct zoneset *zs = ctx->zones;
    char cc[2];
    int looked = 0;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        struct account_mark m;
        if (z->kind != ZONE_ACCOUNT || !wants(z, rq->service))
            continue;
        int rc = store_account_mark_get(ctx->txn, z->dbi, label, ctx->now, &m);
        if (rc < 0)
            return -1;
        if (rc == 0 || !(m.flags & ACCOUNT_DOMESTIC_ONLY) || !rq->have_client || !ctx->country)
            continue;
        if (!looked++)
            ctx->country(ctx->country_arg, &rq->client, cc);
        const char *home = m.country[0] ? m.country : z->policy.home_country;
        if (cc[0] == '-' || (cc[0] == home[0] && cc[1] == home[1]))
            continue;
        char addr[64];
        addr_format(&rq->client, addr, sizeof addr);
        v->why = POLICY_WHY_DOMESTIC;
        v->zone = z;
        v->until = m.expires;
        snprintf(v->reason, sizeof v->reason, "account %.*s is domestic-only (%s); %s is in %c%c",
                 (int)rq->account_len, rq->account, home, addr, cc[0], cc[1]);
        v->action = rq->service == POLICY_SUBMISSION && z->policy.defer ? POLICY_DEFER : POLICY_REJECT;
        return 1;
    }
    return 0;
}

static int client_listed(const struct policy_ctx *ctx, const struct policy_request *rq, struct policy_verdict *v)
{
    const struct zoneset *zs = ctx->zones;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        struct zone_meta meta;
        struct listing l;
        if (z->kind != ZONE_IP || !wants(z, rq->service))
            continue;
        if (store_read_meta(ctx->txn, z->dbi, &meta) < 0)
            memset(&meta, 0, sizeof meta);  /* no meta: the zone holds nothing yet */
        int rc = store_lookup_ip(ctx->txn, z->dbi, &meta, &rq->client, ctx->now, &l, NULL);
        if (rc < 0)
            return -1;
        if (rc == 0 || (rq->service == POLICY_LOGIN && !has_code(z, &l, z->policy.dovecot_codes, ctx->now)))
            continue;
        char addr[64];
        addr_format(&rq->client, addr, sizeof addr);
        listed(ctx, z, &l, addr, POLICY_WHY_CLIENT, v);
        v->smtp_code = z->policy.reject_code;
        if (rq->service == POLICY_SUBMISSION)
            v->action = z->policy.reject_code < 500 ? POLICY_DEFER : POLICY_REJECT;
        else
            refuse_login(z, v);
        return 1;
    }
    return 0;
}

static int sender_listed(const struct policy_ctx *ctx, const struct policy_request *rq, struct policy_verdict *v)
{
    const char *at = rq->sender_len ? memrchr(rq->sender, '@', rq->sender_len) : NULL;
    char raw[DOMAIN_MAX + 2], domain[DOMAIN_MAX + 2];
    size_t n = at ? rq->sender_len - (size_t)(at + 1 - rq->sender) : 0;
    if (!n || n > DOMAIN_MAX + 1)
        return 0;
    memcpy(raw, at + 1, n);
    raw[n] = '\0';
    int len = domain_normalize(raw, domain, sizeof domain);
    if (len <= 0)
        return 0;
    const struct zoneset *zs = ctx->zones;
    for (int i = 0; i < zs->n; i++) {
        const struct zone *z = &zs->zones[i];
        struct listing l;
        if (z->kind != ZONE_DOMAIN || !wants(z, rq->service))
            continue;
        int rc = store_lookup_domain(ctx->txn, z->dbi, domain, (size_t)len, ctx->now, &l, NULL);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        listed(ctx, z, &l, domain, POLICY_WHY_SENDER, v);
        v->smtp_code = z->policy.reject_code;
        v->action = z->policy.reject_code < 500 ? POLICY_DEFER : POLICY_REJECT;
        return 1;
    }
    return 0;
}

/* What the user is told: the subject, the reason, until when. */
static void tell(const struct policy_request *rq, struct policy_verdict *v)
{
    char until[64];
    policy_until(v->until, until, sizeof until);
    switch (v->why) {
    case POLICY_WHY_ACCOUNT:
        snprintf(v->text, sizeof v->text, "account %.*s blocked by %s: %s (%s)", (int)rq->account_len,
                 rq->account, v->zone->name, v->reason, until);
        break;
    case POLICY_WHY_DOMESTIC:
        snprintf(v->text, sizeof v->text, "%s (%s)", v->reason, until);
        break;
    case POLICY_WHY_CLIENT: {
        char addr[64];
        addr_format(&rq->client, addr, sizeof addr);
        snprintf(v->text, sizeof v->text, "address %s blocked by %s: %s (%s)", addr, v->zone->name, v->reason,
                 until);
        break;
    }
    case POLICY_WHY_SENDER:
        snprintf(v->text, sizeof v->text, "sender %.*s blocked by %s: %s (%s)", (int)rq->sender_len, rq->sender,
                 v->zone->name, v->reason, until);
        break;
    case POLICY_WHY_NONE:
        v->text[0] = '\0';
        break;
    }
}

int policy_decide(const struct policy_ctx *ctx, const struct policy_request *rq, struct policy_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->action = POLICY_PERMIT;
    char label[ACCOUNT_LABEL_LEN + 1];
    int have_account = rq->account && rq->account_len && rq->account_len <= POLICY_ACCOUNT_MAX;
    if (have_account)
        account_label(rq->account, rq->account_len, label);
    int rc = 0;
    if (rq->service == POLICY_SUBMISSION) {
        if (have_account && (rc = account_listed(ctx, rq, label, v)) == 0)
            rc = domestic_refused(ctx, rq, label, v);
        if (rc == 0 && rq->have_client)
            rc = client_listed(ctx, rq, v);
        if (rc == 0 && rq->sender)
            rc = sender_listed(ctx, rq, v);
    } else {
        if (rq->have_client)
            rc = client_listed(ctx, rq, v);
        if (rc == 0 && have_account && (rc = account_listed(ctx, rq, label, v)) == 0)
            rc = domestic_refused(ctx, rq, label, v);
    }
    if (rc < 0) {
        memset(v, 0, sizeof *v);
        v->action = POLICY_PERMIT;
        return -1;
    }
    tell(rq, v);
    return 0;
}
