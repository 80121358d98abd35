/* json.c - see json.h. Strings are escaped per RFC 8259; output is one document, no pretty-printing. */
#include "json.h"

#include <string.h>

void json_init(struct json *j, FILE *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
    j->first[0] = 1;
}

static void escaped(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void member(struct json *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->out);
    j->first[j->depth] = 0;
    if (key) {
        escaped(j->out, key, strlen(key));
        fputc(':', j->out);
    }
}

static void open(struct json *j, const char *key, char c)
{
    member(j, key);
    fputc(c, j->out);
    if (j->depth < 31)
        j->first[++j->depth] = 1;
}

static void close_(struct json *j, char c)
{
    fputc(c, j->out);
    if (j->depth > 0)
        j->depth--;
    if (j->depth == 0)
        fputc('\n', j->out);
}

void json_begin_object(struct json *j, const char *key) { open(j, key, '{'); }
void json_end_object(struct json *j) { close_(j, '}'); }
void json_begin_array(struct json *j, const char *key) { open(j, key, '['); }
void json_end_array(struct json *j) { close_(j, ']'); }

void json_stringn(struct json *j, const char *key, const char *value, size_t len)
{
    member(j, key);
    escaped(j->out, value, len);
}

void json_string(struct json *j, const char *key, const char *value)
{
    json_stringn(j, key, value, strlen(value));
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
    member(j, key);
    fprintf(j->out, "%llu", (unsigned long long)value);
}

void json_bool(struct json *j, const char *key, int value)
{
    member(j, key);
    fputs(value ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
    member(j, key);
    fputs("null", j->out);
}
