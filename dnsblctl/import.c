/* import.c - see import.h. The accepted syntax is rbldnsd's (rbldnsd(8), "DATASETS"):
 *
 *   # or ; comment           :A:TXT   default value for the lines that follow
 *   1.2.3.4  1.2.3  1.2.3.0/24  1.2.3.4-1.2.3.9  1.2.3.4-9     (ip4set)
 *   2001:db8::/32  2001:db8::1                                   (ip6tset, ip6trie)
 *   example.com  .example.com  *.example.com                     (dnset)
 *   !ENTRY                   an exclusion (allow entry)
 *   ENTRY :A:TXT | ENTRY :A | ENTRY TXT                          a value for one entry
 *   $SOA $NS $TTL ...        skipped: the zone file says those things here
 */
#include "import.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define IMPORT_LINE_MAX 4096

void importer_init(struct importer *im, const struct zone *z, uint32_t now, uint32_t expires)
{
    memset(im, 0, sizeof *im);
    im->zone = z;
    im->now = now;
    im->expires = expires;
    im->default_code = z->codes[z->default_code].addr;
}

void importer_free(struct importer *im)
{
    free(im->arena);
    free(im->entries);
    im->arena = NULL;
    im->entries = NULL;
}

static int arena_add(struct importer *im, const void *p, size_t n, uint64_t *off)
{
    if (im->arena_len + n > im->arena_cap) {
        size_t cap = im->arena_cap ? im->arena_cap * 2 : 1 << 20;
        while (cap < im->arena_len + n)
            cap *= 2;
        uint8_t *grown = realloc(im->arena, cap);
        if (!grown)
            return -1;
        im->arena = grown;
        im->arena_cap = cap;
    }
    memcpy(im->arena + im->arena_len, p, n);
    *off = im->arena_len;
    im->arena_len += n;
    return 0;
}

static int emit(struct importer *im, const uint8_t *key, size_t klen, const struct listing *l)
{
    uint8_t val[STORE_VALUE_MAX];
    int vlen = listing_encode(l, val, sizeof val);
    if (vlen < 0)
        return -1;
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 4096;
        struct import_entry *grown = realloc(im->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        im->entries = grown;
        im->cap = cap;
    }
    struct import_entry *e = &im->entries[im->n];
    if (arena_add(im, key, klen, &e->key_off) < 0 || arena_add(im, val, (size_t)vlen, &e->val_off) < 0)
        return -1;
    e->key_len = (uint16_t)klen;
    e->val_len = (uint16_t)vlen;
    e->seq = (uint32_t)im->n;
    im->n++;
    return 0;
}

/* ":A:TXT", ":A", ":" or "TXT" into a code and a text. */
static int parse_value(struct importer *im, const char *v, uint32_t *code, const char **text,
                       size_t *text_len, char *err, size_t errlen)
{
    *code = im->default_code;
    *text = im->default_text;
    *text_len = strlen(im->default_text);
    if (*v != ':') {
        if (*v) {
            *text = v;
            *text_len = strlen(v);
        }
    } else {
        const char *a = v + 1, *colon = strchr(a, ':');
        size_t alen = colon ? (size_t)(colon - a) : strlen(a);
        if (alen > 0) {
            char buf[32];
            struct in_addr in;
            if (alen >= sizeof buf)
                alen = sizeof buf - 1;
            memcpy(buf, a, alen);
            buf[alen] = '\0';
            if (inet_pton(AF_INET, buf, &in) != 1) {
                snprintf(err, errlen, "'%s' is not an IPv4 return code", buf);
                return -1;
            }
            *code = ntohl(in.s_addr);
            if (!zone_code_by_addr(im->zone, *code)) {
                snprintf(err, errlen, "%s is not a code of zone %s (add a [code %s] section)", buf,
                         im->zone->name, buf);
                return -1;
            }
        }
        if (colon) {
            *text = colon + 1;
            *text_len = strlen(colon + 1);
        }
    }
    if (*text_len > REASON_TEXT_MAX) {
        snprintf(err, errlen, "text longer than %d characters", REASON_TEXT_MAX);
        return -1;
    }
    return 0;
}

/* rbldnsd's short forms: "1.2.3" is 1.2.3.0/24, "1.2" is 1.2.0.0/16, "10" is 10.0.0.0/8. */
static int parse_v4_short(const char *s, struct ipnet *net)
{
    unsigned parts[4];
    int n = 0;
    const char *p = s;
    while (n < 4) {
        if (!isdigit((unsigned char)*p))
            return -1;
        unsigned v = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 4)
            v = v * 10 + (unsigned)(*p++ - '0'), digits++;
        if (v > 255)
            return -1;
        parts[n++] = v;
        if (*p == '\0')
            break;
        if (*p++ != '.')
            return -1;
    }
    if (*p != '\0' || n >= 4)
        return -1;
    memset(net, 0, sizeof *net);
    net->addr.family = ADDR_V4;
    for (int i = 0; i < n; i++)
        net->addr.bytes[i] = (uint8_t)parts[i];
    net->plen = (uint8_t)(8 * n);
    return 0;
}

