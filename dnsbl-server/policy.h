/* policy.h - the decision of the policy endpoints (dnsbl-server(8), POLICY; docs/policy.md), from the store, independent of
 * the protocols: the Postfix policy delegation (policy_postfix.c) and Dovecot's authentication policy
 * (policy_dovecot.c) both ask policy_decide.
 *
 * A submission (Postfix) is refused when the SASL account is listed in an account zone, when a
 * domestic-only account (dnsblctl domestic) comes from abroad, when the client address is listed in an
 * IP zone, or when the sender's domain is listed in a domain zone, in that order. A login (Dovecot) is
 * refused (or delayed: dovecot-tarpit) when the address is listed in an IP zone, or the account in an
 * account zone, with one of the zone's dovecot-codes, or when a domestic-only account comes from
 * abroad. Everything else is permitted. Only zones with postfix / dovecot = yes ([policy]) count. */
#ifndef DNSBL_POLICY_H
#define DNSBL_POLICY_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "zone.h"

enum policy_service { POLICY_SUBMISSION, POLICY_LOGIN };
enum policy_action { POLICY_PERMIT, POLICY_REJECT, POLICY_DEFER, POLICY_TARPIT };
/* What the verdict rests on. */
enum policy_why { POLICY_WHY_NONE, POLICY_WHY_ACCOUNT, POLICY_WHY_DOMESTIC, POLICY_WHY_CLIENT,
                  POLICY_WHY_SENDER };

#define POLICY_ACCOUNT_MAX 256      /* longer accounts are not looked up (nothing lists them) */
#define POLICY_TEXT_MAX 600

struct policy_request {
    enum policy_service service;
    int have_client;
    struct ipaddr client;
    const char *account;            /* SASL or login name; NULL or "" when none */
    size_t account_len;
    const char *sender;             /* envelope sender (submission); NULL or "" for none */
    size_t sender_len;
};

/* The country of an address as two upper-case letters, "--" when unknown (lib/geo.c's geo_country). */
typedef void (*policy_country_fn)(void *arg, const struct ipaddr *a, char cc[2]);

struct policy_ctx {
    const struct zoneset *zones;
    MDB_txn *txn;                   /* a live read transaction */
    uint32_t now;
    policy_country_fn country;      /* NULL: no GeoIP file, so domestic-only marks cannot be checked */
    void *country_arg;
};

struct policy_verdict {
    enum policy_action action;
    enum policy_why why;
    const struct zone *zone;        /* the zone of the listing or of the mark */
    uint32_t smtp_code;             /* POLICY_WHY_CLIENT, _SENDER: the reject_rbl_client-style code */
    uint32_t delay;                 /* POLICY_TARPIT: seconds */
    uint32_t until;                 /* when the listing or mark ends; 0 never */
    char reason[POLICY_TEXT_MAX];   /* the zone's TXT for the listing, or why the mark applies */
    char text[POLICY_TEXT_MAX];     /* what the user is told: the reason, and until when */
};

/* 0 with the verdict (POLICY_PERMIT when nothing applies), or -1 on a store error (the callers then
 * permit: a failure of the policy server must never lock users out). */
int policy_decide(const struct policy_ctx *ctx, const struct policy_request *rq, struct policy_verdict *v);

/* "until 2026-12-02 15:04 UTC" or "until removed" (until 0), into buf. */
const char *policy_until(uint32_t until, char *buf, size_t n);

#endif
