/* import.h - read rbldnsd data files (ip4set, ip6tset/ip6trie, dnset) into one zone of the store.
 *
 * Entries are parsed into memory first, sorted by key, and written in a single LMDB transaction (with
 * MDB_APPEND when the zone is empty or being replaced), so a million-line file loads in seconds and a
 * bad line leaves the store untouched. */
#ifndef DNSBL_IMPORT_H
#define DNSBL_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "zone.h"

struct import_entry {
    uint64_t key_off, val_off;  /* into the arena */
    uint32_t seq;               /* input order: the later of two equal keys wins */
    uint16_t key_len, val_len;
};

struct importer {
    const struct zone *zone;
    uint32_t now, expires;      /* expires: absolute, 0 = never */
    uint32_t default_code;
    char default_text[REASON_TEXT_MAX + 1];
    uint8_t *arena;
    size_t arena_len, arena_cap;
    struct import_entry *entries;
    size_t n, cap;
    size_t lines, directives;   /* $SOA/$NS/$TTL lines: zone data here comes from the zone file */
};

void importer_init(struct importer *im, const struct zone *z, uint32_t now, uint32_t expires);
void importer_free(struct importer *im);
/* One line (without its newline). Returns 0, or -1 with the reason in err. */
int import_line(struct importer *im, const char *line, char *err, size_t errlen);
/* Every line of f; err gets "NAME:LINE: reason". */
int import_file(struct importer *im, FILE *f, const char *name, char *err, size_t errlen);
/* Sorts, drops duplicates, writes. replace: the zone's old entries go in the same transaction. */
int import_commit(struct importer *im, struct store *st, int replace, size_t *written, char *err, size_t errlen);

#endif
