/* ctl_export.c - dnsblctl export: a zone's live entries, from one read transaction, as
 *
 *   rbldnsd data (--format rbldnsd, the default): ip4trie for IPv4, ip6trie for IPv6 (a "combined"
 *     file with a $DATASET section each when the zone holds both), dnset for domain and account
 *     zones. Networks stay CIDR networks, allow entries are "!ENTRY", a ":A:TXT" line gives the
 *     zone's default code and meaning, and an entry whose code or text differs carries its own
 *     ":A:TXT". `dnsblctl import` reads the file back to the same entries (one code per entry: the
 *     first live reason's, with every live reason's text joined by "; " as the TXT says them).
 *   a zone file (--format zone): $ORIGIN, $TTL, the SOA and every record a zone transfer gives
 *     (xfr_records.c), for any DNS server that loads RFC 1035 master files.
 *
 * A FILE is written beside itself and renamed into place, so a server that reloads it never reads
 * half a file. */
#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_cmds.h"
#include "dns.h"
#include "xfr_records.h"

struct out {
    FILE *f;
    const struct zone *z;
    size_t count;
};

/* ---- zone file ---- */

static int print_rr(void *ud, const struct xfr_rr *r)
{
    struct out *o = ud;
    uint8_t wire[256 + 10 + 65535];
    size_t len = 0, pos = 0;
    memcpy(wire, r->rel, r->rel_len), len += r->rel_len;
    memcpy(wire + len, o->z->wire, o->z->wire_len), len += o->z->wire_len;
    uint8_t head[10] = { (uint8_t)(r->type >> 8), (uint8_t)r->type, 0, DNS_CLASS_IN, (uint8_t)(r->ttl >> 24),
                         (uint8_t)(r->ttl >> 16), (uint8_t)(r->ttl >> 8), (uint8_t)r->ttl,
                         (uint8_t)(r->rdlen >> 8), (uint8_t)r->rdlen };
    memcpy(wire + len, head, sizeof head), len += sizeof head;
    memcpy(wire + len, r->rdata, r->rdlen), len += r->rdlen;
    ldns_rr *rr = NULL;
    if (ldns_wire2rr(&rr, wire, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
        return -1;
    ldns_rr_print(o->f, rr);
    ldns_rr_free(rr);
    o->count++;
    return ferror(o->f) ? -1 : 0;
}

static int export_zone(struct ctl *c, const struct zone *z, MDB_txn *txn, struct out *o)
{
    char t[32];
    uint8_t soa_buf[XFR_SOA_MAX];
    struct xfr_rr soa;
    struct xfr_stats st;
    uint32_t serial = xfr_serial(z, txn);
    fprintf(o->f, "; %s: exported by dnsblctl at %s, serial %u\n$ORIGIN %s.\n$TTL %u\n", z->name,
            fmt_time(c->now, t, sizeof t), serial, z->name, z->ttl);
    xfr_soa(z, serial, soa_buf, &soa);
    if (print_rr(o, &soa) < 0 || xfr_records(z, txn, c->now, print_rr, o, &st) < 0)
        return -1;
    if (st.holes)
        fprintf(stderr, "dnsblctl: %zu allow entr%s inside listed networks cannot be expressed in a zone file "
                "(the network answers for them)\n", st.holes, st.holes == 1 ? "y" : "ies");
    if (st.skipped)
        fprintf(stderr, "dnsblctl: %zu entr%s skipped (too many names or too long)\n", st.skipped,
                st.skipped == 1 ? "y" : "ies");
    return 0;
}

/* ---- rbldnsd data ---- */

/* A name of the apex records (uncompressed wire form) as text with its trailing dot. */
static size_t wire_name(const uint8_t *p, size_t max, char *out, size_t cap)
{
    size_t pos = 0, o = 0;
    while (pos < max && p[pos] && o + p[pos] + 2 < cap) {
        memcpy(out + o, p + pos + 1, p[pos]);
        o += p[pos];
        out[o++] = '.';
        pos += 1u + p[pos];
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    return pos + 1;
}

static void rbldnsd_header(struct ctl *c, const struct zone *z, MDB_txn *txn, FILE *f)
{
    char t[32], mname[300], rname[300];
    const struct zone_rr *soa = &z->rrs[z->soa];
    size_t n = wire_name(soa->rdata, soa->rdlen, mname, sizeof mname);
    wire_name(soa->rdata + n, soa->rdlen - n, rname, sizeof rname);
    const uint8_t *v = soa->rdata + soa->rdlen - 20;
    uint32_t num[5];
    for (int i = 0; i < 5; i++)
        num[i] = (uint32_t)v[4 * i] << 24 | (uint32_t)v[4 * i + 1] << 16 | (uint32_t)v[4 * i + 2] << 8 | v[4 * i + 3];
    fprintf(f, "# %s: rbldnsd data exported by dnsblctl at %s; `dnsblctl import` reads it back\n", z->name,
            fmt_time(c->now, t, sizeof t));
    fprintf(f, "$SOA %u %s %s %u %u %u %u %u\n", soa->ttl, mname, rname, xfr_serial(z, txn), num[1], num[2],
            num[3], num[4]);
    fprintf(f, "$NS %u", z->ttl);
    for (int i = 0; i < z->nrrs; i++)
        if (z->rrs[i].type == DNS_TYPE_NS && z->rrs[i].owner_len == z->wire_len) {
            wire_name(z->rrs[i].rdata, z->rrs[i].rdlen, mname, sizeof mname);
            fprintf(f, " %s", mname);
        }
    fprintf(f, "\n$TTL %u\n", z->ttl);
}

static const char *code_meaning(const struct zone *z, uint32_t code)
{
    const struct zone_code *zc = zone_code_by_addr(z, code);
    return zc ? zc->meaning : "listed";
}

/* The code and text of an entry as one rbldnsd value: the first live code, every live text. */
static uint32_t entry_value(struct ctl *c, const struct zone *z, const struct listing *l, char *text, size_t cap)
{
    uint32_t code = 0;
    size_t pos = 0;
    text[0] = '\0';
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *r = &l->reasons[i];
        if (!r->code || (r->expires && r->expires <= c->now))
            continue;
        if (!code)
            code = r->code;
        const char *s = r->text_len ? r->text : code_meaning(z, r->code);
        int len = r->text_len ? r->text_len : (int)strlen(s);
        pos += (size_t)snprintf(text + pos, cap - pos, "%s%.*s", pos ? "; " : "", len, s);
        if (pos >= cap)
            pos = cap - 1;
    }
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';                           /* one entry, one line */
    return code;
}

static void rbldnsd_default(const struct zone *z, FILE *f)
{
    char code[16];
    const struct zone_code *d = &z->codes[z->default_code];
    fprintf(f, ":%s:%s\n", fmt_code(d->addr, code, sizeof code), d->meaning);
}

static int rbldnsd_entry(struct ctl *c, const struct zone *z, const MDB_val *k, const MDB_val *v, struct out *o)
{
    struct listing l;
    char what[300], text[REASON_TEXT_MAX + 1], code[16];     /* import takes 255 characters at most */
    if (((const uint8_t *)k->mv_data)[0] == 0 || listing_decode(v->mv_data, v->mv_size, &l) < 0 ||
        !listing_live(&l, c->now))
        return 0;
    fmt_key(z, k->mv_data, k->mv_size, l.flags, what, sizeof what);
    const char *entry = strncmp(what, "account:", 8) ? what : what + 8;
    o->count++;
    if (l.flags & LISTING_ALLOW)
        return fprintf(o->f, "!%s\n", entry) < 0 ? -1 : 0;
    const struct zone_code *d = &z->codes[z->default_code];
    uint32_t c0 = entry_value(c, z, &l, text, sizeof text);
    if (c0 == d->addr && !strcmp(text, d->meaning))
        return fprintf(o->f, "%s\n", entry) < 0 ? -1 : 0;
    return fprintf(o->f, "%s :%s:%s\n", entry, fmt_code(c0, code, sizeof code), text) < 0 ? -1 : 0;
}

/* Entries whose keys start with byte first (ADDR_V4, ADDR_V6, 'D'); 1 if there is one, 0, -1. */
static int has_keys(MDB_txn *txn, MDB_dbi dbi, uint8_t first)
{
    MDB_cursor *cur;
    MDB_val k = { 1, &first }, v;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    int found = rc == 0 && ((const uint8_t *)k.mv_data)[0] == first;
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? found : -1;
}

static int rbldnsd_section(struct ctl *c, const struct zone *z, MDB_txn *txn, uint8_t first, struct out *o)
{
    MDB_cursor *cur;
    MDB_val k = { 1, &first }, v;
    if (mdb_cursor_open(txn, z->dbi, &cur) != 0)
        return -1;
    rbldnsd_default(z, o->f);
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), bad = 0;
    for (; rc == 0 && !bad && ((const uint8_t *)k.mv_data)[0] == first; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        bad = rbldnsd_entry(c, z, &k, &v, o) < 0;
    mdb_cursor_close(cur);
    return !bad && (rc == 0 || rc == MDB_NOTFOUND) ? 0 : -1;
}

static int export_rbldnsd(struct ctl *c, const struct zone *z, MDB_txn *txn, struct out *o)
{
    rbldnsd_header(c, z, txn, o->f);
    if (z->kind != ZONE_IP) {
        fprintf(o->f, "# dataset: dnset (%s:dnset:FILE)\n", z->name);
        return rbldnsd_section(c, z, txn, 'D', o);
    }
    int v4 = has_keys(txn, z->dbi, ADDR_V4), v6 = has_keys(txn, z->dbi, ADDR_V6);
    if (v4 < 0 || v6 < 0)
        return -1;
    if (!v6) {
        fprintf(o->f, "# dataset: ip4trie (%s:ip4trie:FILE; ip4set reads it too)\n", z->name);
        return rbldnsd_section(c, z, txn, ADDR_V4, o);
    }
    if (!v4) {
        fprintf(o->f, "# dataset: ip6trie (%s:ip6trie:FILE)\n", z->name);
        return rbldnsd_section(c, z, txn, ADDR_V6, o);
    }
    fprintf(o->f, "# dataset: combined (%s:combined:FILE)\n$DATASET ip4trie @\n", z->name);
    if (rbldnsd_section(c, z, txn, ADDR_V4, o) < 0)
        return -1;
    fprintf(o->f, "$DATASET ip6trie @\n");
    return rbldnsd_section(c, z, txn, ADDR_V6, o);
}

/* ---- the command ---- */

static int finish_file(FILE *f, const char *file, const char *tmp, int ok)
{
    int rc = ok && fflush(f) == 0 && !ferror(f) ? 0 : -1;
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -1;
        if (rc == 0 && rename(tmp, file) != 0)
            rc = -1;
        if (rc != 0)
            unlink(tmp);
    }
    if (rc != 0)
        fprintf(stderr, "dnsblctl: export to %s failed: %s\n", file, errno ? strerror(errno) : "store error");
    return rc;
}

int cmd_export(struct ctl *c, const char *zone, const char *file)
{
    struct zone *z = need_zone(c, zone);
    const char *format = c->format ? c->format : "rbldnsd";
    if (!z)
        return EXIT_USAGE;
    if (strcmp(format, "rbldnsd") && strcmp(format, "zone")) {
        fprintf(stderr, "dnsblctl: --format '%s': want rbldnsd or zone\n", format);
        return EXIT_USAGE;
    }
    char tmp[4096];
    int to_stdout = !strcmp(file, "-");
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", file, (int)getpid());
    struct out o = { .f = to_stdout ? stdout : fopen(tmp, "w"), .z = z };
    if (!o.f) {
        fprintf(stderr, "dnsblctl: %s: %s\n", tmp, strerror(errno));
        return EXIT_STORE;
    }
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->store.env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        errno = 0;
        rc = format[0] == 'z' ? export_zone(c, z, txn, &o) : export_rbldnsd(c, z, txn, &o);
        mdb_txn_abort(txn);
    }
    if (finish_file(o.f, to_stdout ? "standard output" : file, tmp, rc == 0) < 0)
        return EXIT_STORE;
    fprintf(stderr, "exported %zu %s of %s\n", o.count, format[0] == 'z' ? "records" : "entries", z->name);
    if (z->kind == ZONE_ACCOUNT && format[0] == 'r')
        fprintf(stderr, "dnsblctl: note: an account zone holds hashes, not names: rbldnsd serves them, "
                "`dnsblctl import` cannot read them back\n");
    return 0;
}
