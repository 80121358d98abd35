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
#define FILE_KNOWN_MAX 1024     /* distinct files (dev, inode, first bytes) one run keeps positions for */
#define FILE_QUEUE_MAX 32       /* rotated siblings to finish before the file at the name */
#define FILE_SOURCES_MAX 64     /* names one run follows (feeder's MAX_FILES) */

/* One file, whatever name it is read under: (device, inode) plus its first bytes, and how far its
 * lines were fed. A gzip file's offset and first bytes are those of its decompressed data. */
struct file_pos {
    uint64_t dev, ino;
    uint64_t offset;            /* just past the last complete line fed */
    uint64_t size;              /* the largest size seen: what a loss is measured against */
    uint32_t fp_len;
    uint8_t fp[FP_MAX];
    uint8_t eof;                /* a rotated file read to its end */
    const struct file_source *reader;   /* the one source reading it now; NULL when none */
};

/* An open file and its partial last line. */
struct file_reader {
    int fd;                     /* -1: closed */
    void *gz;                   /* gzFile when reading a compressed rotated file */
    struct file_pos *pos;       /* in the file set */
    char *buf;
    size_t len;
    int64_t last_data_ms;       /* when bytes last came: a renamed file is let go after the grace */
    char name[4096];            /* the name it was opened under, for the log */
    char *real;                 /* its real path (a symlink's target), stored with the name's position */
};

struct file_queued { char name[4096]; uint64_t start; int gz; };

struct file_source {
    char path[4096];            /* the name as given */
    char canon[4096];           /* absolute, directories resolved: the key of the stored position */
    struct file_set *set;
    struct file_reader cur;     /* the file at the name, or a rotated file being finished first */
    struct file_reader old;     /* a renamed file drained until quiet for the grace period */
    struct file_queued *queue;  /* rotated files to read before the one at the name, oldest first */
    int nqueue, iqueue;
    const struct file_pos *dup_pos;     /* the name points at a file another name reads */
    int cur_queued;             /* cur is a queued rotated file, not the file at the name */
    int legacy_key;             /* the position came from the old "source:PATH-AS-GIVEN" key */
    uint64_t duplicates;        /* times the name was found to point at a file read under another */
    uint64_t lost_bytes;        /* bytes known to be lost (truncated or deleted before they were read) */
    int is_stdin;
};

/* Every followed file of one run: positions by (device, inode, first bytes), shared by all names. */
struct file_set {
    struct feeder *f;
    struct file_pos known[FILE_KNOWN_MAX];
    int nknown;
    int grace_ms;               /* how long a renamed file must be quiet before it is let go */
    struct file_source *sources[FILE_SOURCES_MAX];
    int nsources;
    int pruned;                 /* old stored positions dropped (once per run) */
};

void file_set_init(struct file_set *set, struct feeder *f, int grace_ms);
/* Opens a name at its stored position (or its start), or stdin for "-"; finds the rotated files to
 * finish first. */
int file_source_open(struct file_source *s, struct file_set *set, const char *path, char *err, size_t errlen);
void file_source_close(struct file_source *s);
/* Feeds what has been appended, up to about `budget` bytes; handles rotation. Returns the bytes
 * read, 0 at the end of the data for now, -1 on a read error (stdin: end of input is -2). */
long file_source_poll(struct file_source *s, size_t budget);
/* Stores every position in the caller's transaction (the one that holds the counters). */
int file_set_save(struct file_set *set, MDB_txn *txn, MDB_dbi meta);
/* After a commit that held file_set_save: what it replaced is gone for good. */
void file_set_saved(struct file_set *set);
/* Prometheus series: lost bytes and duplicate names, per name. */
void file_set_metrics(struct evbuffer *out, const struct file_set *set);

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
    int64_t opened_ms;          /* of the accept */
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
    uint64_t drops_logged;      /* kernel_drops at the last warning about them, */
    int64_t drops_log_ms;       /* which comes at most once a minute */
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
