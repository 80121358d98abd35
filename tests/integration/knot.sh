# knot.sh - a private Knot DNS secondary for the zone-transfer tests. Sourced after lib.sh (and
# packages.sh, which installs knotd). Loopback only; knotd is killed by PID with the rest.

# transfer_zones KPORT: the repository's zones in $T/zones (ZONES), transferable by 127.0.0.1 and ::1,
# each notifying Knot on KPORT every second at most.
transfer_zones() {
    ZONES="$T/zones"
    mkdir -p "$ZONES"
    for f in "$ROOT"/zones/*.conf; do
        sed "/^\[zone\]/a allow-transfer = 127.0.0.1, ::1\nnotify = 127.0.0.1:$1\nnotify-interval = 1s" \
            "$f" >"$ZONES/$(basename "$f")"
    done
}

# start_knot KPORT JOURNAL: knotd on 127.0.0.1@KPORT as the secondary of bl.example and dbl.example
# from the dnsbl-server on $PORT; JOURNAL is its journal-content (none: AXFR only; changes: IXFR).
start_knot() {
    mkdir -p "$T/knot/db" "$T/knot/run" "$T/knot/zones"
    cat >"$T/knot/knot.conf" <<KNOTCONF
server:
    rundir: "$T/knot/run"
    listen: 127.0.0.1@$1
    # a sanitizer build on a busy machine may take seconds to compute an IXFR (default 5 s)
    tcp-remote-io-timeout: 30000
database:
    storage: "$T/knot/db"
log:
  - target: stderr
    any: info
remote:
  - id: primary
    address: 127.0.0.1@$PORT
acl:
  - id: from_primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: "$T/knot/zones"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: $2
zone:
  - domain: bl.example
    master: primary
    acl: from_primary
  - domain: dbl.example
    master: primary
    acl: from_primary
KNOTCONF
    knotd -c "$T/knot/knot.conf" >>"$T/knot.log" 2>&1 &
    KNOT_PID=$!
    PIDS+=("$KNOT_PID")
}

serial_of() { dig +time=2 +tries=1 @127.0.0.1 -p "$1" "$2" SOA +short | awk '{print $3}'; }
