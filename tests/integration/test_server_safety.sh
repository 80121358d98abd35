#!/usr/bin/env bash
# The server as a public service. Split brain: a second dnsbl-server on an address:port that one
# already serves would bind it too (SO_REUSEPORT) and the kernel would split the queries between two
# stores; it must refuse to start. Least privilege: the process that parses packets holds the store
# read-only; expiries reach the serial through a writer (`dnsblctl expire` here, the feeder in
# test_xfr.sh); a zone added while it runs is refused at reload with a clear reason, not created.
. "$(dirname "$0")/lib.sh"
ZONES="$T/zones"
mkdir -p "$ZONES"
cp "$ROOT"/zones/*.conf "$ZONES"/
ctl() { "$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" "$@"; }
serial() { dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" bl.example SOA +short | cut -d' ' -f3; }
# access modes (0 read-only, 1 write-only, 2 read-write) of a process's descriptors of a file
modes() {
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "$2" ] || continue
        echo $(( 8#$(awk '/^flags:/{print $2}' /proc/"$1"/fdinfo/"${fd##*/}") & 3 ))
    done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

start_server --threads 2
out=$(timeout 10 "$BIN/dnsbl-server" --db "$T/db2" --zones "$ROOT/zones" --listen "127.0.0.1:$PORT" --foreground 2>&1); rc=$?
check "a second server on the same address:port exits 1" "1" "$rc"
check_match "... and says the port is in use" "udp 127.0.0.1 port $PORT is already in use" "$out"
check "the first server still answers" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
out=$(timeout 10 "$BIN/dnsbl-server" --db "$T/db2" --zones "$ROOT/zones" --listen "[::1]:$PORT" --foreground 2>&1); rc=$?
check "the same over IPv6" "1:1" "$rc:$(echo "$out" | grep -c "port $PORT is already in use")"

# A TCP-only squatter (something else listening on the port) is refused too.
P2=$(free_port)
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
time.sleep(15)' "$P2" &
PIDS+=($!)
for _ in $(seq 50); do ss -Hlnt "sport = :$P2" | grep -q . && break; sleep 0.1; done
out=$(timeout 10 "$BIN/dnsbl-server" --db "$T/db3" --zones "$ROOT/zones" --listen "127.0.0.1:$P2" --foreground 2>&1); rc=$?
check "a port whose TCP side is taken (even with SO_REUSEPORT) is refused" "1:1" "$rc:$(echo "$out" | grep -c "tcp 127.0.0.1 port $P2 is already in use")"

# Least privilege
check "the server's descriptors of data.mdb are read-only" "0" "$(modes "$SERVER_PID" "$T/db/data.mdb")"
check "its map of data.mdb is not writable" "0" "$(grep -c "rw.s.*$T/db/data.mdb" /proc/"$SERVER_PID"/maps)"
ctl add bl.example 192.0.2.66 --code dha --expires 2s >/dev/null
check "a listing made by dnsblctl is answered" "127.0.0.2" "$(q "$(rev4 192.0.2.66).bl.example" A)"
s0=$(serial)
sleep 3
check "after its expiry it is not answered at once" "" "$(q "$(rev4 192.0.2.66).bl.example" A)"
check "but the read-only server leaves the serial alone" "$s0" "$(serial)"
out=$(ctl expire 2>&1)
check "dnsblctl expire raises it for the zone with the expired listing" "expiries: serial raised in 1 zone" "$out"
check "... so the serial moved" "1" "$([ "$(serial)" -gt "$s0" ] && echo 1)"
check "a second dnsblctl expire finds nothing new" "expiries: serial raised in 0 zones" "$(ctl expire 2>&1)"
sed 's/^name *= *bl.example/name = new.example/' "$ROOT/zones/bl.example.conf" >"$ZONES/new.example.conf"
kill -HUP "$SERVER_PID" 2>/dev/null
for _ in $(seq 50); do grep -q "reload failed" "$T/server.log" && break; sleep 0.1; done
check_match "a zone new to the read-only store: reload refused, saying why" \
    "reload failed.*zone new.example: not in the read-only store yet" "$(cat "$T/server.log")"
check "... and the old zones still answer" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"

# A restart right after a stop binds again (TIME_WAIT connections of the old one do not count).
dig +tcp +time=2 +tries=1 @127.0.0.1 -p "$PORT" 2.0.0.127.bl.example A >/dev/null
stop_server
"$BIN/dnsbl-server" --db "$T/db" --zones "$ROOT/zones" --listen "127.0.0.1:$PORT" --foreground >>"$T/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_answering "$PORT"
check "a restart on the same port after TCP traffic starts and answers" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
finish
