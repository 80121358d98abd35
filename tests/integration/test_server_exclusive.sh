#!/usr/bin/env bash
# Split brain: a second dnsbl-server on an address:port that one already serves would bind it too
# (SO_REUSEPORT) and the kernel would split the queries between two stores. It must refuse to start.
. "$(dirname "$0")/lib.sh"

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

# A restart right after a stop binds again (TIME_WAIT connections of the old one do not count).
dig +tcp +time=2 +tries=1 @127.0.0.1 -p "$PORT" 2.0.0.127.bl.example A >/dev/null
stop_server
"$BIN/dnsbl-server" --db "$T/db" --zones "$ROOT/zones" --listen "127.0.0.1:$PORT" --foreground >>"$T/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_answering "$PORT"
check "a restart on the same port after TCP traffic starts and answers" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
finish
