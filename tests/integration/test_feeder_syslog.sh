#!/usr/bin/env bash
# Syslog that a real relay can rely on: idle TCP connections cannot lock a relay out, refusals are
# logged and counted by reason, octet counting only when the frame really is "LEN SP <", UDP
# datagrams split on newlines, kernel drops in the metrics, host label values sanitised.
. "$(dirname "$0")/lib.sh"
LINE='<22>Nov 22 15:04:35 mx1 postfix/smtpd[13452]: connect from unknown[127.1.50.3]'

# start_feeder NAME [options]: a feeder with --metrics on MPORT; sets FPID
start_feeder() {
    local name=$1; shift
    MPORT=$(free_port)
    "$BIN/dnsbl-feeder" --db "$T/db-$name" --zones "$ROOT/zones" --metrics "127.0.0.1:$MPORT" "$@" \
        2>"$T/feeder-$name.log" &
    FPID=$!
    PIDS+=("$FPID")
    for _ in $(seq 50); do curl -s -m 1 "http://127.0.0.1:$MPORT/metrics" >/dev/null && return 0; sleep 0.1; done
    echo "feeder $name did not start:"; cat "$T/feeder-$name.log"; return 1
}
metrics() { curl -s -m 2 "http://127.0.0.1:$MPORT/metrics"; }
# metric NAME_WITH_LABELS: its value, or "none"
metric() { metrics | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "none" }'; }
stop_feeder() { kill "$FPID"; for _ in $(seq 50); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done; wait "$FPID"; }
# wait_metric NAME VALUE: until the metric has that value (at most 5 s)
wait_metric() { for _ in $(seq 50); do [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }

# 1. TCP: 260 idle connections (4 from each of 65 addresses) neither close a relay's connection nor
#    keep a new relay out
TPORT=$(free_port)
start_feeder lockout --syslog-tcp "127.0.0.1:$TPORT" || exit 1
out=$(timeout 60 python3 - "$TPORT" "$MPORT" "$LINE" <<'PY'
import socket, sys, time, urllib.request
port, mport, line = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
old = socket.create_connection(("127.0.0.1", port), timeout=2)     # a relay connected before
time.sleep(0.1)
idle = []
for i in range(260):
    s = socket.socket()
    s.settimeout(2)
    s.bind(("127.0.0.%d" % (2 + i // 4), 0))
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        pass
    idle.append(s)
time.sleep(0.5)
old.sendall(line + b"\n")
relay = socket.create_connection(("127.0.0.1", port), timeout=2)
try:
    relay.sendall(line + b"\n")
    relay.shutdown(socket.SHUT_WR)
    relay.recv(1)                       # the feeder closes after the end of input
except OSError:
    pass
deadline = time.time() + 5
while time.time() < deadline:
    m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=2).read().decode()
    if "feeder_syslog_received_total 2\n" in m:
        break
    time.sleep(0.1)
print(m)
PY
)
check_match "260 idle TCP connections: the relay's connection and a new one both deliver" \
    'feeder_syslog_received_total 2' "$out"
check_match "the connections evicted for it are counted by reason" \
    'feeder_syslog_tcp_closed_total\{reason="evicted"\} [1-9]' "$out"
check_match "the evictions are logged" 'syslog tcp: .*127\.0\.0\.1.*evict' "$(cat "$T/feeder-lockout.log")"
stop_feeder

# 2. one address cannot hold more than --syslog-max-per-source connections; the newest one wins
start_feeder cap --syslog-tcp "127.0.0.1:$TPORT" --syslog-max-per-source 4 || exit 1
out=$(timeout 60 python3 - "$TPORT" "$MPORT" "$LINE" <<'PY'
import socket, sys, time, urllib.request
port, mport, line = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
conns = []
for i in range(20):
    s = socket.socket()
    s.settimeout(2)
    s.bind(("127.0.0.9", 0))
    s.connect(("127.0.0.1", port))
    conns.append(s)
    time.sleep(0.01)
time.sleep(0.3)
conns[-1].sendall(line + b"\n")         # the newest connection is the one kept
closed = 0
for s in conns[:-4]:
    s.settimeout(0.5)
    try:
        closed += s.recv(1) == b""
    except socket.timeout:
        pass                            # still open
    except OSError:
        closed += 1                     # reset
time.sleep(0.3)
print("closed by the feeder:", closed)
print(urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=2).read().decode())
PY
)
check_match "20 connections from one address, cap 4: the 16 oldest are closed" 'closed by the feeder: 16' "$out"
check_match "... counted as per_source_cap" 'feeder_syslog_tcp_closed_total\{reason="per_source_cap"\} 16' "$out"
check_match "... 4 stay open" 'feeder_syslog_tcp_connections 4' "$out"
check_match "... and the newest delivers" 'feeder_syslog_received_total 1' "$out"
n=$(grep -c 'syslog tcp: .*127\.0\.0\.9' "$T/feeder-cap.log")
check "... logged once for the source, not 16 times" "1" "$n"
stop_feeder

# 3. idle connections are closed after --syslog-idle-timeout; refusals of unlisted senders counted
start_feeder idle --syslog-tcp "127.0.0.1:$TPORT" --syslog-idle-timeout 1 --allow-from 127.0.0.1/32 || exit 1
out=$(timeout 20 python3 - "$TPORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
t = time.time()
try:
    r = "closed" if s.recv(1) == b"" else "data"
except socket.timeout:
    r = "open"
except OSError:
    r = "closed"
print(r, round(time.time() - t))
u = socket.socket()
u.bind(("127.0.0.3", 0))
u.settimeout(2)
u.connect(("127.0.0.1", port))
try:
    print("unlisted:", "closed" if u.recv(1) == b"" else "data")
except socket.timeout:
    print("unlisted: open")
except OSError:
    print("unlisted: closed")
PY
)
check_match "an idle connection is closed after the idle timeout" '^closed [12]' "$out"
check_match "a sender outside --allow-from is refused" 'unlisted: closed' "$out"
sleep 0.2
check "idle timeout counted" "1" "$(metric 'feeder_syslog_tcp_closed_total{reason="idle_timeout"}')"
check "refusal counted as not_allowed" "1" "$(metric 'feeder_syslog_tcp_refused_total{reason="not_allowed"}')"
check_match "refusal logged with the sender" 'syslog tcp: refused 127\.0\.0\.3.*allow-from' "$(cat "$T/feeder-idle.log")"
stop_feeder

# 4. newline framing: lines without <PRI> that start with digits are not octet counts
start_feeder framing --syslog-tcp "127.0.0.1:$TPORT" || exit 1
timeout 20 python3 - "$TPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"2026-11-22T15:04:35.798890+00:00 mx1 postfix/smtpd[13452]: connect from unknown[127.1.50.3]\n"
          b"2026-11-22T15:04:36.798890+00:00 mx1 postfix/smtpd[13452]: connect from unknown[127.1.50.4]\n"
          b"12 not a count\n"
          b"07 <22>not a count either\n"
          b"25 <22>Nov 22 15:04:35 mx1 x\n"
          b"2026-11-22T15:04:37.798890+00:00 mx1 postfix/smtpd[13452]: connect from unknown[127.1.50.5]\n")
s.close()
PY
wait_metric feeder_syslog_received_total 6
check "RFC 3339 lines, digit-led lines and one real octet-counted frame: 6 messages" "6" "$(metric feeder_syslog_received_total)"
check "no connection closed for bad framing" "0" "$(metric 'feeder_syslog_tcp_closed_total{reason="bad_framing"}')"
check "the three RFC 3339 lines are parsed" "3" "$(metric 'feeder_events_total{type="connect",host="mx1"}')"
stop_feeder

# 5. UDP: a datagram with two lines gives two messages; kernel drops are counted
UPORT=$(free_port)
start_feeder udp --syslog-udp "127.0.0.1:$UPORT" || exit 1
python3 - "$UPORT" "$LINE" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
l = sys.argv[2].encode()
s.sendto(l + b"\n" + l.replace(b"127.1.50.3", b"127.1.50.4") + b"\n", ("127.0.0.1", int(sys.argv[1])))
PY
wait_metric feeder_syslog_received_total 2
check "a datagram holding two lines: two messages" "2" "$(metric feeder_syslog_received_total)"
kill -STOP "$FPID"
sent=$(timeout 60 python3 - "$UPORT" "$LINE" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port, l = int(sys.argv[1]), sys.argv[2].encode()
n = 0
for i in range(60000):
    try:
        s.sendto(l, ("127.0.0.1", port))
        n += 1
    except OSError:
        pass
print(n)
PY
)
kill -CONT "$FPID"
prev=-1
for _ in $(seq 100); do          # until the feeder has drained its socket
    cur=$(metric feeder_syslog_received_total)
    [ "$cur" = "$prev" ] && break
    prev=$cur; sleep 0.2
done
# the kernel reports the drops with the next datagram it queues
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))' \
    "$UPORT" "$LINE"
