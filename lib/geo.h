/* geo.h - the country of an address, from a MaxMind DB file (libmaxminddb). */
#ifndef DNSBL_GEO_H
#define DNSBL_GEO_H

#include <stddef.h>

#include "addr.h"

struct geo;

struct geo *geo_open(const char *path, char *err, size_t errlen);
void geo_close(struct geo *g);
/* The ISO 3166 code in upper case, or "--" when unknown (or g is NULL). */
void geo_country(struct geo *g, const struct ipaddr *a, char cc[2]);

#endif
