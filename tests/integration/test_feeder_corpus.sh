#!/usr/bin/env bash
# The real corpus through every input (files in both formats, stdin, syslog over UDP and TCP) gives
# exactly the listings that truth.json implies, and dnsbl-server answers them.
. "$(dirname "$0")/lib.sh"
CORPUS="$ROOT/tests/corpus"
truth() { python3 "$ROOT/tests/integration/check_truth.py" "$1" "$ROOT/zones" "$BIN" "${@:2}"; }
feeder() { "$BIN/dnsbl-feeder" --zones "$ROOT/zones" "$@"; }

# 1. RFC 3339 file, checked over DNS as well
feeder --db "$T/db" --once --replay "$CORPUS/mail.log" 2>>"$T/feeder.log"
check "feeder --once exits 0" "0" "$?"
start_server || exit 1
out=$(truth "$T/db" --dns "$PORT"); rc=$?
check "RFC 3339 file: store and DNS match truth.json" "0" "$rc"
[ $rc -ne 0 ] && echo "$out" | head -20
check "a DHA source's TXT says why" "1" \
      "$(q "$(rev4 127.1.20.1).bl.example" TXT | grep -c 'unknown recipients 20/21 in 10m; listed until')"
check "the mass sender's domain is listed in dbl.example" "127.0.1.5" "$(q bulk.example.dbl.example A)"
check "a partner's domain is not" "NXDOMAIN" "$(status partner.example.org.dbl.example A)"
stop_server

# 2. running --once again on the same file adds nothing
before=$("$BIN/dnsbl-feeder" --db "$T/db" --dump | md5sum)
feeder --db "$T/db" --once --replay "$CORPUS/mail.log" 2>"$T/again.log"
check "second --once run: no new events" "1" "$(grep -c ' 0 lines:' "$T/again.log")"
check "second --once run: state unchanged" "$before" "$("$BIN/dnsbl-feeder" --db "$T/db" --dump | md5sum)"

# 3. RFC 3164 file
feeder --db "$T/db3164" --once --replay "$CORPUS/mail-traditional.log" 2>>"$T/feeder.log"
out=$(truth "$T/db3164"); check "RFC 3164 file matches truth.json" "0" "$?"

# 4. stdin
feeder --db "$T/dbstdin" --once --replay - <"$CORPUS/mail.log" 2>>"$T/feeder.log"
out=$(truth "$T/dbstdin"); check "stdin matches truth.json" "0" "$?"

# 5. syslog over UDP (RFC 3164 with <PRI>) and TCP (RFC 5424, octet counting), IPv4 and IPv6
# syslog_run NAME PROTO FAMILY FILE: a feeder listening on a fresh port, the corpus sent to it
syslog_run() {
    local name=$1 proto=$2 family=$3 file=$4 port host
    port=$(free_port)
    host=$([ "$family" = 6 ] && echo "[::1]" || echo 127.0.0.1)
    "$BIN/dnsbl-feeder" --db "$T/db$name" --zones "$ROOT/zones" --replay "--syslog-${proto%fwd}" "$host:$port" \
        2>"$T/feeder-$name.log" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 50); do ss -Hlntu "sport = :$port" | grep -q . && break; sleep 0.1; done
    python3 - "$proto" "$family" "$port" "$file" <<'PY'
import socket, sys, time
mode, family, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host = "::1" if family == "6" else "127.0.0.1"
af = socket.AF_INET6 if family == "6" else socket.AF_INET
lines = open(path, "rb").read().splitlines()
if mode == "udp":
    s = socket.socket(af, socket.SOCK_DGRAM)
    for i, l in enumerate(lines):       # "<22>" + the RFC 3164 line, as rsyslog forwards it
        s.sendto(b"<22>" + l, (host, port))
        if i % 100 == 99:
            time.sleep(0.005)           # stay within the socket buffer on a loaded machine
elif mode == "tcpfwd":                  # rsyslog's RSYSLOG_ForwardFormat, octet counted
    s = socket.create_connection((host, port))
    s.sendall(b"".join(str(len(m)).encode() + b" " + m for m in (b"<22>" + l for l in lines)))
    s.close()
else:
    s = socket.create_connection((host, port))
    out = bytearray()
    for l in lines:                     # RFC 5424 "<22>1 TIME HOST APP PROCID - - MSG", octet counted
        ts, host_, rest = l.split(b" ", 2)
        tag, msg = rest.split(b": ", 1)
        app, _, procid = tag.partition(b"[")
        m = b"<22>1 " + ts + b" " + host_ + b" " + app + b" " + (procid.rstrip(b"]") or b"-") + b" - - " + msg
        out += str(len(m)).encode() + b" " + m
    s.sendall(bytes(out))
    s.close()
PY
    sleep 1
    kill "$pid"
    wait "$pid"
    grep -o 'syslog [0-9]* received' "$T/feeder-$name.log"
}
n=$(wc -l <"$CORPUS/mail.log")
check "syslog UDP over IPv4: every message received" "syslog $n received" \
      "$(syslog_run udp4 udp 4 "$CORPUS/mail-traditional.log")"
out=$(truth "$T/dbudp4"); check "syslog UDP (RFC 3164) matches truth.json" "0" "$?"
check "syslog TCP over IPv6: every message received" "syslog $n received" \
      "$(syslog_run tcp6 tcp 6 "$CORPUS/mail.log")"
out=$(truth "$T/dbtcp6"); check "syslog TCP (RFC 5424, octet counting) matches truth.json" "0" "$?"
check "syslog TCP in rsyslog's forward format: every message received" "syslog $n received" \
      "$(syslog_run fwd4 tcpfwd 4 "$CORPUS/mail.log")"
out=$(truth "$T/dbfwd4"); check "syslog TCP (RSYSLOG_ForwardFormat) matches truth.json" "0" "$?"
[ "$FAIL" -gt 0 ] && echo "$out" | head

# 6. senders outside --allow-from are dropped and counted
port=$(free_port)
"$BIN/dnsbl-feeder" --db "$T/dbdeny" --zones "$ROOT/zones" --syslog-udp "127.0.0.1:$port" \
    --allow-from 192.0.2.0/24 2>"$T/feeder-deny.log" &
pid=$!; PIDS+=("$pid")
for _ in $(seq 50); do ss -Hlnu "sport = :$port" | grep -q . && break; sleep 0.1; done
head -100 "$CORPUS/mail-traditional.log" | python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for l in sys.stdin.buffer.read().splitlines(): s.sendto(b"<22>" + l, ("127.0.0.1", int(sys.argv[1])))' "$port"
sleep 0.5; kill "$pid"; wait "$pid"
check_match "syslog from a sender outside --allow-from: dropped and counted" "0 received, 100 dropped" "$(cat "$T/feeder-deny.log")"

finish
