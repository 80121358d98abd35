/* conf.c - see conf.h. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_LINE_MAX 4096

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* "[name]" or "[name arg]" */
static int parse_section(char *line, char *section, size_t scap, char *arg, size_t acap)
{
    size_t len = strlen(line);
    if (line[len - 1] != ']')
        return -1;
    line[len - 1] = '\0';
    char *body = trim(line + 1);
    char *space = body + strcspn(body, " \t");
    char *rest = *space ? trim(space + 1) : space;
    *space = '\0';
    if (!*body || strlen(body) >= scap || strlen(rest) >= acap)
        return -1;
    for (char *c = body; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            return -1;
    strcpy(section, body);
    strcpy(arg, rest);
    return 0;
}

static int parse_line(char *line, char *section, char *arg, conf_handler fn, void *ud,
                      char *why, size_t whylen)
{
    line = trim(line);
    if (!*line || *line == '#' || *line == ';')
        return 0;
    if (*line == '[') {
        if (parse_section(line, section, 64, arg, 256) < 0) {
            snprintf(why, whylen, "bad section header (want [name] or [name argument])");
            return -1;
        }
        return fn(ud, section, arg, NULL, NULL, why, whylen);
    }
    char *eq = strchr(line, '=');
    if (!eq) {
        snprintf(why, whylen, "expected 'key = value'");
        return -1;
    }
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (!*key || key[strcspn(key, " \t")]) {
        snprintf(why, whylen, "bad key '%s'", key);
        return -1;
    }
    if (!*section) {
        snprintf(why, whylen, "'%s' outside any [section]", key);
        return -1;
    }
    return fn(ud, section, arg, key, value, why, whylen);
}

int conf_parse_file(const char *path, conf_handler fn, void *ud, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[CONF_LINE_MAX + 2], section[64] = "", arg[256] = "", why[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (len > CONF_LINE_MAX && !feof(f))
            len = CONF_LINE_MAX + 1;
        if (len > CONF_LINE_MAX) {
            snprintf(err, errlen, "%s:%d: line longer than %d characters", path, lineno, CONF_LINE_MAX);
            rc = -1;
            break;
        }
        why[0] = '\0';
        if (parse_line(line, section, arg, fn, ud, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    return rc;
}

int conf_uint(const char *s, uint32_t max, uint32_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int conf_bool(const char *s, int *out)
{
    if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

int conf_duration(const char *s, uint32_t *out)
{
    if (!strcmp(s, "never")) {
        *out = 0;
        return 0;
    }
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = 1;
    switch (*end) {
    case '\0': case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return -1;
    }
    if (*end && end[1])
        return -1;
    if (errno || v > UINT32_MAX / unit)
        return -1;
    *out = (uint32_t)(v * unit);
    return 0;
}
