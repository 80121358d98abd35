/* parse_dovecot.c - Dovecot 2.3 and 2.4 login lines:
 *   imap-login: Login: user=<alice>, method=PLAIN, rip=192.0.2.1, lip=..., mpid=..., session=<...>
 *   imap-login: Logged in: user=<alice>, ...                                           (2.4)
 *   imap-login: Disconnected: Connection closed (auth failed, 3 attempts in 6 secs): user=<bob>, ..., rip=...
 *   pop3-login: Login aborted: ... (auth failed, 3 attempts in 6 secs) (auth_failed): user=<bob>, ... (2.4)
 *   imap-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<bob>, ...   (older 2.x)
 *
 * The line is "STATUS: ITEMS" (login_log_format "%$: %s"): STATUS is Dovecot's, ITEMS the
 * login_log_format_elements joined with ", ". The username is logged as the client typed it (only
 * control characters replaced, cut at 80), so "user=<...>" may hold '>', ", " and "rip=": it is read
 * as one unit, and nothing is looked for inside it. With the default elements (user before rip)
 * everything after the username up to "rip=" is Dovecot's, so the client address is the last "rip="
 * item and the username ends at the last ">, " before it. */
#include <string.h>

#include "event.h"

#define STARTS(p, n, lit) ((n) >= sizeof(lit) - 1 && !memcmp((p), (lit), sizeof(lit) - 1))

/* An item "KEY=" at s: at the start of the item list or after a ", " or ": " separator. */
static int item_at(const char *list, const char *s)
{
    return s == list || (s - list >= 2 && (s[-2] == ',' || s[-2] == ':') && s[-1] == ' ');
}

/* The first item "key=" in [p, end), or NULL. */
static const char *first_item(const char *list, const char *p, const char *end, const char *key)
{
    size_t klen = strlen(key);
    for (const char *s = p; (s = memmem(s, (size_t)(end - s), key, klen)) != NULL; s++)
        if (item_at(list, s))
            return s;
    return NULL;
}

/* The last item "key=" in [p, end), or NULL. */
static const char *last_item(const char *list, const char *p, const char *end, const char *key)
{
    const char *last = NULL;
    for (const char *s = p; (s = first_item(list, s, end, key)) != NULL; s++)
        last = s;
    return last;
}

/* The username that starts at u: up to the last ">, " before the rip item when rip follows it,
 * else up to the first '>' that ends an item. Returns its end. */
static const char *user_end(const char *u, const char *rip, const char *end)
{
    if (rip && rip > u) {
        for (const char *s = rip - 2; s > u; s--)
            if (s[-1] == '>' && s[0] == ',' && s[1] == ' ')
                return s - 1;
        return NULL;
    }
    for (const char *s = u; (s = memchr(s, '>', (size_t)(end - s))) != NULL; s++)
        if (s + 1 == end || (s + 2 < end && s[1] == ',' && s[2] == ' '))
            return s;
    return NULL;
}

/* "(auth failed, N attempts" in Dovecot's STATUS text of a disconnect: N, or 0 if it is not one. */
static uint32_t failed_attempts(const char *status, size_t n)
{
    if (!STARTS(status, n, "Disconnected") && !STARTS(status, n, "Login aborted") && !STARTS(status, n, "Aborted login"))
        return 0;
    const char *failed = parse_find(status, n, "(auth failed, ");
    if (!failed)
        return 0;
    uint32_t attempts = 0;
    for (const char *d = failed + 14; d < status + n && *d >= '0' && *d <= '9' && attempts < 100000; d++)
        attempts = attempts * 10 + (uint32_t)(*d - '0');
    return attempts ? attempts : 1;
}

enum event_type parse_dovecot(const char *p, size_t n, struct event *ev)
{
    const char *colon = memchr(p, ':', n < 32 ? n : 32);
    if (!colon || colon - p < 7 || memcmp(colon - 6, "-login", 6) != 0 || colon + 2 > p + n)
        return EV_NONE;     /* only the login processes say who logged in and from where */
    const char *rest = colon + 2, *end = p + n;
    /* Everything before the first user item is Dovecot's: the status and any items it logs first. */
    const char *user = first_item(rest, rest, end, "user=<");
    const char *head_end = user ? user : end;
    const char *rip = first_item(rest, rest, head_end, "rip=");
    if (!rip && user)
        rip = last_item(rest, user + 6, end, "rip=");
    if (!rip)
        return EV_NONE;
    const char *rip_end = rip + 4;
    while (rip_end < end && *rip_end != ',')
        rip_end++;
    if (parse_ip_exact(rip + 4, (size_t)(rip_end - rip - 4), &ev->ip) < 0)
        return EV_NONE;
    ev->has_ip = 1;
    const char *uend = user ? user_end(user + 6, rip, end) : NULL;
    if (uend && uend > user + 6) {
        ev->user = user + 6;
        ev->user_len = (size_t)(uend - user - 6);
    }
    size_t status_len = (size_t)(head_end - rest);
    if (STARTS(rest, status_len, "Login: ") || STARTS(rest, status_len, "Logged in: "))
        return ev->user ? EV_LOGIN : EV_NONE;
    ev->n1 = failed_attempts(rest, status_len);
    return ev->n1 ? EV_AUTH_FAIL : EV_NONE;
}
