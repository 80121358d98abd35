/* zone.c - see zone.h. The DNS data of the apex always goes through ldns: inline SOA/NS settings are
 * turned into zone-file lines and parsed exactly as an apex file would be, so both spellings give the
 * same records and the same error messages. */
#include "zone.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "store.h"

#define ZONE_MAX_NS 8

struct zone_parse {
    struct zone *z;
    unsigned seen;              /* bit per scalar key of [zone], to catch duplicates */
    int in_zone, saw_zone;
    int kind_done;              /* rule defaults were set for the zone's kind */
    int in_policy;              /* reading [policy] */
    struct zone_code *code;     /* the [code] section being read */
    char ns[ZONE_MAX_NS][256];
    int nns;
    char mname[256], rname[256], apex_file[256], default_code[32];
    uint32_t refresh, retry, expire;
    int have_negative_ttl;
};

const char *zone_kind_name(enum zone_kind kind)
{
    switch (kind) {
    case ZONE_IP: return "ip";
    case ZONE_DOMAIN: return "domain";
    case ZONE_ACCOUNT: return "account";
    }
    return "?";
}

static int check_template(const char *t, char *err, size_t errlen)
{
    static const char *const names[] = { "{reason}", "{addr}", "{zone}", "{code}" };
    for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{')) {
        size_t i;
        for (i = 0; i < sizeof names / sizeof *names; i++)
            if (!strncmp(p, names[i], strlen(names[i])))
                break;
        if (i == sizeof names / sizeof *names) {
            snprintf(err, errlen, "txt: unknown placeholder at '%.20s' (use {reason} {addr} {zone} {code})", p);
            return -1;
        }
    }
    return 0;
}

static int set_string(char *dst, size_t cap, const char *key, const char *value, char *err, size_t errlen)
{
    if (strlen(value) >= cap) {
        snprintf(err, errlen, "%s: longer than %zu characters", key, cap - 1);
        return -1;
    }
    strcpy(dst, value);
    return 0;
}

static int zone_key(struct zone_parse *ps, const char *key, const char *value, char *err, size_t errlen)
{
    static const char *const scalars[] = { "name", "kind", "ttl", "negative-ttl", "soa-mname",
        "soa-rname", "soa-refresh", "soa-retry", "soa-expire", "apex-file", "txt", "test-points",
        "default-code" };
    struct zone *z = ps->z;
    for (unsigned i = 0; i < sizeof scalars / sizeof *scalars; i++) {
        if (strcmp(key, scalars[i]))
            continue;
        if (ps->seen & (1u << i)) {
            snprintf(err, errlen, "duplicate key '%s'", key);
            return -1;
        }
        ps->seen |= 1u << i;
    }
    if (!strcmp(key, "name")) {
        if (domain_normalize(value, z->name, sizeof z->name) < 0) {
            snprintf(err, errlen, "name: '%s' is not a domain name", value);
            return -1;
        }
    } else if (!strcmp(key, "kind")) {
        if (!strcmp(value, "ip")) z->kind = ZONE_IP;
        else if (!strcmp(value, "domain")) z->kind = ZONE_DOMAIN;
        else if (!strcmp(value, "account")) z->kind = ZONE_ACCOUNT;
        else {
            snprintf(err, errlen, "kind: '%s' is not ip, domain or account", value);
            return -1;
        }
    } else if (!strcmp(key, "ttl") || !strcmp(key, "negative-ttl") || !strcmp(key, "soa-refresh") ||
               !strcmp(key, "soa-retry") || !strcmp(key, "soa-expire")) {
        uint32_t v;
        if (conf_duration(value, &v) < 0 || v > 0x7fffffff) {
            snprintf(err, errlen, "%s: '%s' is not a duration (e.g. 300, 5m, 1h)", key, value);
            return -1;
        }
        if (!strcmp(key, "ttl")) z->ttl = v;
        else if (!strcmp(key, "negative-ttl")) { z->negative_ttl = v; ps->have_negative_ttl = 1; }
        else if (!strcmp(key, "soa-refresh")) ps->refresh = v;
        else if (!strcmp(key, "soa-retry")) ps->retry = v;
        else ps->expire = v;
    } else if (!strcmp(key, "ns")) {
        if (ps->nns == ZONE_MAX_NS) {
            snprintf(err, errlen, "ns: at most %d", ZONE_MAX_NS);
            return -1;
        }
        return set_string(ps->ns[ps->nns++], sizeof ps->ns[0], key, value, err, errlen);
    } else if (!strcmp(key, "soa-mname")) {
        return set_string(ps->mname, sizeof ps->mname, key, value, err, errlen);
    } else if (!strcmp(key, "soa-rname")) {
        return set_string(ps->rname, sizeof ps->rname, key, value, err, errlen);
    } else if (!strcmp(key, "apex-file")) {
        return set_string(ps->apex_file, sizeof ps->apex_file, key, value, err, errlen);
    } else if (!strcmp(key, "default-code")) {
        return set_string(ps->default_code, sizeof ps->default_code, key, value, err, errlen);
    } else if (!strcmp(key, "txt")) {
        if (set_string(z->txt, sizeof z->txt, key, value, err, errlen) < 0)
            return -1;
        return check_template(z->txt, err, errlen);
    } else if (!strcmp(key, "test-points")) {
        if (conf_bool(value, &z->test_points) < 0) {
            snprintf(err, errlen, "test-points: '%s' is not yes or no", value);
            return -1;
        }
    } else {
        int rc;
        if (zone_xfr_key(z, key, value, &rc, err, errlen))
            return rc;
        snprintf(err, errlen, "unknown key '%s' in [zone]", key);
        return -1;
    }
    return 0;
}

