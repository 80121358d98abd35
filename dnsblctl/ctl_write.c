/* ctl_write.c - dnsblctl's changes: add, allow, unallow, delist, import, purge. Each is recorded in
 * the history (sub-database "ctl:history") in the same transaction: who, when, what and why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "import.h"

enum history_action { H_ADD = 'a', H_ALLOW = 'A', H_DELIST = 'd', H_UNALLOW = 'u', H_IMPORT = 'i', H_PURGE = 'p',
                      H_DOMESTIC = 'o', H_UNDOMESTIC = 'O' };

int history_open(struct ctl *c, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_dbi_open(txn, "ctl:history", MDB_CREATE | MDB_DUPSORT, &c->history)) == 0)
        rc = mdb_txn_commit(txn);
    else if (rc == 0)
        mdb_txn_abort(txn);
    if (rc)
        snprintf(err, errlen, "ctl:history: %s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

/* key: zone NUL store-key; value (a duplicate, sorted by time): time (big-endian) action code
 * expires who-length who why-length why */
static int history_add(struct ctl *c, MDB_txn *txn, const struct zone *z, const uint8_t *skey, size_t sklen,
                       int action, uint32_t code, uint32_t expires, const char *detail)
{
    uint8_t key[512], val[500];
    size_t zl = strlen(z->name), pos = 0;
    const char *why = c->why ? c->why : detail ? detail : "";
    size_t wl = strlen(c->who) > 32 ? 32 : strlen(c->who), yl = strlen(why) > 400 ? 400 : strlen(why);
    if (zl + 1 + sklen > sizeof key)
        return EINVAL;
    memcpy(key, z->name, zl);
    key[zl] = 0;
    memcpy(key + zl + 1, skey, sklen);
    uint32_t be = __builtin_bswap32(c->now);
    memcpy(val, &be, 4), pos = 4;
    val[pos++] = (uint8_t)action;
    memcpy(val + pos, &code, 4), pos += 4;
    memcpy(val + pos, &expires, 4), pos += 4;
    val[pos++] = (uint8_t)wl;
    memcpy(val + pos, c->who, wl), pos += wl;
    val[pos++] = (uint8_t)(yl >> 8);
    val[pos++] = (uint8_t)yl;
    memcpy(val + pos, why, yl), pos += yl;
    MDB_val k = { zl + 1 + sklen, key }, v = { pos, val };
    return mdb_put(txn, c->history, &k, &v, 0);
}

static int finish(struct store_txn *w, int rc, uint32_t now)
{
    if (rc) {
        store_write_abort(w);
        return store_error(rc);
    }
    if ((rc = store_write_commit(w, now)) != 0)
        return store_error(rc);
    return 0;
}

int cmd_add(struct ctl *c, const char *zone, const char *text)
{
    struct zone *z = need_zone(c, zone);
    struct entry e;
    if (!z || parse_entry(z, text, &e, 0) < 0)
        return EXIT_USAGE;
    if (c->allow && c->code) {
        fprintf(stderr, "dnsblctl: allow and --code exclude each other\n");
        return EXIT_USAGE;
    }
    const struct zone_code *code = c->code ? zone_find_code(z, c->code) : &z->codes[z->default_code];
    if (!code) {
        fprintf(stderr, "dnsblctl: zone %s has no code '%s'\n", z->name, c->code);
        return EXIT_USAGE;
    }
    const char *reason = c->reason ? c->reason : c->allow ? "allowed by the operator" : "";
    if (strlen(reason) > REASON_TEXT_MAX) {
        fprintf(stderr, "dnsblctl: --reason is longer than %d characters\n", REASON_TEXT_MAX);
        return EXIT_USAGE;
    }
    struct store_txn w;
    struct listing l;
    char texts[LISTING_MAX_REASONS][REASON_TEXT_MAX];
    int rc = store_write_begin(&c->store, &w);
    if (rc)
        return store_error(rc);
    /* a manual listing keeps its other codes; a feeder listing or an allow entry is replaced */
    int found = store_get(w.txn, z->dbi, e.key, e.klen, &l);
    if (found <= 0 || c->allow || (l.flags & LISTING_ALLOW) || !(l.flags & LISTING_MANUAL))
        l = (struct listing){ .since = c->now };
    for (int i = 0; i < l.nreasons; i++) {     /* copy out of the map before writing */
        memcpy(texts[i], l.reasons[i].text, l.reasons[i].text_len);
        l.reasons[i].text = texts[i];
    }
    l.flags = (uint8_t)(LISTING_MANUAL | e.flags | (c->allow ? LISTING_ALLOW : 0));
    uint32_t expires = c->expires_in ? c->now + c->expires_in : 0;
    struct reason r = { c->allow ? 0 : code->addr, expires, (uint8_t)strlen(reason), reason };
    if (listing_set_reason(&l, &r) < 0) {
        store_write_abort(&w);
        fprintf(stderr, "dnsblctl: the entry already has %d reasons\n", LISTING_MAX_REASONS);
        return EXIT_USAGE;
    }
    rc = store_put(&w, z->dbi, e.key, e.klen, &l, 0);
    if (!rc)
        rc = history_add(c, w.txn, z, e.key, e.klen, c->allow ? H_ALLOW : H_ADD, r.code, expires, reason);
    return finish(&w, rc, c->now);
}

