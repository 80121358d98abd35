/* policy_dovecot.c - see policy_dovecot.h. The body is parsed by jansson, after a linear scan has
 * bounded its nesting (jansson's own limit is 2048 levels of recursion). */
#include "policy_dovecot.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

int dv_command(const char *query, enum dv_command *out, const char **why)
{
    int found = 0;
    for (const char *p = query ? query : ""; *p;) {
        size_t n = strcspn(p, "&");
        if (n >= 8 && !memcmp(p, "command=", 8)) {
            if (found++) {
                *why = "command given twice";
                return -1;
            }
            if (n == 13 && !memcmp(p + 8, "allow", 5)) *out = DV_ALLOW;
            else if (n == 14 && !memcmp(p + 8, "report", 6)) *out = DV_REPORT;
            else {
                *why = "command is not allow or report";
                return -1;
            }
        }
        p += n + (p[n] == '&');
    }
    if (!found)
        *why = "no command= in the URL";
    return found ? 0 : -1;
}

/* Nesting of objects and arrays outside strings; bytes after a bad nesting do not matter, jansson
 * rejects them. */
static int depth_ok(const char *s, size_t len, int max)
{
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

int dv_parse(const char *body, size_t len, struct dv_request *rq, const char **why)
{
    memset(rq, 0, sizeof *rq);
    if (len > DV_BODY_MAX) {
        *why = "request body too large";
        return -1;
    }
    if (!depth_ok(body, len, DV_DEPTH_MAX)) {
        *why = "JSON nested too deeply";
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = -1;
    if (!root) {
        *why = "not JSON";
        return -1;
    }
    json_t *login = json_object_get(root, "login"), *remote = json_object_get(root, "remote");
    if (!json_is_object(root))
        *why = "not a JSON object";
    else if ((login && !json_is_string(login)) || (remote && !json_is_string(remote)))
        *why = "login and remote must be strings";
    else
        rc = 0;
    if (rc == 0 && login && json_string_length(login) <= POLICY_ACCOUNT_MAX &&
        !memchr(json_string_value(login), '\0', json_string_length(login))) {
        rq->login_len = json_string_length(login);
        memcpy(rq->login, json_string_value(login), rq->login_len);
    }
    if (rc == 0 && remote && addr_parse(json_string_value(remote), &rq->remote) == 0) {
        addr_unmap_v4(&rq->remote);
        rq->have_remote = 1;
    }
    json_decref(root);
    return rc;
}

void dv_question(const struct dv_request *rq, struct policy_request *q)
{
    memset(q, 0, sizeof *q);
    q->service = POLICY_LOGIN;
    q->have_client = rq->have_remote;
    q->client = rq->remote;
    q->account = rq->login;
    q->account_len = rq->login_len;
}

static size_t dump(json_t *obj, char *out, size_t cap)
{
    size_t n = obj ? json_dumpb(obj, out, cap - 1, JSON_COMPACT) : 0;
    json_decref(obj);
    if (n == 0 || n >= cap)
        return 0;
    out[n] = '\0';
    return n;
}

size_t dv_reply(const struct policy_verdict *v, char *out, size_t cap)
{
    int status = v->action == POLICY_PERMIT ? 0 : v->action == POLICY_TARPIT ? (int)v->delay : -1;
    /* msg must be valid UTF-8 for jansson; a reason is ASCII unless an operator wrote otherwise */
    json_t *obj = status ? json_pack("{s:i,s:s}", "status", status, "msg", v->text) : json_pack("{s:i}", "status", 0);
    if (!obj && status)
        obj = json_pack("{s:i,s:s}", "status", status, "msg", "refused by policy");
    return dump(obj, out, cap);
}

size_t dv_reply_report(char *out, size_t cap)
{
    return dump(json_pack("{s:i}", "status", 0), out, cap);
}

int dv_key_matches(const char *want, const char *got)
{
    size_t wl = strlen(want), gl = strlen(got);
    unsigned diff = wl != gl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < gl ? got[i] : 0);
    return diff == 0;
}
