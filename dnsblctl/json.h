/* json.h - a small JSON writer for dnsblctl --json: objects, arrays, strings, numbers, to a FILE. */
#ifndef DNSBL_JSON_H
#define DNSBL_JSON_H

#include <stdint.h>
#include <stdio.h>

struct json {
    FILE *out;
    int depth;
    int first[32];      /* no comma needed yet at this depth */
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j, const char *key);    /* key NULL inside arrays / at the top */
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *value);
void json_stringn(struct json *j, const char *key, const char *value, size_t len);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);

#endif
