/* ctl.h - dnsblctl's shared state and helpers. The commands live in ctl_write.c (changes, each
 * recorded in the history with who, when and why) and ctl_read.c (list, show, top, stats, history;
 * every one of them also as --json). */
#ifndef DNSBL_CTL_H
#define DNSBL_CTL_H

#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "store.h"
#include "zone.h"

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_STORE = 3 };

struct ctl {
    const char *db_dir, *zones_dir;
    const char *code, *reason, *why, *who;
    const char *reason_filter;      /* list --reason */
    const char *format;             /* export --format */
    char country[3];                /* domestic --country, upper case; "" none */
    uint32_t since_filter;          /* list --since: absolute time */
    uint32_t expires_in;            /* seconds from now, 0 = never */
    int allow, all, replace, json, limit;
    struct store store;
    struct zoneset zones;
    uint32_t now;
    MDB_dbi history;
};

struct entry {
    uint8_t key[STORE_KEY_MAX];
    size_t klen;
    uint8_t flags;                  /* wildcard flags that the spelling implies */
};

const char *fmt_time(uint32_t t, char *buf, size_t n);
const char *fmt_code(uint32_t c, char *buf, size_t n);
int parse_entry(const struct zone *z, const char *text, struct entry *e, int quiet);
const char *fmt_key(const struct zone *z, const uint8_t *key, size_t klen, uint8_t flags, char *buf, size_t n);
struct zone *need_zone(struct ctl *c, const char *name);
int store_error(int rc);

/* ctl_write.c */
int cmd_add(struct ctl *c, const char *zone, const char *entry);
int cmd_delist(struct ctl *c, const char *zone, const char *entry);
int cmd_unallow(struct ctl *c, const char *zone, const char *entry);
int cmd_import(struct ctl *c, const char *zone, const char *file);
int cmd_purge(struct ctl *c, const char *zone);
int cmd_expire(struct ctl *c);
int cmd_domestic(struct ctl *c, const char *zone, const char *account, int on);
int history_open(struct ctl *c, char *err, size_t errlen);

/* ctl_read.c */
int cmd_list(struct ctl *c, const char *zone);
int cmd_show(struct ctl *c, const char *entry);
int cmd_top(struct ctl *c);
int cmd_stats(struct ctl *c);
int cmd_history(struct ctl *c, const char *entry);

/* ctl_export.c */
int cmd_export(struct ctl *c, const char *zone, const char *file);

#endif
