#!/usr/bin/env bash
# Response rate limiting (--rrl): 2,000 identical TXT queries in one second from one address get back
# at most 3x the bytes sent (without --rrl: the TXT is an amplifier); every second of those over the
# rate is a truncated answer, so a real resolver retries over TCP and still gets its answer; a second
# address is not affected; the limiting is counted. Traffic on 127.0.0.0/8 only, bounded in time.
. "$(dirname "$0")/lib.sh"
ctl() { "$BIN/dnsblctl" --db "$T/db" --zones "$ROOT/zones" "$@"; }
long="one long reason so that the TXT answer is much bigger than the question: $(printf 'x%.0s' $(seq 150))"
ctl add bl.example 192.0.2.44 --code dha --reason "$long" >/dev/null

# flood.py PORT SRC N: N queries for the same TXT from SRC within a second; prints bytes sent, bytes
# received, responses, truncated responses
cat >"$T/flood.py" <<'PY'
import socket, struct, sys, time
port, src, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
name = b"".join(bytes([len(l)]) + l for l in b"44.2.0.192.bl.example".split(b".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0)); s.setblocking(False)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sent = got = resp = tc = 0
start = time.time()
def drain():
    global got, resp, tc
    while True:
        try:
            d = s.recv(4096)
        except BlockingIOError:
            return
        got += len(d); resp += 1; tc += (d[2] & 2) != 0
for i in range(n):
    q = struct.pack(">HHHHHH", i & 0xffff, 0, 1, 0, 0, 0) + name + struct.pack(">HH", 16, 1)
    while True:
        try:
            s.sendto(q, ("127.0.0.1", port)); break
        except BlockingIOError:
            drain()
    sent += len(q)
    if i % 50 == 0:
        drain()
        time.sleep(max(0, start + (i + 1) / n * 0.9 - time.time()))
end = time.time() + 1.0
while time.time() < end:
    drain(); time.sleep(0.01)
print(sent, got, resp, tc)
PY

MPORT=$(free_port)
start_server --rrl 20 --rrl-slip 2 --metrics "127.0.0.1:$MPORT" || exit 1
read -r sent got resp tc < <(python3 "$T/flood.py" "$PORT" 127.0.0.1 2000)
echo "  rrl on: sent $sent bytes, got $got bytes in $resp responses ($tc truncated)"
check "with --rrl: at most 3x the bytes sent come back" "1" "$([ "$got" -le $((3 * sent)) ] && echo 1)"
check "about half of the limited responses slip out truncated" "1" "$([ "$tc" -ge 500 ] && [ "$tc" -le 1200 ] && echo 1)"
check "the rate's worth is answered in full" "1" "$([ $((resp - tc)) -ge 20 ] && [ $((resp - tc)) -le 60 ] && echo 1)"
check "a real resolver retries the truncated answer over TCP and gets it" "127.0.0.2" \
      "$(dig +tcp +time=2 +tries=1 -b 127.0.0.1 @127.0.0.1 -p "$PORT" 44.2.0.192.bl.example A +short)"
read -r sent2 got2 resp2 tc2 < <(python3 "$T/flood.py" "$PORT" 127.1.2.3 10)
check "another address at its own pace is not affected (10 of 10 in full)" "10 0" "$resp2 $tc2"
m=$(curl -s --max-time 2 "http://127.0.0.1:$MPORT/metrics")
check_match "dropped responses are counted" "dnsbl_rrl_dropped_total [1-9]" "$m"
check_match "truncated ones too" "dnsbl_rrl_slipped_total [1-9]" "$m"
stop_server

start_server || exit 1
read -r sent got resp tc < <(python3 "$T/flood.py" "$PORT" 127.0.0.1 2000)
echo "  rrl off: sent $sent bytes, got $got bytes in $resp responses"
check "without --rrl the same flood is amplified (> 3x): the test measures something" "1" \
      "$([ "$got" -gt $((3 * sent)) ] && echo 1)"
finish
