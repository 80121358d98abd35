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

#define SYSLOG_MAX_CONNS 256
#define SYSLOG_LOG_GATES 64

/* Why a TCP connection was refused at accept, or closed by the feeder (metric labels). */
enum syslog_refusal { SYSLOG_REFUSED_NOT_ALLOWED, SYSLOG_REFUSED_SLOTS_FULL, SYSLOG_REFUSALS };
enum syslog_closing { SYSLOG_CLOSED_IDLE, SYSLOG_CLOSED_PER_SOURCE_CAP, SYSLOG_CLOSED_EVICTED,
                      SYSLOG_CLOSED_BAD_FRAMING, SYSLOG_CLOSINGS };

struct syslog_conn {
    struct syslog_source *s;
    struct bufferevent *bev;
    struct ipaddr peer;
    int64_t active_ms;          /* monotonic time of the last bytes received (or of the accept) */
    int slot;                   /* index in s->conns */
};

/* At most one log line per sender and minute about refusals and evictions; the rest are counted. */
struct syslog_log_gate {
    struct ipaddr peer;
    int64_t last_ms;
    uint64_t quiet;             /* refusals not logged since last_ms */
};

struct syslog_source {
    struct feeder *f;
    struct event_base *base;
    struct ipnet allow[SYSLOG_MAX_ALLOW];
    int nallow;
    int idle_timeout_s;         /* close TCP connections silent this long (0: never) */
    int max_per_source;         /* TCP connections per sender address */
    struct event *udp[SYSLOG_MAX_LISTEN];
    uint32_t udp_drops_seen[SYSLOG_MAX_LISTEN];     /* the kernel's SO_RXQ_OVFL count per socket */
    struct evconnlistener *tcp[SYSLOG_MAX_LISTEN];
    int nudp, ntcp;
    uint64_t received;          /* messages fed */
    uint64_t dropped_peer;      /* UDP datagrams from senders outside --allow-from */
    uint64_t kernel_drops;      /* UDP datagrams the kernel dropped (receive buffer full) */
    uint64_t tcp_accepted, tcp_refused[SYSLOG_REFUSALS], tcp_closed[SYSLOG_CLOSINGS];
    struct syslog_conn *conns[SYSLOG_MAX_CONNS];    /* open TCP connections, freed at close */
    int nconns;
    struct syslog_log_gate gates[SYSLOG_LOG_GATES]; /* by a hash of the sender's address */
    int64_t log_window_ms;      /* and at most SYSLOG_LOG_BUDGET lines a minute in all */
    int log_lines;
    int *dirty;                 /* set when a message was fed: the caller commits */
};

int syslog_listen_udp(struct syslog_source *s, const char *addr, char *err, size_t errlen);
int syslog_listen_tcp(struct syslog_source *s, const char *addr, char *err, size_t errlen);
void syslog_close(struct syslog_source *s);

#endif