/* Removes the entry (only an allow entry if allow_only). */
static int remove_entry(struct ctl *c, const char *zone, const char *text, int allow_only)
{
    struct zone *z = need_zone(c, zone);
    struct entry e;
    struct store_txn w;
    struct listing l;
    if (!z || parse_entry(z, text, &e, 0) < 0)
        return EXIT_USAGE;
    int rc = store_write_begin(&c->store, &w);
    if (rc)
        return store_error(rc);
    int found = store_get(w.txn, z->dbi, e.key, e.klen, &l);
    if (found <= 0 || (allow_only && !(l.flags & LISTING_ALLOW))) {
        store_write_abort(&w);
        fprintf(stderr, allow_only ? "dnsblctl: %s has no allow entry %s\n"
                                   : "dnsblctl: %s has no entry %s (a covering network may list it: see 'show')\n",
                z->name, text);
        return found < 0 ? EXIT_STORE : EXIT_NOTFOUND;
    }
    rc = store_del(&w, z->dbi, e.key, e.klen);
    if (!rc)
        rc = history_add(c, w.txn, z, e.key, e.klen, allow_only ? H_UNALLOW : H_DELIST, 0, 0, NULL);
    return finish(&w, rc, c->now);
}

int cmd_delist(struct ctl *c, const char *zone, const char *text) { return remove_entry(c, zone, text, 0); }
int cmd_unallow(struct ctl *c, const char *zone, const char *text) { return remove_entry(c, zone, text, 1); }

int cmd_import(struct ctl *c, const char *zone, const char *file)
{
    struct zone *z = need_zone(c, zone);
    if (!z)
        return EXIT_USAGE;
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) {
        fprintf(stderr, "dnsblctl: %s: %s\n", file, strerror(errno));
        return EXIT_USAGE;
    }
    struct importer im;
    char err[1024], detail[300];
    size_t written;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    importer_init(&im, z, c->now, c->expires_in ? c->now + c->expires_in : 0);
    int rc = import_file(&im, f, strcmp(file, "-") ? file : "stdin", err, sizeof err);
    if (f != stdin)
        fclose(f);
    if (rc == 0) {
        snprintf(detail, sizeof detail, "import of %s (%zu lines)%s", file, im.lines, c->replace ? ", replacing" : "");
        rc = import_commit(&im, &c->store, c->replace, &written, err, sizeof err);
    }
    if (rc < 0) {
        fprintf(stderr, "dnsblctl: %s; nothing imported\n", err);
        importer_free(&im);
        return strstr(err, "store:") == err ? EXIT_STORE : EXIT_USAGE;
    }
    struct store_txn w;     /* the history entry: the import itself was one transaction */
    if ((rc = store_write_begin(&c->store, &w)) == 0)
        finish(&w, history_add(c, w.txn, z, (const uint8_t *)"", 0, H_IMPORT, (uint32_t)written, 0, detail), c->now);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "imported %zu entries into %s from %zu lines%s in %.2fs", written, z->name, im.lines,
            c->replace ? " (replacing the zone)" : "",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (im.directives)
        fprintf(stderr, "; %zu $-directive lines skipped (the zone file sets SOA, NS and TTL)", im.directives);
    fprintf(stderr, "\n");
    importer_free(&im);
    return 0;
}

