/* fuzz_import.c - libFuzzer target for the rbldnsd data parser (dnsblctl import): any line, for an IP
 * zone and a domain zone, must parse or be refused with a message, never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct zoneset zones;
    static int loaded;
    char err[512], line[8192];
    if (!loaded) {
        const char *zdir = getenv("DNSBL_ZONES") ? getenv("DNSBL_ZONES") : "zones";
        if (zoneset_load(zdir, &zones, err, sizeof err) < 0) {
            fprintf(stderr, "fuzz setup: %s\n", err);
            abort();
        }
        loaded = 1;
    }
    if (size >= sizeof line)
        size = sizeof line - 1;
    memcpy(line, data, size);
    line[size] = '\0';
    for (int i = 0; i < zones.n; i++) {
        struct importer im;
        importer_init(&im, &zones.zones[i], 1000, 0);
        err[0] = '\0';
        if (import_line(&im, line, err, sizeof err) < 0 && !err[0])
            abort();    /* a refusal must say why */
        importer_free(&im);
    }
    return 0;
}
