/* log.h - one line per event, to stderr or syslog.
 *
 * The logger is the one piece of process-wide mutable state in the shared code: every module calls
 * log_msg() and log_open() decides, once, where the lines go. */
#ifndef DNSBL_LOG_H
#define DNSBL_LOG_H

#include <syslog.h>

void log_open(const char *ident, int to_syslog, int verbose);
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
