/* feeder_testutil.h - what the feeder's Criterion tests share: feeding one formatted log line. */
#ifndef DNSBL_FEEDER_TESTUTIL_H
#define DNSBL_FEEDER_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "feeder.h"

/* One log line of host mx1 at time t: "2026-11-22T15:04:35Z mx1 " + the formatted rest. */
__attribute__((format(printf, 3, 4))) static inline void feed_at(struct feeder *f, uint32_t t, const char *fmt, ...)
{
    char buf[1024];
    struct tm tm;
    time_t tt = t;
    gmtime_r(&tt, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ mx1 ", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    feed_line(f, buf, strlen(buf));
}

#endif
