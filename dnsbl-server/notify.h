/* notify.h - NOTIFY (RFC 1996) for zones that secondaries transfer.
 *
 * Once a second the main thread looks at every zone with allow-transfer or notify targets, at most
 * once per notify-interval each. When the serial differs from the last one announced, it sends a
 * NOTIFY over UDP to each target and repeats it until the target answers with the matching ID, a few
 * times at most. A listing that expires changes the zone as much as a delisting does but writes
 * nothing by itself: the feeder (or `dnsblctl expire` from a timer) raises the serial for it, since
 * dnsbl-server opens the store read-only (store.h, "Expiries"). */
#ifndef DNSBL_NOTIFY_H
#define DNSBL_NOTIFY_H

#include <stddef.h>

struct server;
struct notifier;

/* Starts the once-a-second timer on srv->base. NULL with a reason in err on failure. */
struct notifier *notify_start(struct server *srv, char *err, size_t errlen);
void notify_stop(struct notifier *n);

#endif
