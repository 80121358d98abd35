/* line-shapes.c - which log lines the feeder's parsers recognise (benchmark helper, not project code).
 *
 * Reads a log on stdin, runs every line through the feeder's own logline_parse() and parse_event(),
 * and prints per event type the number of lines, then the most common shapes of the lines that gave
 * no event ("skipped") or did not parse ("unparsable"). A shape is the program name and the first
 * words of the message with digits, hex queue IDs and addresses folded.
 * Built by scripts/bench-feeder into build/bench/line-shapes:
 *   cc -O2 -D_GNU_SOURCE -Ilib -Ifeeder scripts/line-shapes.c feeder/logline.c feeder/parse.c feeder/parse_util.c \
 *      feeder/parse_postfix.c feeder/parse_dovecot.c lib/addr.c -lldns -o build/bench/line-shapes
 * usage: line-shapes [TOP] < FILE */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "logline.h"

#define SHAPES 4096
#define SHAPE_LEN 96

struct shape { char s[SHAPE_LEN]; unsigned long n; int unparsed; };
static struct shape shapes[SHAPES];
static int nshapes;

static void fold(const char *prog, size_t plen, const char *msg, size_t mlen, char *out)
{
    size_t o = 0;
    o += (size_t)snprintf(out, SHAPE_LEN, "%.*s: ", (int)(plen > 30 ? 30 : plen), prog);
    for (size_t i = 0; i < mlen && o < SHAPE_LEN - 2; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (isalnum(c) && (i == 0 || !isalnum((unsigned char)msg[i - 1]))) {  /* numbers, queue IDs */
            size_t j = i;
            int digit = 0;
            while (j < mlen && (isdigit((unsigned char)msg[j]) || isupper((unsigned char)msg[j]) || msg[j] == '.' ||
                                msg[j] == '/')) {
                digit |= isdigit((unsigned char)msg[j]);
                j++;
            }
            if (digit && (j == mlen || !isalpha((unsigned char)msg[j]))) {
                out[o++] = '#';
                i = j - 1;
                continue;
            }
            /* host names with digits: mx.d123.example.com */
            int dot = 0;
            for (j = i, digit = 0; j < mlen && (isalnum((unsigned char)msg[j]) || msg[j] == '.' || msg[j] == '-'); j++) {
                digit |= isdigit((unsigned char)msg[j]);
                dot |= msg[j] == '.';
            }
            if (digit && dot) {
                out[o++] = '#';
                i = j - 1;
                continue;
            }
        }
        if (c == '[' || c == '<' || c == '(') {     /* fold bracketed values */
            char close = c == '[' ? ']' : c == '<' ? '>' : ')';
            const char *e = memchr(msg + i, close, mlen - i);
            if (e && e - (msg + i) < 60) {
                out[o++] = (char)c;
                out[o++] = '_';
                if (o < SHAPE_LEN - 2)
                    out[o++] = close;
                i = (size_t)(e - msg);
                continue;
            }
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void add_shape(const char *s, int unparsed)
{
    for (int i = 0; i < nshapes; i++)
        if (shapes[i].unparsed == unparsed && !strcmp(shapes[i].s, s)) {
            shapes[i].n++;
            return;
        }
    if (nshapes == SHAPES)
        return;
    snprintf(shapes[nshapes].s, SHAPE_LEN, "%s", s);
    shapes[nshapes].n = 1;
    shapes[nshapes++].unparsed = unparsed;
}

static int by_count(const void *a, const void *b)
{
    const struct shape *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->s, y->s);
}

int main(int argc, char **argv)
{
    int top = argc > 1 ? atoi(argv[1]) : 25;
    unsigned long counts[EV_TYPES] = { 0 }, lines = 0, unparsed = 0;
    struct logtime lt;
    logtime_init(&lt, time(NULL));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            n--;
        lines++;
        struct logline l;
        struct event ev;
        char s[SHAPE_LEN];
        if (logline_parse(line, (size_t)n, &l, &lt) < 0) {
            unparsed++;
            fold("?", 1, line, (size_t)n > 60 ? 60 : (size_t)n, s);
            add_shape(s, 1);
            continue;
        }
        enum event_type t = parse_event(&l, &ev);
        counts[t]++;
        if (t == EV_NONE) {
            fold(l.prog2 ? l.prog2 : l.prog, l.prog2 ? l.prog2_len : l.prog_len, l.msg, l.msg_len, s);
            add_shape(s, 0);
        }
    }
    free(line);
    printf("%lu lines, %lu unparsable\n", lines, unparsed);
    for (int i = 0; i < EV_TYPES; i++)
        if (counts[i])
            printf("  %-16s %10lu  %5.1f%%\n", i ? event_type_name((enum event_type)i) : "skipped (none)",
                   counts[i], 100.0 * (double)counts[i] / (double)(lines ? lines : 1));
    qsort(shapes, (size_t)nshapes, sizeof *shapes, by_count);
    printf("most common shapes of skipped/unparsable lines:\n");
    for (int i = 0; i < nshapes && i < top; i++)
        printf("  %9lu %s %s\n", shapes[i].n, shapes[i].unparsed ? "UNPARSABLE" : "skipped   ", shapes[i].s);
    return 0;
}
