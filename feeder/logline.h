/* logline.h - the syslog envelope of one log line: time stamp, host, program tag, message.
 *
 * Accepted forms (each optionally behind a network "<PRI>"):
 *   RFC 3339       2026-11-22T15:04:35.796819+00:00 mx1 postfix/smtpd[123]: text   (rsyslog default)
 *   short-iso      2026-11-22T15:04:35+0000 mx1 ...          (journalctl -o short-iso[-precise])
 *   RFC 3164       Nov 22 15:04:35 mx1 postfix/smtpd[123]: text  (day padded with a space; local time;
 *                  also journalctl -o short and Postfix's maillog_file)
 *   RFC 5424       <22>1 2026-11-22T15:04:35.79Z mx1 postfix/smtpd 123 - - text
 * A tag cut at '/' by a relay ("postfix: /smtpd[123]: text") is joined back together. */
#ifndef FEEDER_LOGLINE_H
#define FEEDER_LOGLINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct logline {
    int64_t time;           /* unix seconds */
    const char *host;
    size_t host_len;
    const char *prog;       /* "postfix/submission/smtpd", "dovecot" */
    size_t prog_len;
    const char *prog2;      /* the part a relay cut off ("/smtpd"), else NULL */
    size_t prog2_len;
    const char *msg;
    size_t msg_len;
};

/* Year inference for RFC 3164 and a one-entry cache of the last time stamp's seconds. */
struct logtime {
    time_t now;             /* RFC 3164 stamps more than a day ahead of this are last year's */
    char cached[20];
    size_t cached_len;
    int64_t cached_value;
};

void logtime_init(struct logtime *lt, time_t now);
/* 0, or -1 when the line has no recognisable envelope. */
int logline_parse(const char *line, size_t len, struct logline *out, struct logtime *lt);

#endif
