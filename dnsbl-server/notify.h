/* notify.h - NOTIFY (RFC 1996) and expiry tracking for zones that secondaries transfer.
 *
 * Once a second the main thread looks at every zone with allow-transfer or notify targets, at most
 * once per notify-interval each. When a listing has expired since the last look it bumps the zone's
 * serial in the store (a listing that expires changes the zone as much as a delisting does, but
 * writes nothing by itself), so that SOA queries, NOTIFY and transfers all see the new serial. When
 * the serial differs from the last one announced, it sends a NOTIFY over UDP to each target and
 * repeats it until the target answers with the matching ID, a few times at most. */
#ifndef DNSBL_NOTIFY_H
#define DNSBL_NOTIFY_H

#include <stddef.h>

struct server;
struct notifier;

/* Starts the once-a-second timer on srv->base. NULL with a reason in err on failure. */
struct notifier *notify_start(struct server *srv, char *err, size_t errlen);
void notify_stop(struct notifier *n);

#endif
