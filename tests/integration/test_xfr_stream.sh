#!/usr/bin/env bash
# A full zone transfer is written as the client reads it, from one read transaction: a client that
# asks for the AXFR of a 300,000-listing zone (31 MB) and then reads nothing costs the server a few
# MB of heap (not the whole transfer), holds one extra LMDB reader slot only until the TCP write
# timeout (--tcp-idle) closes the connection, and meanwhile other queries and another AXFR (complete,
# the right record count) are served.
. "$(dirname "$0")/lib.sh"

python3 -c 'for i in range(300000): print("10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255))' >"$T/big.txt"
ZONES="$T/zones"
mkdir -p "$ZONES"
for f in "$ROOT"/zones/*.conf; do
    sed "/^\[zone\]/a allow-transfer = 127.0.0.1" "$f" >"$ZONES/$(basename "$f")"
done
ctl import bl.example "$T/big.txt" >/dev/null || { fail "import"; finish; exit 1; }
# under ASan, freed memory waits in a quarantine (256 MB by default) and would look like a leak here
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
# --index-memory 0: the index thread's build would take a reader slot and heap of its own meanwhile
start_server --tcp-idle 3 --index-memory 0 || exit 1
anon() { awk '$1 == "RssAnon:" { print $2 }' "/proc/$SERVER_PID/status"; }
readers() { ctl stats 2>/dev/null | sed -n 's/.* \([0-9]*\) readers .*/\1/p'; }
q 2.0.0.127.bl.example A >/dev/null
anon0=$(anon); readers0=$(readers)

# the stalled client: asks, then never reads (a small receive buffer), holds the connection open
python3 - "$PORT" >"$T/stall.out" 2>&1 <<'PY' &
import socket, struct, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
q = struct.pack(">HHHHHH", 9, 0, 1, 0, 0, 0) + b"\x02bl\x07example\x00" + struct.pack(">HH", 252, 1)
s.sendall(struct.pack(">H", len(q)) + q)
time.sleep(4.5)     # past --tcp-idle 3: reading earlier would count as progress and keep it open
print("stalled")
s.setblocking(False)
t0, got, closed = time.time(), 0, False
while time.time() - t0 < 8 and not closed:   # then drain: the server has closed it by now
    try:
        d = s.recv(65536)
        if not d: closed = True
        got += len(d)
    except BlockingIOError:
        time.sleep(0.05)
    except ConnectionResetError:
        closed = True
print("closed" if closed else "open", got)
PY
STALL=$!
PIDS+=("$STALL")
sleep 1.5
anon1=$(anon); readers1=$(readers)
check "while the client stalls, the transfer holds one reader slot ($readers0 -> $readers1)" "$((readers0 + 1))" "$readers1"
grow=$(((anon1 - anon0) / 1024))
check "and a few MB of heap, not the 31 MB transfer ($grow MB; ASan builds more)" "1" "$([ "$grow" -lt 24 ] && echo 1)"
check "other queries are answered meanwhile" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
n=$(dig +time=10 +tries=1 @127.0.0.1 -p "$PORT" bl.example AXFR +short | wc -l)
check "another AXFR is complete meanwhile: 300,000 A and TXT, NS, test points, 2 SOA" "600007" "$n"
for _ in $(seq 40); do [ "$(readers)" = "$readers0" ] && break; sleep 0.25; done
check "the write timeout (--tcp-idle 3) closed the stalled transfer and freed its snapshot" "$readers0" "$(readers)"
wait "$STALL"
check_match "the stalled client found its connection closed" "^stalled closed [0-9]+$" "$(tr '\n' ' ' <"$T/stall.out" | sed 's/ $//')"
stop_server
check "server stops cleanly" "0" "$SERVER_STATUS"
finish
