/* geo.c - see geo.h. Looks up country.iso_code, as GeoLite2-Country, GeoIP2-City and DB-IP write it. */
#include "geo.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct geo {
    MMDB_s db;
};

struct geo *geo_open(const char *path, char *err, size_t errlen)
{
    struct geo *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &g->db);
    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "%s: %s", path, MMDB_strerror(rc));
        free(g);
        return NULL;
    }
    return g;
}

void geo_close(struct geo *g)
{
    if (!g)
        return;
    MMDB_close(&g->db);
    free(g);
}

void geo_country(struct geo *g, const struct ipaddr *a, char cc[2])
{
    cc[0] = cc[1] = '-';
    if (!g)
        return;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (a->family == ADDR_V4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->bytes, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->bytes, 16);
    }
    int mmdb_err;
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr(&g->db, (struct sockaddr *)&ss, &mmdb_err);
    if (mmdb_err != MMDB_SUCCESS || !res.found_entry)
        return;
    MMDB_entry_data_s data;
    if (MMDB_get_value(&res.entry, &data, "country", "iso_code", NULL) != MMDB_SUCCESS ||
        !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2)
        return;
    cc[0] = (char)(data.utf8_string[0] & ~0x20);
    cc[1] = (char)(data.utf8_string[1] & ~0x20);
}
