/* tcp_sources.h - TCP connections per source, shared by the TCP workers of one server.
 *
 * One client must not hold every TCP slot: each source (an IPv4 address, an IPv6 /64, since one
 * customer gets a whole /64) may hold at most `per_source` connections at once, whichever workers
 * the kernel hands them to. Accepting is rare next to answering, so one mutex and a linear table of
 * at most as many entries as there can be connections is enough. */
#ifndef DNSBL_TCP_SOURCES_H
#define DNSBL_TCP_SOURCES_H

#include <pthread.h>
#include <sys/socket.h>

#include "addr.h"

struct tcp_source {
    struct ipaddr key;          /* the address, or the /64 with the host bits zero */
    int count;                  /* 0: a free entry */
};

struct tcp_sources {
    pthread_mutex_t lock;
    struct tcp_source *v;
    int n, per_source;
};

int tcp_sources_init(struct tcp_sources *s, int max_conns, int per_source);
void tcp_sources_free(struct tcp_sources *s);
/* The source of a peer address (IPv4-mapped IPv6 counts as IPv4). -1 for other families. */
int tcp_source_of(const struct sockaddr *sa, struct ipaddr *src, struct ipaddr *peer);
/* Takes a slot for src: 0, or -1 when src already holds per_source connections (or the table is full). */
int tcp_source_acquire(struct tcp_sources *s, const struct ipaddr *src);
void tcp_source_release(struct tcp_sources *s, const struct ipaddr *src);

#endif