static int code_section(struct zone_parse *ps, const char *arg, char *err, size_t errlen)
{
    struct zone *z = ps->z;
    struct in_addr in;
    if (inet_pton(AF_INET, arg, &in) != 1) {
        snprintf(err, errlen, "[code %s]: want an IPv4 address such as 127.0.0.2", arg);
        return -1;
    }
    uint32_t addr = ntohl(in.s_addr);
    if ((addr >> 24) != 127 || addr == 0x7f000001) {
        snprintf(err, errlen, "[code %s]: return codes live in 127.0.0.0/8 and 127.0.0.1 is reserved (RFC 5782)", arg);
        return -1;
    }
    if (zone_code_by_addr(z, addr)) {
        snprintf(err, errlen, "[code %s]: defined twice", arg);
        return -1;
    }
    if (z->ncodes == ZONE_MAX_CODES) {
        snprintf(err, errlen, "at most %d codes per zone", ZONE_MAX_CODES);
        return -1;
    }
    ps->code = &z->codes[z->ncodes++];
    memset(ps->code, 0, sizeof *ps->code);
    ps->code->addr = addr;
    return 0;
}

static int code_key(struct zone_parse *ps, const char *key, const char *value, char *err, size_t errlen)
{
    struct zone_code *c = ps->code;
    if (!strcmp(key, "name")) {
        if (!*value || value[strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789-_")]) {
            snprintf(err, errlen, "name: '%s': use lower-case letters, digits, '-' and '_'", value);
            return -1;
        }
        if (zone_find_code(ps->z, value)) {
            snprintf(err, errlen, "name: '%s' is already the name of another code", value);
            return -1;
        }
        return set_string(c->name, sizeof c->name, key, value, err, errlen);
    }
    if (!strcmp(key, "meaning"))
        return set_string(c->meaning, sizeof c->meaning, key, value, err, errlen);
    snprintf(err, errlen, "unknown key '%s' in [code]", key);
    return -1;
}

static int on_line(void *ud, const char *section, const char *arg, const char *key, const char *value,
                   char *err, size_t errlen)
{
    struct zone_parse *ps = ud;
    if (!key) {     /* a section starts */
        ps->in_zone = !strcmp(section, "zone");
        ps->in_policy = !strcmp(section, "policy");
        ps->code = NULL;
        if (ps->in_policy) {
            if (*arg) {
                snprintf(err, errlen, "[policy] takes no argument");
                return -1;
            }
            return 0;
        }
        if (ps->in_zone) {
            if (ps->saw_zone || *arg) {
                snprintf(err, errlen, ps->saw_zone ? "second [zone] section" : "[zone] takes no argument");
                return -1;
            }
            ps->saw_zone = 1;
            return 0;
        }
        if (!strcmp(section, "code"))
            return code_section(ps, arg, err, errlen);
        if (!strcmp(section, "rule") || !strcmp(section, "allow") || !strcmp(section, "listing")) {
            if (!ps->saw_zone) {
                snprintf(err, errlen, "[%s] before [zone]: the zone's kind decides which rules apply", section);
                return -1;
            }
            if (!ps->kind_done) {
                rules_defaults(ps->z);
                ps->kind_done = 1;
            }
            return rules_section(ps->z, section, arg, err, errlen);
        }
        snprintf(err, errlen, "unknown section [%s] (want [zone], [code ADDRESS], [rule KIND], [allow], [listing], [policy])", section);
        return -1;
    }
    if (ps->in_zone)
        return zone_key(ps, key, value, err, errlen);
    if (ps->in_policy)
        return zone_policy_key(ps->z, key, value, err, errlen);
    if (!strcmp(section, "code"))
        return code_key(ps, key, value, err, errlen);
    return rules_key(ps->z, section, arg, key, value, err, errlen);
}

/* Copies an ldns record into the zone's table; checks that it belongs to the zone. */
static int add_rr(struct zone *z, ldns_rr *rr, const ldns_rdf *origin, char *err, size_t errlen)
{
    ldns_rdf *owner = ldns_rr_owner(rr);
    ldns_dname2canonical(owner);
    if (ldns_dname_compare(owner, origin) != 0 && !ldns_dname_is_subdomain(owner, origin)) {
        char *s = ldns_rdf2str(owner);
        snprintf(err, errlen, "record owner %s is outside the zone", s ? s : "?");
        free(s);
        return -1;
    }
    ldns_buffer *buf = ldns_buffer_new(512);
    if (!buf || ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK || ldns_buffer_position(buf) > 65535) {
        ldns_buffer_free(buf);
        snprintf(err, errlen, "cannot encode a record");
        return -1;
    }
    struct zone_rr *grown = realloc(z->rrs, (size_t)(z->nrrs + 1) * sizeof *z->rrs);
    if (!grown) {
        ldns_buffer_free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    z->rrs = grown;
    struct zone_rr *out = &z->rrs[z->nrrs];
    memset(out, 0, sizeof *out);
    out->owner_len = (uint8_t)ldns_rdf_size(owner);
    memcpy(out->owner, ldns_rdf_data(owner), out->owner_len);
    out->type = ldns_rr_get_type(rr);
    out->ttl = ldns_rr_ttl(rr);
    out->rdlen = (uint16_t)ldns_buffer_position(buf);
    out->rdata = malloc(out->rdlen ? out->rdlen : 1);
    if (!out->rdata) {
        ldns_buffer_free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(out->rdata, ldns_buffer_begin(buf), out->rdlen);
    ldns_buffer_free(buf);
    if (out->type == LDNS_RR_TYPE_SOA) {
        if (z->soa >= 0 || ldns_dname_compare(owner, origin) != 0) {
            snprintf(err, errlen, z->soa >= 0 ? "more than one SOA" : "SOA not at the zone apex");
            free(out->rdata);
            return -1;
        }
        z->soa = z->nrrs;
    }
    z->nrrs++;
    return 0;
}

static int apex_from_file(struct zone *z, const char *dir, const char *file, const ldns_rdf *origin,
                          char *err, size_t errlen)
{
    char path[1024], why[400];
    snprintf(path, sizeof path, "%s%s%s", file[0] == '/' ? "" : dir, file[0] == '/' ? "" : "/", file);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "apex-file %s: %s", path, strerror(errno));
        return -1;
    }
    ldns_zone *lz = NULL;
    int line = 0;
    ldns_status s = ldns_zone_new_frm_fp_l(&lz, f, origin, z->ttl, LDNS_RR_CLASS_IN, &line);
    fclose(f);
    if (s != LDNS_STATUS_OK) {
        snprintf(err, errlen, "apex-file %s:%d: %s", path, line, ldns_get_errorstr_by_id(s));
        return -1;
    }
    int rc = 0;
    if (ldns_zone_soa(lz))
        rc = add_rr(z, ldns_zone_soa(lz), origin, why, sizeof why);
    for (size_t i = 0; rc == 0 && i < ldns_zone_rr_count(lz); i++)
        rc = add_rr(z, ldns_rr_list_rr(ldns_zone_rrs(lz), i), origin, why, sizeof why);
    ldns_zone_deep_free(lz);
    if (rc < 0)
        snprintf(err, errlen, "apex-file %s: %s", path, why);
    return rc;
}

static int rr_from_text(struct zone *z, const char *text, const ldns_rdf *origin, char *err, size_t errlen)
{
    ldns_rr *rr = NULL;
    ldns_status s = ldns_rr_new_frm_str(&rr, text, z->ttl, origin, NULL);
    if (s != LDNS_STATUS_OK) {
        snprintf(err, errlen, "'%s': %s", text, ldns_get_errorstr_by_id(s));
        return -1;
    }
    int rc = add_rr(z, rr, origin, err, errlen);
    ldns_rr_free(rr);
    return rc;
}

static int build_apex(struct zone *z, struct zone_parse *ps, const char *dir, char *err, size_t errlen)
{
    char text[1400];
    ldns_rdf *origin = ldns_dname_new_frm_str(z->name);
    if (!origin || ldns_rdf_size(origin) > sizeof z->wire) {
        ldns_rdf_deep_free(origin);
        snprintf(err, errlen, "name: cannot encode '%s'", z->name);
        return -1;
    }
    ldns_dname2canonical(origin);
    z->wire_len = (uint8_t)ldns_rdf_size(origin);
    memcpy(z->wire, ldns_rdf_data(origin), z->wire_len);
    z->nlabels = (uint8_t)ldns_dname_label_count(origin);
    int rc = 0;
    if (ps->apex_file[0]) {
        if (ps->nns || ps->mname[0] || ps->rname[0]) {
            snprintf(err, errlen, "apex-file and ns/soa-* settings exclude each other");
            rc = -1;
        } else {
            rc = apex_from_file(z, dir, ps->apex_file, origin, err, errlen);
        }
    } else if (ps->nns == 0) {
        snprintf(err, errlen, "no 'ns' (or 'apex-file') in [zone]");
        rc = -1;
    } else {
        /* Names without a trailing dot are relative to the zone, as in a zone file. */
        snprintf(text, sizeof text, "@ %u IN SOA %s %s 1 %u %u %u %u", z->ttl,
                 ps->mname[0] ? ps->mname : ps->ns[0], ps->rname[0] ? ps->rname : "hostmaster",
                 ps->refresh, ps->retry, ps->expire, z->negative_ttl);
        rc = rr_from_text(z, text, origin, err, errlen);
        for (int i = 0; rc == 0 && i < ps->nns; i++) {
            snprintf(text, sizeof text, "@ %u IN NS %s", z->ttl, ps->ns[i]);
            rc = rr_from_text(z, text, origin, err, errlen);
        }
    }
    if (rc == 0 && z->soa < 0) {
        snprintf(err, errlen, "apex-file has no SOA record");
        rc = -1;
    }
    if (rc == 0 && !ps->have_negative_ttl) {    /* RFC 2308: the SOA MINIMUM field */
        const struct zone_rr *soa = &z->rrs[z->soa];
        const uint8_t *m = soa->rdata + soa->rdlen - 4;
        z->negative_ttl = (uint32_t)m[0] << 24 | m[1] << 16 | m[2] << 8 | m[3];
    }
    ldns_rdf_deep_free(origin);
    return rc;
}

static int finish_zone(struct zone *z, struct zone_parse *ps, const char *dir, char *err, size_t errlen)
{
    if (!ps->saw_zone || !z->name[0]) {
        snprintf(err, errlen, "no [zone] section with a 'name'");
        return -1;
    }
    if (!(ps->seen & 2)) {
        snprintf(err, errlen, "no 'kind' in [zone] (ip, domain or account)");
        return -1;
    }
    if (z->ncodes == 0) {
        snprintf(err, errlen, "no [code ADDRESS] section: a zone needs at least one return code");
        return -1;
    }
    for (int i = 0; i < z->ncodes; i++) {
        if (!z->codes[i].meaning[0]) {
            snprintf(err, errlen, "[code] %u.%u.%u.%u has no 'meaning'", z->codes[i].addr >> 24,
                     (z->codes[i].addr >> 16) & 255, (z->codes[i].addr >> 8) & 255, z->codes[i].addr & 255);
            return -1;
        }
    }
    if (!ps->kind_done)
        rules_defaults(z);
    if (rules_finish(z, err, errlen) < 0 || zone_policy_finish(z, err, errlen) < 0)
        return -1;
    if (ps->default_code[0]) {
        const struct zone_code *c = zone_find_code(z, ps->default_code);
        if (!c) {
            snprintf(err, errlen, "default-code '%s' is not one of the zone's codes", ps->default_code);
            return -1;
        }
        z->default_code = (int)(c - z->codes);
    }
    return build_apex(z, ps, dir, err, errlen);
}

static void zone_release(struct zone *z)
{
    rules_release(z);
    for (int i = 0; i < z->nrrs; i++)
        free(z->rrs[i].rdata);
    free(z->rrs);
    z->rrs = NULL;
    z->nrrs = 0;
}

static int load_one(const char *dir, const char *file, struct zone *z, char *err, size_t errlen)
{
    struct zone_parse ps;
    char why[600];
    memset(&ps, 0, sizeof ps);
    memset(z, 0, sizeof *z);
    z->ttl = 300;
    z->negative_ttl = 60;
    z->test_points = 1;
    z->soa = -1;
    snprintf(z->txt, sizeof z->txt, "{reason}");
    ps.refresh = 3600;
    ps.retry = 600;
    ps.expire = 604800;
    ps.z = z;
    snprintf(z->file, sizeof z->file, "%s/%s", dir, file);
    if (conf_parse_file(z->file, on_line, &ps, err, errlen) < 0) {
        zone_release(z);
        return -1;
    }
    if (finish_zone(z, &ps, dir, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", z->file, why);
        zone_release(z);
        return -1;
    }
    return 0;
}

static int conf_name_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

int zoneset_load(const char *dir, struct zoneset *out, char *err, size_t errlen)
{
    struct dirent **names;
    out->zones = NULL;
    out->n = 0;
    int n = scandir(dir, &names, conf_name_filter, alphasort);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (n == 0 || n > ZONESET_MAX) {
        snprintf(err, errlen, n ? "%s: more than %d zone files" : "%s: no zone files (*.conf)", dir,
                 ZONESET_MAX);
        rc = -1;
    } else if (!(out->zones = calloc((size_t)n, sizeof *out->zones))) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0 && (rc = load_one(dir, names[i]->d_name, &out->zones[out->n], err, errlen)) == 0) {
            if (zoneset_find(out, out->zones[out->n].name)) {
                snprintf(err, errlen, "%s: zone %s is already defined by another file",
                         out->zones[out->n].file, out->zones[out->n].name);
                zone_release(&out->zones[out->n]);
                rc = -1;
            } else {
                out->n++;
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc < 0)
        zoneset_free(out);
    return rc;
}

void zoneset_free(struct zoneset *zs)
{
    for (int i = 0; i < zs->n; i++)
        zone_release(&zs->zones[i]);
    free(zs->zones);
    zs->zones = NULL;
    zs->n = 0;
}

int zoneset_bind(struct zoneset *zs, struct store *st, char *err, size_t errlen)
{
    for (int i = 0; i < zs->n; i++)
        if (store_zone_dbi(st, zs->zones[i].name, &zs->zones[i].dbi, err, errlen) < 0 ||
            store_journal_configure(st, zs->zones[i].dbi, zs->zones[i].xfr.journal_age,
                                    zs->zones[i].xfr.journal_size, err, errlen) < 0)
            return -1;
    return 0;
}

struct zone *zoneset_find(const struct zoneset *zs, const char *name)
{
    char norm[DOMAIN_MAX + 1];
    if (domain_normalize(name, norm, sizeof norm) < 0)
        return NULL;
    for (int i = 0; i < zs->n; i++)
        if (!strcmp(zs->zones[i].name, norm))
            return &zs->zones[i];
    return NULL;
}

const struct zone_code *zone_code_by_addr(const struct zone *z, uint32_t addr)
{
    for (int i = 0; i < z->ncodes; i++)
        if (z->codes[i].addr == addr)
            return &z->codes[i];
    return NULL;
}

const struct zone_code *zone_find_code(const struct zone *z, const char *name_or_addr)
{
    struct in_addr in;
    if (inet_pton(AF_INET, name_or_addr, &in) == 1)
        return zone_code_by_addr(z, ntohl(in.s_addr));
    for (int i = 0; i < z->ncodes; i++)
        if (z->codes[i].name[0] && !strcmp(z->codes[i].name, name_or_addr))
            return &z->codes[i];
    return NULL;
}