sent=$((sent + 1 + 1))           # the burst, the probe, and the two-line datagram of before
sleep 0.5
received=$(( $(metric feeder_syslog_received_total) - 1 ))   # the two-line datagram gave one message more
drops=$(metric feeder_syslog_kernel_drops_total)
echo "  (sent $sent, received $received, kernel drops $drops)"
check_match "a burst to a stopped feeder: kernel drops counted" '^[1-9][0-9]*$' "$drops"
check "kernel drops = sent - received" "$((sent - received))" "$drops"
check_match "the drops are logged" "syslog udp: the kernel dropped $drops datagrams" "$(cat "$T/feeder-udp.log")"
stop_feeder

# 6. host label values: NUL, invalid UTF-8, quotes and backslashes give valid, distinct series
start_feeder labels --syslog-udp "127.0.0.1:$UPORT" || exit 1
python3 - "$UPORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for host in [b"mx\x00a", b"mx\x00b", b"mx\xffz", b"mx\xfez", b'mx"q', b"mx\\q", b"m\xc3\xa9x", b"mx\rr", b"other", b"x" * 300]:
    s.sendto(b"<22>Nov 22 15:04:35 " + host + b" postfix/smtpd[1]: connect from unknown[127.1.50.3]",
             ("127.0.0.1", int(sys.argv[1])))
