/* conf.h - the plain configuration format of zone files: "[section arg]" and "key = value" lines.
 *
 * '#' or ';' at the start of a line (after blanks) begins a comment; there are no inline comments, so
 * a TXT template may hold any character. The parser reports the first bad line as "FILE:LINE: why". */
#ifndef DNSBL_CONF_H
#define DNSBL_CONF_H

#include <stddef.h>
#include <stdint.h>

/* Called with key == NULL when a section starts. Returns 0, or -1 with a reason in err. */
typedef int (*conf_handler)(void *ud, const char *section, const char *arg, const char *key,
                            const char *value, char *err, size_t errlen);

int conf_parse_file(const char *path, conf_handler fn, void *ud, char *err, size_t errlen);

/* Value helpers: 0 on success, -1 when the text is not of that type. */
int conf_uint(const char *s, uint32_t max, uint32_t *out);
int conf_bool(const char *s, int *out);
/* "90", "90s", "10m", "1h", "2d", "1w"; "0" or "never" is 0. */
int conf_duration(const char *s, uint32_t *out);

#endif