static uint32_t v4_u32(const struct ipaddr *a)
{
    return (uint32_t)a->bytes[0] << 24 | a->bytes[1] << 16 | a->bytes[2] << 8 | a->bytes[3];
}

static int emit_net(struct importer *im, const struct ipnet *net, const struct listing *l)
{
    uint8_t key[STORE_KEY_MAX];
    return emit(im, key, store_key_net(net, key), l);
}

/* "a.b.c.d-a.b.c.e" or "a.b.c.d-e" as the fewest CIDR blocks. */
static int emit_range(struct importer *im, const char *s, const char *dash, const struct listing *l,
                      char *err, size_t errlen)
{
    char first[32], last[32];
    struct ipaddr a, b;
    size_t flen = (size_t)(dash - s);
    if (flen >= sizeof first || strlen(dash + 1) >= sizeof last)
        goto bad;
    memcpy(first, s, flen);
    first[flen] = '\0';
    strcpy(last, dash + 1);
    if (addr_parse(first, &a) < 0 || a.family != ADDR_V4)
        goto bad;
    if (!strchr(last, '.')) {   /* "1.2.3.4-9": the last octet only */
        const char *dot = strrchr(first, '.');
        char full[sizeof last];
        if (!dot || snprintf(full, sizeof full, "%.*s.%s", (int)(dot - first), first, last) >= (int)sizeof full)
            goto bad;
        strcpy(last, full);
    }
    if (addr_parse(last, &b) < 0 || b.family != ADDR_V4)
        goto bad;
    uint64_t lo = v4_u32(&a), hi = v4_u32(&b);
    if (lo > hi)
        goto bad;
    while (lo <= hi) {
        int plen = 32;
        while (plen > 0) {
            uint64_t size = 1ULL << (33 - plen);
            if ((lo & (size - 1)) || lo + size - 1 > hi)
                break;
            plen--;
        }
        struct ipnet net = { .addr.family = ADDR_V4, .plen = (uint8_t)plen };
        for (int i = 0; i < 4; i++)
            net.addr.bytes[i] = (uint8_t)(lo >> (24 - 8 * i));
        if (emit_net(im, &net, l) < 0)
            return -1;
        lo += 1ULL << (32 - plen);
    }
    return 0;
bad:
    snprintf(err, errlen, "'%s' is not an address range", s);
    return -1;
}

static int import_ip(struct importer *im, const char *entry, const struct listing *l, char *err, size_t errlen)
{
    struct ipnet net;
    const char *dash = strchr(entry, '-');
    if (dash && !strchr(entry, ':'))
        return emit_range(im, entry, dash, l, err, errlen);
    if (net_parse(entry, &net) < 0 && (strchr(entry, ':') || strchr(entry, '/') ||
                                       parse_v4_short(entry, &net) < 0)) {
        snprintf(err, errlen, "'%s' is not an IP address or network", entry);
        return -1;
    }
    return emit_net(im, &net, l);
}

static int import_name(struct importer *im, const char *entry, struct listing *l, char *err, size_t errlen)
{
    char name[DOMAIN_MAX + 1];
    uint8_t key[STORE_KEY_MAX];
    if (im->zone->kind == ZONE_ACCOUNT) {
        char label[ACCOUNT_LABEL_LEN + 1];
        account_label(entry, strlen(entry), label);
        return emit(im, key, store_key_domain(label, ACCOUNT_LABEL_LEN, key), l);
    }
    if (!strncmp(entry, "*.", 2)) {
        l->flags |= LISTING_WILDCARD | LISTING_SUBDOMAINS;
        entry += 2;
    } else if (entry[0] == '.') {
        l->flags |= LISTING_WILDCARD;
        entry += 1;
    }
    int len = domain_normalize(entry, name, sizeof name);
    if (len < 0) {
        snprintf(err, errlen, "'%s' is not a domain name", entry);
        return -1;
    }
    return emit(im, key, store_key_domain(name, (size_t)len, key), l);
}

