/* ctl.h - dnsblctl's shared state and the helpers (ctl.c) its commands use. The commands are
 * declared in ctl_cmds.h and live in ctl_write.c (changes, each recorded in the history with who,
 * when and why), ctl_read.c (list, show, top, stats, history; every one of them also as --json) and
 * ctl_export.c; dnsblctl.c parses the options and dispatches to them. */
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

#endif
