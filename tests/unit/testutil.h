/* testutil.h - what several unit tests need: a private temporary directory and its removal, the
 * repository's shipped zones/ directory, and a small builder of DNS packets. */
#ifndef DNSBL_TESTUTIL_H
#define DNSBL_TESTUTIL_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "zone.h"

/* Creates /tmp/NAME.XXXXXX; its path goes into buf. */
static inline void tmpdir_make(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/%s.XXXXXX", name);
    cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

static inline int tmpdir_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it. */
static inline void tmpdir_remove(const char *dir)
{
    nftw(dir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A file of the repository (rel: "zones", "tests/corpus/mail.log"), wherever the test runs from: the
 * Makefile passes the source tree as SOURCE_ROOT (__FILE__ is relative to it). */
static inline void source_path(char *buf, size_t cap, const char *rel)
{
#ifdef SOURCE_ROOT
    snprintf(buf, cap, "%s/%s", SOURCE_ROOT, rel);
#else
    const char *f = __FILE__, *tail = strstr(f, "tests/unit/testutil.h");
    snprintf(buf, cap, "%.*s%s", tail ? (int)(tail - f) : 0, f, rel);
#endif
}

/* The repository's zones/ directory. */
static inline void shipped_zones_dir(char *buf, size_t cap)
{
    source_path(buf, cap, "zones");
}

/* The shipped zones bound to a fresh store in a temporary directory /tmp/NAME.XXXXXX (its path goes
 * into dir), and their closing: the fixture of tests that read and write zones. */
static inline void shipped_store_open(struct zoneset *zs, struct store *st, char *dir, size_t cap,
                                      const char *name)
{
    char err[512], zdir[512];
    shipped_zones_dir(zdir, sizeof zdir);
    cr_assert_eq(zoneset_load(zdir, zs, err, sizeof err), 0, "%s", err);
    tmpdir_make(dir, cap, name);
    cr_assert_eq(store_open(st, dir, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(zoneset_bind(zs, st, err, sizeof err), 0, "%s", err);
}

static inline void shipped_store_close(struct zoneset *zs, struct store *st, const char *dir)
{
    store_close(st);
    zoneset_free(zs);
    tmpdir_remove(dir);
}

/* A packet under construction, written in wire order. */
struct pkt {
    uint8_t b[1024];
    size_t len;
};

static inline void u8(struct pkt *p, uint8_t v) { p->b[p->len++] = v; }
static inline void u16(struct pkt *p, uint16_t v) { u8(p, (uint8_t)(v >> 8)); u8(p, (uint8_t)v); }

/* A dotted name as plain labels; "" or "." is the root. */
static inline void pkt_name(struct pkt *p, const char *s)
{
    while (*s && strcmp(s, ".")) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        u8(p, (uint8_t)n);
        memcpy(p->b + p->len, s, n);
        p->len += n;
        s += n + (dot ? 1 : 0);
    }
    u8(p, 0);
}

#endif
