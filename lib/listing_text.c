/* listing_text.c - see listing_text.h. */
#include "listing_text.h"

#include <stdio.h>
#include <string.h>

uint32_t listing_ttl(const struct zone *z, const struct listing *l, uint32_t now)
{
    uint32_t until = listing_next_expiry(l, now);
    if (until == 0 || until - now >= z->ttl)
        return z->ttl;
    return until > now ? until - now : 1;
}

static size_t append(char *out, size_t pos, size_t cap, const char *s, size_t n)
{
    if (pos + n >= cap)
        n = pos < cap - 1 ? cap - 1 - pos : 0;
    memcpy(out + pos, s, n);
    return pos + n;
}

static size_t expand_reasons(const struct zone *z, const struct listing *l, uint32_t now, char *out,
                             size_t pos, size_t cap)
{
    int first = 1;
    for (int i = 0; i < l->nreasons; i++) {
        const struct reason *rs = &l->reasons[i];
        if (!reason_live(rs, now))
            continue;
        const char *text = rs->text;
        size_t len = rs->text_len;
        if (!len) {
            const struct zone_code *c = zone_code_by_addr(z, rs->code);
            text = c ? c->meaning : "listed";
            len = strlen(text);
        }
        if (!first && pos + 2 + len >= cap)
            break;      /* past the TXT cap: whole reasons only (the first always shows) */
        if (!first)
            pos = append(out, pos, cap, "; ", 2);
        first = 0;
        pos = append(out, pos, cap, text, len);
    }
    return pos;
}

size_t listing_txt(const struct zone *z, const struct listing *l, uint32_t now, const char *subject,
                   char *out, size_t cap)
{
    size_t pos = 0;
    for (const char *t = z->txt; *t;) {
        char code[16];
        if (!strncmp(t, "{reason}", 8)) {
            pos = expand_reasons(z, l, now, out, pos, cap);
            t += 8;
        } else if (!strncmp(t, "{addr}", 6)) {
            pos = append(out, pos, cap, subject, strlen(subject));
            t += 6;
        } else if (!strncmp(t, "{zone}", 6)) {
            pos = append(out, pos, cap, z->name, strlen(z->name));
            t += 6;
        } else if (!strncmp(t, "{code}", 6)) {
            uint32_t c = 0;
            for (int i = 0; i < l->nreasons && !c; i++)
                if (reason_live(&l->reasons[i], now))
                    c = l->reasons[i].code;
            int n = snprintf(code, sizeof code, "%u.%u.%u.%u", c >> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255);
            pos = append(out, pos, cap, code, (size_t)n);
            t += 6;
        } else {
            pos = append(out, pos, cap, t, 1);
            t++;
        }
    }
    return pos;
}
