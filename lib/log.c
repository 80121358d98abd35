/* log.c - see log.h. Lines carry an ISO 8601 UTC time stamp on stderr; syslog adds its own. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct {
    const char *ident;
    int to_syslog;
    int verbose;
} logger = { "dnsbl", 0, 0 };

void log_open(const char *ident, int to_syslog, int verbose)
{
    logger.ident = ident;
    logger.to_syslog = to_syslog;
    logger.verbose = verbose;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_msg(int priority, const char *fmt, ...)
{
    if (priority == LOG_DEBUG && !logger.verbose)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (logger.to_syslog) {
        syslog(priority, "%s", line);
        return;
    }
    static const char *const names[] = { "emerg", "alert", "crit", "error",
                                         "warning", "notice", "info", "debug" };
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s %s[%s]: %s\n", stamp, logger.ident, names[priority & 7], line);
}
