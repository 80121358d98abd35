/* fuzz_logline.c - libFuzzer target for everything a log line goes through: the syslog envelope,
 * the Postfix and Dovecot parsers, and the feeder's joins, counters and rules on a real store.
 * Input: one or more lines separated by newlines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "feeder.h"
#include "logline.h"

static struct feeder f;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    if (!ready) {
        char dir[] = "/tmp/fuzz-logline.XXXXXX";
        const char *zones = getenv("DNSBL_ZONES") ? getenv("DNSBL_ZONES") : "zones";
        if (!mkdtemp(dir) || feeder_open(&f, dir, zones, NULL, 0, err, sizeof err) < 0) {
            fprintf(stderr, "fuzz setup: %s\n", err);
            abort();
        }
        ready = 1;
    }
    /* every line alone through the parsers, from an exact-size copy so that overreads show */
    const uint8_t *p = data, *end = data + size;
    while (p <= end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        char *line = malloc(len ? len : 1);
        memcpy(line, p, len);
        struct logline l;
        struct event ev;
        if (logline_parse(line, len, &l, &f.logtime) == 0)
            parse_event(&l, &ev);
        feed_line(&f, line, len);
        free(line);
        if (!nl)
            break;
        p = nl + 1;
    }
    if (f.stats.lines % 4096 == 0 && feeder_commit(&f, NULL, NULL) < 0)
        abort();
    return 0;
}
