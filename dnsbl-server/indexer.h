/* indexer.h - keeps an in-memory index (store_index.h) of every zone at its current serial.
 *
 * One thread. Every INDEXER_POLL_MS it reads each zone's serial; when it differs from the index's,
 * it builds a new index from a fresh snapshot and publishes it in srv->indexes[slot], where the
 * workers' answer path finds it (and uses it only for snapshots of the same serial: until the new
 * index is built, answers come from the B-tree, as without one). The index it replaced is freed once
 * every worker has ended the batch it was in (a grace period: a batch loads an index pointer at most
 * once per question and keeps none). Builds of one zone are spaced so that they take at most a tenth
 * of a core however often the zone changes. Indexes take at most --index-memory MB together; a zone
 * that does not fit is answered from the B-tree. */
#ifndef DNSBL_INDEXER_H
#define DNSBL_INDEXER_H

#include <stddef.h>

struct server;
struct zoneset;
struct indexer;

#define INDEXER_POLL_MS 100

/* Starts the thread (max_bytes 0: no indexer, NULL returned with no error). */
struct indexer *indexer_start(struct server *srv, size_t max_bytes, char *err, size_t errlen);
/* The zones to index from now on (the main thread, after a reload). */
void indexer_set_zones(struct indexer *ix, const struct zoneset *zs);
/* Stops the thread and frees every index, each after its grace period. NULL is fine. */
void indexer_stop(struct indexer *ix);

#endif
