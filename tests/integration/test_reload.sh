#!/usr/bin/env bash
# SIGHUP reloads the zones directory without dropping queries; a bad file keeps the old configuration.
. "$(dirname "$0")/lib.sh"

ZONES="$T/zones"
mkdir -p "$ZONES"
cp "$ROOT"/zones/*.conf "$ZONES/"
start_server || exit 1

check "zone not yet configured: REFUSED" "REFUSED" "$(status 2.0.0.127.new.example A)"
sed -e 's/^name *= *bl.example$/name = new.example/' "$ROOT/zones/bl.example.conf" >"$ZONES/new.example.conf"
# dnsbl-server holds the store read-only: a writer creates a new zone's sub-database first (here
# dnsblctl; the feeder does it when it reloads). test_server_safety.sh shows the reload refused before.
"$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" stats >/dev/null

# Keep querying while reloading: every answer must arrive.
python3 - "$PORT" >"$T/during.txt" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
q = bytes.fromhex("abcd0100000100000000000001320130013001330a626c076578616d706c650000010001")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
sent = got = 0
end = time.time() + 2.0
while time.time() < end and sent < 20000:
    s.sendto(q, ("127.0.0.1", port)); sent += 1
    try:
        s.recv(512); got += 1
    except socket.timeout:
        pass
print(sent, got)
PY
load=$!
for _ in 1 2 3 4 5; do kill -HUP "$SERVER_PID"; sleep 0.2; done
wait "$load"
read -r sent got <"$T/during.txt"
check "no query dropped during 5 reloads ($got of $sent)" "$sent" "$got"
check "new zone answers after SIGHUP" "127.0.0.2" "$(q 2.0.0.127.new.example A)"

printf '[zone]\nname = broken.example\nkind = ip\nnonsense = 1\n' >"$ZONES/broken.conf"
kill -HUP "$SERVER_PID"
sleep 0.5
check_match "bad file: the log names file, line and reason" "reload failed, keeping the old configuration: .*broken.conf:4: unknown key 'nonsense'" "$(cat "$T/server.log")"
check "bad file: old configuration still serves" "127.0.0.2" "$(q 2.0.0.127.new.example A)"
check "bad file: server still up" "0" "$(kill -0 "$SERVER_PID"; echo $?)"

rm "$ZONES/broken.conf" "$ZONES/new.example.conf"
kill -HUP "$SERVER_PID"
sleep 0.5
check "removed zone: REFUSED after reload" "REFUSED" "$(status 2.0.0.127.new.example A)"
check "remaining zone still answers" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"

# A bad zone directory at startup: clear error, exit 1
printf '[zone]\nname = x.example\nkind = colour\n' >"$T/bad.conf"
mkdir -p "$T/badzones" && mv "$T/bad.conf" "$T/badzones/"
out=$("$BIN/dnsbl-server" --db "$T/db" --zones "$T/badzones" --listen 127.0.0.1:1 --foreground 2>&1); rc=$?
check "bad zones at startup: exit 1" "1" "$rc"
check_match "bad zones at startup: file, line, reason" "bad\.conf:3: kind: 'colour' is not ip, domain or account" "$out"
out=$("$BIN/dnsbl-server" --listen nonsense 2>&1); rc=$?
check "bad --listen: exit 2" "2" "$rc"

stop_server
finish
