/* logline.c - see logline.h. Hand-written: it runs on every line, and each form is a fixed layout. */
#include "logline.h"

#include <string.h>

void logtime_init(struct logtime *lt, time_t now)
{
    memset(lt, 0, sizeof *lt);
    lt->now = now;
}

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (unsigned)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|+HHMM); returns the length consumed or -1. */
static int parse_rfc3339(const char *p, size_t len, int64_t *out, struct logtime *lt)
{
    if (len < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') || p[13] != ':' || p[16] != ':')
        return -1;
    int64_t base;
    if (lt->cached_len == 19 && !memcmp(lt->cached, p, 19)) {
        base = lt->cached_value;
    } else {
        int y = digits(p, 4), mo = digits(p + 5, 2), d = digits(p + 8, 2);
        int h = digits(p + 11, 2), mi = digits(p + 14, 2), s = digits(p + 17, 2);
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
            return -1;
        base = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
        memcpy(lt->cached, p, 19);
        lt->cached_len = 19;
        lt->cached_value = base;
    }
    size_t i = 19;
    if (i < len && p[i] == '.')
        for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++)
            ;
    if (i < len && p[i] == 'Z') {
        *out = base;
        return (int)i + 1;
    }
    if (i + 5 > len || (p[i] != '+' && p[i] != '-'))
        return -1;
    int oh = digits(p + i + 1, 2), om;
    size_t end;
    if (p[i + 3] == ':') {
        if (i + 6 > len)
            return -1;
        om = digits(p + i + 4, 2);
        end = i + 6;
    } else {
        om = digits(p + i + 3, 2);
        end = i + 5;
    }
    if (oh < 0 || om < 0 || oh > 14 || om > 59)
        return -1;
    int64_t off = oh * 3600 + om * 60;
    *out = p[i] == '+' ? base - off : base + off;
    return (int)end;
}

/* "Nov 22 15:04:35" or "Nov  2 15:04:35" (local time, no year); returns 15 or -1. */
static int parse_rfc3164(const char *p, size_t len, int64_t *out, struct logtime *lt)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (len < 16 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':' || p[15] != ' ')
        return -1;
    if (lt->cached_len == 15 && !memcmp(lt->cached, p, 15)) {
        *out = lt->cached_value;
        return 15;
    }
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (!memcmp(p, months + 3 * i, 3))
            mon = i;
    int d = p[4] == ' ' ? digits(p + 5, 1) : digits(p + 4, 2);
    int h = digits(p + 7, 2), mi = digits(p + 10, 2), s = digits(p + 13, 2);
    if (mon < 0 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
        return -1;
    struct tm now_tm, tm;
    localtime_r(&lt->now, &now_tm);
    memset(&tm, 0, sizeof tm);
    tm.tm_year = now_tm.tm_year;
    tm.tm_mon = mon;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t > lt->now + 86400) {              /* December's lines read in January */
        tm.tm_year--;
        tm.tm_isdst = -1;
        t = mktime(&tm);
    } else if (t < lt->now - 300 * 86400) { /* January's lines read on New Year's Eve (clock skew) */
        tm.tm_year++;
        tm.tm_isdst = -1;
        t = mktime(&tm);
    }
    memcpy(lt->cached, p, 15);
    lt->cached_len = 15;
    lt->cached_value = t;
    *out = t;
    return 15;
}

static size_t token(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] != ' ')
        i++;
    return i;
}

/* "prog[pid]: text", "prog: text" (RFC 3164 tag) */
static int parse_tag(const char *p, size_t len, struct logline *out)
{
    size_t i = 0;
    while (i < len && p[i] != '[' && p[i] != ':' && p[i] != ' ')
        i++;
    if (i == 0 || i == len)
        return -1;
    out->prog = p;
    out->prog_len = i;
    if (p[i] == '[') {
        const char *close = memchr(p + i, ']', len - i);
        if (!close)
            return -1;
        i = (size_t)(close - p) + 1;
    }
    if (i >= len || p[i] != ':')
        return -1;
    i++;
    if (i < len && p[i] == ' ')
        i++;
    out->msg = p + i;
    out->msg_len = len - i;
    return 0;
}

/* A relay that cut "postfix/smtpd[1]" at the '/' leaves "/smtpd[1]: text" in the message. */
static void join_cut_tag(struct logline *out)
{
    const char *m = out->msg;
    size_t n = out->msg_len, i = 1;
    if (n < 3 || m[0] != '/')
        return;
    while (i < n && m[i] != '[' && m[i] != ':' && m[i] != ' ')
        i++;
    struct logline rest = *out;
    if (parse_tag(m, n, &rest) < 0)
        return;
    out->prog2 = m;
    out->prog2_len = i;
    out->msg = rest.msg;
    out->msg_len = rest.msg_len;
}

/* RFC 5424 after "<PRI>1 ": TIMESTAMP HOST APP PROCID MSGID SD MSG */
static int parse_rfc5424(const char *p, size_t len, struct logline *out, struct logtime *lt)
{
    const char *f[5];
    size_t flen[5], pos = 0;
    int n = parse_rfc3339(p, len, &out->time, lt);
    if (n < 0)
        return -1;
    pos = (size_t)n;
    for (int i = 0; i < 5; i++) {
        if (pos >= len || p[pos] != ' ')
            return -1;
        pos++;
        f[i] = p + pos;
        flen[i] = token(p + pos, len - pos);
        pos += flen[i];
    }
    /* f: host, app, procid, msgid, structured data (only "-" or one bracketed element run) */
    if (flen[4] && f[4][0] == '[') {
        const char *sd_end = f[4];
        while (sd_end < p + len && *sd_end == '[') {
            const char *close = sd_end;
            while (close < p + len && *close != ']')
                close += (*close == '\\' && close + 1 < p + len) ? 2 : 1;
            if (close >= p + len)
                return -1;
            sd_end = close + 1;
        }
        pos = (size_t)(sd_end - p);
    }
    if (pos < len && p[pos] == ' ')
        pos++;
    if (len - pos >= 3 && !memcmp(p + pos, "\xef\xbb\xbf", 3))
        pos += 3;
    out->host = f[0];
    out->host_len = flen[0];
    out->prog = f[1];
    out->prog_len = flen[1];
    out->msg = p + pos;
    out->msg_len = len - pos;
    join_cut_tag(out);
    return 0;
}

int logline_parse(const char *line, size_t len, struct logline *out, struct logtime *lt)
{
    out->prog2 = NULL;
    out->prog2_len = 0;
    if (len && line[0] == '<') {    /* network syslog: <PRI> */
        size_t i = 1;
        while (i < len && i < 5 && line[i] >= '0' && line[i] <= '9')
            i++;
        if (i == 1 || i >= len || line[i] != '>')
            return -1;
        line += i + 1;
        len -= i + 1;
        if (len > 2 && line[0] == '1' && line[1] == ' ')
            return parse_rfc5424(line + 2, len - 2, out, lt);
    }
    int n = (len > 4 && line[4] == '-') ? parse_rfc3339(line, len, &out->time, lt)
                                        : parse_rfc3164(line, len, &out->time, lt);
    if (n < 0 || (size_t)n >= len || line[n] != ' ')
        return -1;
    size_t pos = (size_t)n + 1;
    out->host = line + pos;
    out->host_len = token(line + pos, len - pos);
    pos += out->host_len + 1;
    if (out->host_len == 0 || pos >= len || parse_tag(line + pos, len - pos, out) < 0)
        return -1;
    join_cut_tag(out);
    return 0;
}