int import_line(struct importer *im, const char *line, char *err, size_t errlen)
{
    char buf[IMPORT_LINE_MAX];
    size_t len = strlen(line);
    if (len >= sizeof buf) {
        snprintf(err, errlen, "line longer than %d characters", IMPORT_LINE_MAX - 1);
        return -1;
    }
    memcpy(buf, line, len + 1);
    while (len && isspace((unsigned char)buf[len - 1]))
        buf[--len] = '\0';
    char *p = buf;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p || *p == '#' || *p == ';')
        return 0;
    if (*p == '$') {
        im->directives++;
        return 0;
    }
    uint32_t code;
    const char *text;
    size_t text_len;
    if (*p == ':') {    /* a new default value */
        if (parse_value(im, p, &code, &text, &text_len, err, errlen) < 0)
            return -1;
        im->default_code = code;
        memmove(im->default_text, text, text_len);
        im->default_text[text_len] = '\0';
        return 0;
    }
    char *entry = p;
    p += strcspn(p, " \t");
    if (*p) {
        *p++ = '\0';
        while (isspace((unsigned char)*p))
            p++;
    }
    if (parse_value(im, p, &code, &text, &text_len, err, errlen) < 0)
        return -1;
    struct listing l = { .flags = LISTING_MANUAL, .nreasons = 1, .since = im->now };
    l.reasons[0] = (struct reason){ code, im->expires, (uint8_t)text_len, text };
    if (*entry == '!') {
        l.flags |= LISTING_ALLOW;
        l.reasons[0].code = 0;
        entry++;
    }
    if (im->zone->kind == ZONE_IP)
        return import_ip(im, entry, &l, err, errlen);
    return import_name(im, entry, &l, err, errlen);
}

int import_file(struct importer *im, FILE *f, const char *name, char *err, size_t errlen)
{
    char line[IMPORT_LINE_MAX + 2], why[512];
    while (fgets(line, sizeof line, f)) {
        im->lines++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (len > IMPORT_LINE_MAX - 1 && !feof(f))
            len = IMPORT_LINE_MAX;  /* fgets stopped short of the newline: too long */
        if (len > IMPORT_LINE_MAX - 1) {
            snprintf(err, errlen, "%s:%zu: line longer than %d characters", name, im->lines, IMPORT_LINE_MAX - 1);
            return -1;
        }
        if (import_line(im, line, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%zu: %s", name, im->lines, why);
            return -1;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", name);
        return -1;
    }
    return 0;
}

static int entry_cmp(const void *a, const void *b, void *arena)
{
    const struct import_entry *x = a, *y = b;
    const uint8_t *base = arena;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(base + x->key_off, base + y->key_off, n);
    if (c == 0)
        c = (int)x->key_len - (int)y->key_len;
    if (c == 0)
        c = x->seq < y->seq ? -1 : 1;
    return c;
}

static int same_key(const struct importer *im, const struct import_entry *a, const struct import_entry *b)
{
    return a->key_len == b->key_len && !memcmp(im->arena + a->key_off, im->arena + b->key_off, a->key_len);
}

/* May the sorted keys be appended after what the zone holds already? */
static int can_append(MDB_txn *txn, MDB_dbi dbi, const struct importer *im)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (im->n == 0 || mdb_cursor_open(txn, dbi, &c) != 0)
        return 0;
    int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 1;
    const struct import_entry *first = &im->entries[0];
    size_t n = k.mv_size < first->key_len ? k.mv_size : first->key_len;
    int cmp = memcmp(k.mv_data, im->arena + first->key_off, n);
    return rc == 0 && (cmp < 0 || (cmp == 0 && k.mv_size < first->key_len));
}

int import_commit(struct importer *im, struct store *st, int replace, size_t *written, char *err, size_t errlen)
{
    struct store_txn w;
    *written = 0;
    if (im->n)
        qsort_r(im->entries, im->n, sizeof *im->entries, entry_cmp, im->arena);
    size_t kept = 0;    /* of equal keys, the last line wins */
    for (size_t i = 0; i < im->n; i++) {
        if (i + 1 < im->n && same_key(im, &im->entries[i], &im->entries[i + 1]))
            continue;
        im->entries[kept++] = im->entries[i];
    }
    im->n = kept;
    int rc = store_write_begin(st, &w);
    if (rc != 0) {
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        return -1;
    }
    if (replace && (rc = store_clear_zone(&w, im->zone->dbi)) != 0) {
        store_write_abort(&w);
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        return -1;
    }
    unsigned flags = can_append(w.txn, im->zone->dbi, im) ? MDB_APPEND : 0;
    for (size_t i = 0; i < im->n && rc == 0; i++) {
        const struct import_entry *e = &im->entries[i];
        struct listing l;
        if (listing_decode(im->arena + e->val_off, e->val_len, &l) < 0)
            rc = MDB_CORRUPTED;
        else
            rc = store_put(&w, im->zone->dbi, im->arena + e->key_off, e->key_len, &l, flags);
    }
    if (rc != 0) {
        store_write_abort(&w);
        snprintf(err, errlen, "store: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = store_write_commit(&w, im->now)) != 0) {
        snprintf(err, errlen, "store: commit: %s", mdb_strerror(rc));
        return -1;
    }
    *written = im->n;
    return 0;
}
