/* source.h - where lines come from: followed log files (with positions stored in the store) and
 * syslog over UDP and TCP. Every complete line goes to feed_line(). */
#ifndef FEEDER_SOURCE_H
#define FEEDER_SOURCE_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "feeder.h"

#define FP_MAX 64

struct file_source {
    char path[4096];
    int fd;                     /* -1 when the file does not exist (yet) */
    dev_t dev;
    ino_t ino;
    uint64_t consumed;          /* file offset just past the last complete line fed */
    char *buf;                  /* bytes read from `consumed` on: a partial last line */
    size_t len, cap;
    uint8_t fp[FP_MAX];         /* the file's first bytes: tells a rotated file from the one we read */
    uint32_t fp_len;
    int draining;               /* reading a rotated-away file to its end before the new one */
    int is_stdin;
};

/* Opens a file at its stored position (or its start), or stdin for "-". */
int file_source_open(struct file_source *s, const char *path, struct feeder *f, char *err, size_t errlen);
void file_source_close(struct file_source *s);
/* Feeds what has been appended, up to about `budget` bytes; handles rotation. Returns the bytes
 * read, 0 at the end of the data for now, -1 on a read error (stdin: end of input is -2). */
long file_source_poll(struct file_source *s, struct feeder *f, size_t budget);
/* Stores the position in the caller's transaction (the one that holds the counters). */
int file_source_save(struct file_source *s, MDB_txn *txn, MDB_dbi meta);

#define SYSLOG_MAX_ALLOW 64
#define SYSLOG_MAX_LISTEN 8

struct syslog_source {
    struct feeder *f;
    struct event_base *base;
    struct ipnet allow[SYSLOG_MAX_ALLOW];
    int nallow;
    struct event *udp[SYSLOG_MAX_LISTEN];
    struct evconnlistener *tcp[SYSLOG_MAX_LISTEN];
    int nudp, ntcp;
    uint64_t received, dropped_peer, oversized, tcp_conns;
    struct bufferevent *conns[256];     /* open TCP connections, freed at close */
    int nconns;
    int *dirty;                 /* set when a message was fed: the caller commits */
};

int syslog_listen_udp(struct syslog_source *s, const char *addr, char *err, size_t errlen);
int syslog_listen_tcp(struct syslog_source *s, const char *addr, char *err, size_t errlen);
void syslog_close(struct syslog_source *s);

#endif
