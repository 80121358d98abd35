/* parse_dovecot.c - Dovecot 2.3 and 2.4 login lines:
 *   imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.1, lip=..., mpid=..., session=<...>
 *   imap-login: Logged in: user=<alice>, ...                                           (2.4)
 *   imap-login: Disconnected: Connection closed (auth failed, 3 attempts in 6 secs): user=<bob>, ..., rip=...
 *   pop3-login: Login aborted: ... (auth failed, 3 attempts in 6 secs) (auth_failed): user=<bob>, ... (2.4)
 *   imap-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<bob>, ...   (older 2.x)  */
#include <string.h>

#include "event.h"

static int field(const char *p, size_t n, const char *name, const char **val, size_t *len, char stop)
{
    const char *f = find(p, n, name);
    if (!f)
        return -1;
    f += strlen(name);
    const char *end = f;
    while (end < p + n && *end != stop && *end != ',' && (stop != '>' || *end != ' '))
        end++;
    *val = f;
    *len = (size_t)(end - f);
    return 0;
}

enum event_type parse_dovecot(const char *p, size_t n, struct event *ev)
{
    const char *colon = memchr(p, ':', n < 32 ? n : 32);
    if (!colon || colon - p < 7 || memcmp(colon - 6, "-login", 6) != 0)
        return EV_NONE;     /* only the login processes say who logged in and from where */
    const char *rest = colon + 2;
    size_t rn = (size_t)(p + n - rest);
    if (colon + 2 > p + n)
        return EV_NONE;
    const char *rip, *user;
    size_t rip_len, user_len;
    if (field(rest, rn, "rip=", &rip, &rip_len, ',') < 0 || parse_ip_token(rip, rip_len, &ev->ip) < 0)
        return EV_NONE;
    ev->has_ip = 1;
    if (field(rest, rn, "user=<", &user, &user_len, '>') == 0 && user_len > 0) {
        ev->user = user;
        ev->user_len = user_len;
    }
    if ((rn >= 7 && !memcmp(rest, "Login: ", 7)) || (rn >= 11 && !memcmp(rest, "Logged in: ", 11)))
        return ev->user ? EV_LOGIN : EV_NONE;
    const char *failed = find(rest, rn, "(auth failed, ");
    if (!failed)
        return EV_NONE;
    uint32_t attempts = 0;
    for (const char *d = failed + 14; d < p + n && *d >= '0' && *d <= '9' && attempts < 100000; d++)
        attempts = attempts * 10 + (uint32_t)(*d - '0');
    ev->n1 = attempts ? attempts : 1;
    return EV_AUTH_FAIL;
}