static int purge_zone(struct ctl *c, struct store_txn *w, const struct zone *z, size_t *purged)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, z->dbi, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct listing l;
        if (((const uint8_t *)k.mv_data)[0] == 0 || listing_decode(v.mv_data, v.mv_size, &l) < 0 ||
            listing_live(&l, c->now))
            continue;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        (*purged)++;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND && z->kind == ZONE_IP)
        rc = store_rebuild_v4map(w, z->dbi);    /* the /24 map forgets the /24s left empty */
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int cmd_purge(struct ctl *c, const char *zone)
{
    struct zone *only = zone ? need_zone(c, zone) : NULL;
    struct store_txn w;
    size_t purged = 0;
    if (zone && !only)
        return EXIT_USAGE;
    int rc = store_write_begin(&c->store, &w);
    if (rc)
        return store_error(rc);
    for (int i = 0; rc == 0 && i < c->zones.n; i++)
        if (!only || only == &c->zones.zones[i])
            rc = purge_zone(c, &w, &c->zones.zones[i], &purged);
    if (rc == 0 && only)
        rc = history_add(c, w.txn, only, (const uint8_t *)"", 0, H_PURGE, (uint32_t)purged, 0, "purge of expired entries");
    if ((rc = finish(&w, rc, c->now)) != 0)
        return rc;
    fprintf(stderr, "purged %zu expired entr%s\n", purged, purged == 1 ? "y" : "ies");
    return 0;
}

/* Records the expiries since the last pass by raising the serials of the zones concerned, so that
 * secondaries drop expired listings (store.h, "Expiries"). The feeder does this every second; this is
 * for sites where no feeder runs, from a timer. It changes no entry, so it is not in the history. */
int cmd_expire(struct ctl *c)
{
    struct store_expiry x[ZONESET_MAX];
    int raised;
    for (int i = 0; i < c->zones.n; i++)
        x[i] = (struct store_expiry){ .dbi = c->zones.zones[i].dbi };
    int rc = store_expire_pass(&c->store, x, c->zones.n, c->now, &raised);
    if (rc != 0)
        return store_error(rc);
    fprintf(stderr, "expiries: serial raised in %d zone%s\n", raised, raised == 1 ? "" : "s");
    return 0;
}

/* Marks an account of an account zone domestic-only (on), or removes the mark: the policy endpoints
 * of dnsbl-server then refuse its submissions and logins from clients outside the home country (the
 * zone's [policy] home-country, or --country). */
int cmd_domestic(struct ctl *c, const char *zone, const char *account, int on)
{
    struct zone *z = need_zone(c, zone);
    struct entry e;
    if (!z || parse_entry(z, account, &e, 0) < 0)
        return EXIT_USAGE;
    if (z->kind != ZONE_ACCOUNT) {
        fprintf(stderr, "dnsblctl: %s is not an account zone\n", z->name);
        return EXIT_USAGE;
    }
    const char *country = c->country[0] ? c->country : z->policy.home_country;
    const char *note = c->why ? c->why : "";
    char label[ACCOUNT_LABEL_LEN + 1];
    account_label(account, strlen(account), label);
    struct store_txn w;
    int rc = store_write_begin(&c->store, &w);
    if (rc)
        return store_error(rc);
    uint32_t expires = c->expires_in ? c->now + c->expires_in : 0;
    if (on) {
        struct account_mark m = { .flags = ACCOUNT_DOMESTIC_ONLY, .since = c->now, .expires = expires,
                                  .note_len = (uint8_t)(strlen(note) > 255 ? 255 : strlen(note)), .note = note };
        memcpy(m.country, c->country, 3);
        rc = store_account_mark_put(w.txn, z->dbi, label, &m);
    } else if ((rc = store_account_mark_del(w.txn, z->dbi, label)) == MDB_NOTFOUND) {
        store_write_abort(&w);
        fprintf(stderr, "dnsblctl: %s is not marked domestic-only in %s\n", account, z->name);
        return EXIT_NOTFOUND;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "domestic-only: %s", country);
    if (!rc)
        rc = history_add(c, w.txn, z, e.key, e.klen, on ? H_DOMESTIC : H_UNDOMESTIC, 0, expires, detail);
    if (rc) {
        store_write_abort(&w);
        return store_error(rc);
    }
    if ((rc = mdb_txn_commit(w.txn)) != 0)      /* no listing changed: no serial to raise */
        return store_error(rc);
    if (!c->json)
        printf("%s %s: %s\n", account, on ? "domestic-only" : "no longer domestic-only", on ? country : z->name);
    return 0;
}
