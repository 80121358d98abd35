/* tcp_sources.c - per-source TCP connection counts (see tcp_sources.h). */
#include "tcp_sources.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int tcp_sources_init(struct tcp_sources *s, int max_conns, int per_source)
{
    memset(s, 0, sizeof *s);
    if (!(s->v = calloc((size_t)max_conns, sizeof *s->v)))
        return -1;
    s->n = max_conns;
    s->per_source = per_source;
    pthread_mutex_init(&s->lock, NULL);
    return 0;
}

void tcp_sources_free(struct tcp_sources *s)
{
    if (!s->v)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->v);
    s->v = NULL;
}

int tcp_source_of(const struct sockaddr *sa, struct ipaddr *src, struct ipaddr *peer)
{
    if (addr_from_sockaddr(sa, peer) < 0)
        return -1;
    *src = *peer;
    if (src->family == ADDR_V6)
        memset(src->bytes + 8, 0, 8);
    return 0;
}

int tcp_source_acquire(struct tcp_sources *s, const struct ipaddr *src)
{
    int rc = -1;
    pthread_mutex_lock(&s->lock);
    struct tcp_source *free_entry = NULL, *e = NULL;
    for (int i = 0; i < s->n && !e; i++) {
        if (s->v[i].count == 0) {
            if (!free_entry)
                free_entry = &s->v[i];
        } else if (!memcmp(&s->v[i].key, src, sizeof *src)) {
            e = &s->v[i];
        }
    }
    if (!e && free_entry) {
        e = free_entry;
        e->key = *src;
    }
    if (e && e->count < s->per_source) {
        e->count++;
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void tcp_source_release(struct tcp_sources *s, const struct ipaddr *src)
{
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n; i++)
        if (s->v[i].count && !memcmp(&s->v[i].key, src, sizeof *src)) {
            s->v[i].count--;
            break;
        }
    pthread_mutex_unlock(&s->lock);
}
