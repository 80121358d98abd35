/* policy-load.c - load generator for scripts/bench-policy: CONNS connections to a policy endpoint on
 * 127.0.0.1, each closed-loop (send one request, wait for its reply, send the next), for SECONDS;
 * prints requests/s and latency percentiles. Requests come from a file of blocks separated by a line
 * "%%" (taken round-robin, per connection from a different start).
 *
 *   policy-load postfix|dovecot PORT CONNS SECONDS REQUESTS-FILE
 *
 * postfix: a block is the attribute lines; the request is the block and an empty line, the reply
 * ends at "\n\n". dovecot: a block is the JSON body, POSTed to /?command=allow with HTTP/1.1
 * keep-alive; the reply ends after Content-Length bytes of body. Output, one line:
 *   requests N seconds S rps R p50_us A p99_us B max_us C refused F errors E */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_REQS 100000
#define LAT_MAX 20000000

struct conn {
    int fd;
    size_t next;            /* request index */
    double sent;            /* when the request went out */
    char in[8192];
    size_t inlen;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Whole replies at the start of c->in: how many bytes the first one takes, 0 if incomplete. */
static size_t reply_len(int http, const char *buf, size_t len, int *refused)
{
    if (!http) {
        const char *end = memmem(buf, len, "\n\n", 2);
        if (!end)
            return 0;
        *refused = !memmem(buf, (size_t)(end - buf), "action=DUNNO", 12);
        return (size_t)(end - buf) + 2;
    }
    const char *hend = memmem(buf, len, "\r\n\r\n", 4);
    if (!hend)
        return 0;
    const char *cl = memmem(buf, (size_t)(hend - buf), "Content-Length: ", 16);
    size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0, total = (size_t)(hend - buf) + 4 + body;
    if (total > len)
        return 0;
    *refused = !memmem(hend, body + 4, "\"status\":0", 10);
    return total;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: policy-load postfix|dovecot PORT CONNS SECONDS REQUESTS-FILE\n");
        return 2;
    }
    int http = !strcmp(argv[1], "dovecot"), port = atoi(argv[2]), nconn = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if (nconn < 1 || nconn > MAX_CONNS || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "policy-load: CONNS 1..%d, SECONDS 0..600\n", MAX_CONNS);
        return 2;
    }
    FILE *f = fopen(argv[5], "r");
    if (!f) {
        perror(argv[5]);
        return 2;
    }
    static char *reqs[MAX_REQS];
    static size_t rlen[MAX_REQS];
    size_t nreq = 0;
    char line[4096], block[4096];
    size_t bl = 0;
    for (int eof = 0; !eof && nreq < MAX_REQS;) {
        eof = !fgets(line, sizeof line, f);
        if (!eof && strcmp(line, "%%\n")) {
            size_t n = strlen(line);
            if (bl + n < sizeof block)
                memcpy(block + bl, line, n), bl += n;
            continue;
        }
        if (!bl)
            continue;
        char *r = malloc(bl + 256);
        if (http) {
            while (bl && block[bl - 1] == '\n')
                bl--;
            rlen[nreq] = (size_t)sprintf(r, "POST /?command=allow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
                                         bl, (int)bl, block);
        } else {
            memcpy(r, block, bl);
            r[bl] = '\n';
            rlen[nreq] = bl + 1;
        }
        reqs[nreq++] = r;
        bl = 0;
    }
    fclose(f);
    if (!nreq) {
        fprintf(stderr, "policy-load: no requests in %s\n", argv[5]);
        return 2;
    }
    uint32_t *lat = malloc(LAT_MAX * sizeof *lat);
    size_t nlat = 0, refused = 0, errors = 0;
    static struct conn conns[MAX_CONNS];
    int ep = epoll_create1(0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    double start = now(), end = start + seconds;
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        int one = 1;
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            perror("connect");
            return 1;
        }
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->next = (size_t)i * (nreq / (size_t)nconn + 1) % nreq;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        c->sent = now();
        if (write(c->fd, reqs[c->next], rlen[c->next]) != (ssize_t)rlen[c->next])
            errors++;
    }
    struct epoll_event evs[MAX_CONNS];
    int live = nconn;
    while (live > 0) {
        int n = epoll_wait(ep, evs, MAX_CONNS, 1000);
        double t = now();
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            ssize_t got = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
            if (got <= 0) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                live--;
                continue;
            }
            c->inlen += (size_t)got;
            int ref = 0;
            size_t used = reply_len(http, c->in, c->inlen, &ref);
            if (!used)
                continue;
            memmove(c->in, c->in + used, c->inlen - used);
            c->inlen -= used;
            if (nlat < LAT_MAX)
                lat[nlat++] = (uint32_t)((t - c->sent) * 1e6);
            refused += (size_t)ref;
            if (t >= end) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                live--;
                continue;
            }
            c->next = (c->next + 1) % nreq;
            c->sent = t;
            if (write(c->fd, reqs[c->next], rlen[c->next]) != (ssize_t)rlen[c->next])
                errors++;
        }
        if (now() > end + 10)
            break;      /* replies that never come: stop anyway */
    }
    double took = now() - start;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    printf("requests %zu seconds %.2f rps %.0f p50_us %u p99_us %u max_us %u refused %zu errors %zu\n", nlat, took,
           nlat / took, nlat ? lat[nlat / 2] : 0, nlat ? lat[nlat * 99 / 100] : 0, nlat ? lat[nlat - 1] : 0, refused,
           errors);
    return errors ? 1 : 0;
}
