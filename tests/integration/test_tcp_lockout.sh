#!/usr/bin/env bash
# Hostile TCP clients cannot lock the server out: 260 connections from 130 addresses that trickle a
# byte every 300 ms (far inside --tcp-idle) hold no slot for long. A query message must arrive whole
# within --tcp-timeout, which trickled bytes do not extend; when a worker's slots are full the
# connection that made no progress for longest makes room; slots are kept for allow-transfer sources;
# one address holds at most --tcp-per-source connections. Meanwhile a fresh TCP query is answered
# within a second and an AXFR from the secondary succeeds. All traffic stays on 127.0.0.0/8.
. "$(dirname "$0")/lib.sh"

ZONES="$T/zones"
mkdir -p "$ZONES"
for f in "$ROOT"/zones/*.conf; do
    sed "/^\[zone\]/a allow-transfer = 127.0.0.3" "$f" >"$ZONES/$(basename "$f")"
done
MPORT=$(free_port)
start_server --tcp-max 256 --tcp-timeout 2000 --tcp-per-source 16 --metrics "127.0.0.1:$MPORT" || exit 1
MURL="http://127.0.0.1:$MPORT/metrics"

# trickle.py PORT N SOURCES SECONDS: N connections spread over SOURCES addresses 127.0.1.x, each
# sending a length prefix then one byte of the message every 300 ms; prints how many were still open at the end and
# the longest any single connection stayed open while trickling (seconds).
cat >"$T/trickle.py" <<'PY'
import socket, sys, time
port, n, nsrc, secs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
conns = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.1.%d" % (1 + i % nsrc), 0))
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        s.send(b"\x00\x40")          # a 64-byte query is coming...
        conns.append([s, time.time(), None])
    except OSError:
        s.close()
open("%s.ready" % sys.argv[5], "w").close()
end = time.time() + secs
while time.time() < end:
    for c in conns:
        if c[2] is not None:
            continue
        try:
            c[0].send(b"A")         # ... one byte at a time, never complete within the test
            if c[0].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                c[2] = time.time()
        except BlockingIOError:
            pass
        except OSError:
            c[2] = time.time()
    time.sleep(0.3)
now = time.time()
print(sum(1 for c in conns if c[2] is None), "%.1f" % max((c[2] or now) - c[1] for c in conns))
PY
python3 "$T/trickle.py" "$PORT" 260 130 6 "$T/trickle" >"$T/trickle.out" 2>&1 &
TPID=$!
PIDS+=("$TPID")
for _ in $(seq 100); do [ -e "$T/trickle.ready" ] && break; sleep 0.1; done
sleep 0.5

t0=$(date +%s%N)
ans=$(dig +tcp +time=2 +tries=1 -b 127.0.0.2 @127.0.0.1 -p "$PORT" 2.0.0.127.bl.example A +short)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a fresh TCP query during the trickle is answered" "127.0.0.2" "$ans"
check "... within a second (${ms} ms)" "1" "$([ "$ms" -lt 1000 ] && echo 1)"
axfr=$(dig +tcp +time=3 +tries=1 -b 127.0.0.3 @127.0.0.1 -p "$PORT" bl.example AXFR | grep -c 'IN[[:space:]]SOA')
check "an AXFR from the allow-transfer source succeeds during the trickle (two SOAs)" "2" "$axfr"
wait "$TPID"
read -r still longest <"$T/trickle.out"
check "no trickling connection is still open after 6 s" "0" "$still"
check "none stayed open much past the 2 s message deadline (longest ${longest} s)" "1" \
      "$(python3 -c "print(1 if float('$longest') <= 3.5 else 0)")"

# one address holds at most --tcp-per-source connections
python3 - "$PORT" >"$T/persource.out" <<'PY'
import socket, sys, time
conns = []
for i in range(24):
    s = socket.socket(); s.bind(("127.0.0.5", 0)); s.settimeout(1)
    s.connect(("127.0.0.1", int(sys.argv[1]))); conns.append(s)
time.sleep(0.5)
open_ = 0
for s in conns:
    s.setblocking(False)
    try:
        open_ += s.recv(1) != b""
    except BlockingIOError:
        open_ += 1
    except OSError:
        pass
print(open_)
PY
check "24 connections from one address: 16 stay open" "16" "$(cat "$T/persource.out")"
m=$(curl -s --max-time 2 "$MURL")
check_match "refusals per source are counted" "dnsbl_tcp_per_source_refused_total ([1-9][0-9]*)" "$m"
check_match "deadline closes are counted" "dnsbl_tcp_timeouts_total ([1-9][0-9]*)" "$m"
check_match "evictions are counted" "dnsbl_tcp_evicted_total ([1-9][0-9]*)" "$m"
finish
