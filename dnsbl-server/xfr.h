/* xfr.h - zone transfers over TCP: AXFR (RFC 5936) of a zone's live listings, written as the
 * connection drains, and IXFR (RFC 1995):
 * the SOA alone when the client is up to date; from a serial the store's change journal still
 * holds, one condensed difference: the records of the changed names at the client's serial (the zone
 * rebuilt from the journal's before-images, as of that serial's commit) against those of now; else
 * the full zone (section 4 allows it). Who may transfer a zone is its allow-transfer list; anyone else gets REFUSED. The whole
 * transfer comes from the worker's read transaction: one consistent snapshot. Over UDP the server
 * answers AXFR and IXFR with TC set (answer.c), which sends the client to TCP. */
#ifndef DNSBL_XFR_H
#define DNSBL_XFR_H

#include <event2/buffer.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "zone.h"

/* If msg (one DNS message of a TCP stream from socket fd, which query_parse made q of) is an AXFR or
 * IXFR query, writes the response messages, each with its two-byte length, to out and returns 1.
 * Returns 0 for anything else: answer_parsed answers it. A full transfer is written in parts: the first goes to out, and
 * when there is more *stream is set; the connection then calls xfr_stream_fill each time its output
 * has drained, with the zone set its batch sees (a reload ends the transfer), until it returns 0
 * (done) or -1 (failed: close the connection), and frees the stream then or when it closes. The
 * stream holds its own LMDB read transaction (one snapshot for the whole transfer) until freed:
 * the connection's write timeout is what keeps a stalled client from pinning it. */
#define XFR_STREAM_CHUNK (256 * 1024)   /* bytes written per part, at least */
struct xfr_stream;
int xfr_tcp(const struct zoneset *zs, MDB_txn *txn, uint32_t now, int fd, const struct dns_query *q,
            const uint8_t *msg, struct evbuffer *out, struct xfr_stream **stream);
/* 1 more to come, 0 done, -1 failed. */
int xfr_stream_fill(struct xfr_stream *s, const struct zoneset *zs, struct evbuffer *out, size_t limit);
void xfr_stream_free(struct xfr_stream *s);

#endif