PY
sleep 0.5
out=$(metrics | python3 -c '
import sys, re
raw = sys.stdin.buffer.read()
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    print("invalid UTF-8:", e); sys.exit()
if "\0" in text:
    print("NUL in the output"); sys.exit()
series = [l.rsplit(" ", 1)[0] for l in text.splitlines() if l and not l.startswith("#")]
dups = sorted(set(s for s in series if series.count(s) > 1))
bad = [s for s in series if s.startswith("feeder_events_total") and
       not re.fullmatch(r"feeder_events_total\{type=\"[a-z_]+\",host=\"([^\"\\\n]|\\[\\\"n])*\"\}", s)]
hosts = sorted(s for s in series if s.startswith("feeder_events_total"))
print("dups:", dups, "bad:", bad)
print("\n".join(hosts))
')
check_match "metrics are valid UTF-8 without NUL, no duplicate series, well-formed labels" '^dups: \[\] bad: \[\]' "$out"
check_match "NUL shown as \\x00, one series per raw host" 'host="mx\\\\x00a"' "$out"
check_match "valid UTF-8 kept" 'host="méx"' "$out"
check_match "quote escaped" 'host="mx\\"q"' "$out"
echo "$out" | sed 's/^/       /'
# past 1024 hosts the rest count as "other": one series with a host really named "other"
python3 - "$UPORT" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1100):
    s.sendto(b"<22>Nov 22 15:04:35 h%d postfix/smtpd[1]: connect from unknown[127.1.50.3]" % i,
             ("127.0.0.1", int(sys.argv[1])))
    if i % 100 == 99:
        time.sleep(0.01)
PY
wait_metric feeder_syslog_received_total 1110
check "1100 more hosts: one host=\"other\" series" "1" "$(metrics | grep -c '^feeder_events_total{type="connect",host="other"}')"
check "... that counts the real \"other\", the 300-byte name and the hosts past 1024" "$((2 + 1100 - (1024 - 9)))" \
      "$(metric 'feeder_events_total{type="connect",host="other"}')"
stop_feeder

finish
