#!/usr/bin/env bash
# The policy endpoints of dnsbl-server on loopback with real sockets: the Postfix policy protocol
# over TCP and a UNIX socket (tests/integration/policy_client.py: several requests on one
# connection, as smtpd reuses it), Dovecot's authentication policy over HTTP (curl). Decisions from
# listings made with dnsblctl, expiry without any write, domestic-only accounts with a test GeoIP file,
# protocol hygiene (malformed and oversized requests, idle timeout, the connection cap, wrong method,
# URL, key, JSON), SIGHUP reloading the [policy] keys.
. "$(dirname "$0")/lib.sh"

ZONES="$T/zones"
mkdir -p "$ZONES"
cp "$ROOT"/zones/*.conf "$ZONES/"
ctl stats >/dev/null        # creates the store and the zones' sub-databases

GEO="$T/geo.mmdb"
perl "$ROOT/tests/make-mmdb.pl" "$GEO" 127.0.0.0/24=JP 127.0.1.0/24=US ::1=JP 2>"$T/mmdb.err" ||
    { fail "tests/make-mmdb.pl writes a GeoIP file" "$(cat "$T/mmdb.err")"; finish; exit 1; }

PF=$(free_port); DV=$(free_port)
SOCK="$T/policy.sock"
printf 'X-API-Key: s3cret-key\n' >"$T/key"
MP=$(free_port)
start_server --metrics "127.0.0.1:$MP" --policy-postfix "127.0.0.1:$PF" --policy-postfix "unix:$SOCK" --policy-dovecot "127.0.0.1:$DV" \
    --policy-dovecot-key "$T/key" --policy-idle 2 --policy-max-conns 4 --geoip "$GEO" || exit 1
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done

pf() { python3 "$ROOT/tests/integration/policy_client.py" "${TARGET:-127.0.0.1:$PF}" "$@"; }
req() {   # req client_address [sasl_username] [sender]
    printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=%s\nclient_name=unknown\nhelo_name=x\nsender=%s\nrecipient=rcpt@test.example\nsasl_method=%s\nsasl_username=%s\nx_unknown_attribute=1=2\n\n' \
        "$1" "${3:-}" "${2:+PLAIN}" "${2:-}"
}
dv() {    # dv COMMAND JSON [curl options]: "HTTP_CODE BODY"
    local cmd=$1 body=$2; shift 2
    curl -s -m 5 -o "$T/dv.out" -w '%{http_code}' -H 'X-API-Key: s3cret-key' -H 'Content-Type: application/json' \
        -X POST --data-binary "$body" "$@" "http://127.0.0.1:$DV/?command=$cmd"
    printf ' %s' "$(cat "$T/dv.out" 2>/dev/null)"
}
login() { dv allow "{\"login\":\"$2\",\"pwhash\":\"abcd\",\"remote\":\"$1\",\"device_id\":\"\",\"protocol\":\"imap\",\"session_id\":\"s1\"}"; }

echo "-- Postfix: decisions"
ctl add bl.example 127.0.0.66 --code dha --reason "unknown recipients 40/41 in 10m" --expires 1h >/dev/null
ctl add acct.example mallory@test.example --code compromised --reason "logins from JP, US, BR, DE in 24h" >/dev/null
ctl add dbl.example spam.example --code volume --reason "mass volume 300 messages in 10m" >/dev/null
out=$( { req 127.0.0.10 alice@test.example a@friend.example; req 127.0.0.66 "" x@friend.example
         req 127.0.0.10 mallory@test.example m@test.example; req 127.0.0.10 "" offer@spam.example
         req 127.0.0.10 "" ""; } | pf)
mapfile -t r <<<"$out"
check "clean client and account: DUNNO" "action=DUNNO" "${r[0]}"
check "listed client: what reject_rbl_client answers" \
    "action=554 5.7.1 Service unavailable; Client host [127.0.0.66] blocked using bl.example; unknown recipients 40/41 in 10m" "${r[1]}"
check_match "compromised account: REJECT with the reason and until when" \
    '^action=REJECT account mallory@test\.example blocked by acct\.example: logins from JP, US, BR, DE in 24h \(until removed\)$' "${r[2]}"
check "listed sender domain: what reject_rhsbl_sender answers" \
    "action=554 5.7.1 Service unavailable; Sender address [offer@spam.example] blocked using dbl.example; mass volume 300 messages in 10m" "${r[3]}"
check "the null sender: DUNNO" "action=DUNNO" "${r[4]}"
check "five requests answered on one connection" "5" "${#r[@]}"
check "over the UNIX socket too" "action=554 5.7.1 Service unavailable; Client host [127.0.0.66] blocked using bl.example; unknown recipients 40/41 in 10m" \
    "$(req 127.0.0.66 | TARGET="unix:$SOCK" pf)"
check_match "IPv6 client" '^action=DUNNO$' "$(req 2001:db8::1 | pf)"
ctl add bl.example 127.0.0.77 --code auth --reason "authentication failures 10 in 10m" --expires 6s >/dev/null
expiry=$(( $(date +%s) + 6 ))
check_match "password guesser refused at submission" '^action=554 5\.7\.1 .*\[127\.0\.0\.77\] blocked using bl\.example; authentication failures' "$(req 127.0.0.77 | pf)"

echo "-- Dovecot: decisions"
check_match "password guesser refused at IMAP" \
    '^200 \{"status":-1,"msg":"address 127\.0\.0\.77 blocked by bl\.example: authentication failures 10 in 10m \(until 20[0-9-]+ [0-9:]+ UTC\)"\}$' \
    "$(login 127.0.0.77 bob@test.example)"
check "another address logs in" '200 {"status":0}' "$(login 127.0.0.10 bob@test.example)"
check "harvesting (dha) is no reason to refuse a login" '200 {"status":0}' "$(login 127.0.0.66 bob@test.example)"
check_match "compromised account refused from anywhere" '^200 \{"status":-1,"msg":"account mallory@test\.example blocked by acct\.example' \
    "$(login 127.0.0.10 mallory@test.example)"
check "report acknowledged" '200 {"status":0}' \
    "$(dv report '{"login":"bob","remote":"127.0.0.77","success":false,"policy_reject":true}')"
while [ "$(date +%s)" -le "$expiry" ]; do sleep 0.2; done
check "after expiry (no write, no operator): the guesser logs in again" '200 {"status":0}' "$(login 127.0.0.77 bob@test.example)"
check "... and submits again" "action=DUNNO" "$(req 127.0.0.77 | pf)"

echo "-- domestic-only"
check_match "dnsblctl domestic marks an account" 'carol@test\.example domestic-only: JP' "$(ctl domestic acct.example carol@test.example --why 'customer request, ticket 4711')"
check_match "from home (127.0.0.10 = JP): DUNNO" '^action=DUNNO$' "$(req 127.0.0.10 carol@test.example | pf)"
check_match "from abroad (127.0.1.5 = US): REJECT with the reason" \
    '^action=REJECT account carol@test\.example is domestic-only \(JP\); 127\.0\.1\.5 is in US \(until removed\)$' "$(req 127.0.1.5 carol@test.example | pf)"
check_match "login from abroad refused" '^200 \{"status":-1,"msg":"account carol@test\.example is domestic-only' "$(login 127.0.1.5 carol@test.example)"
check "login from home allowed" '200 {"status":0}' "$(login 127.0.0.10 carol@test.example)"
check "another account from abroad: allowed" '200 {"status":0}' "$(login 127.0.1.5 dave@test.example)"
check_match "dnsblctl show tells support why" 'acct\.example	account:carol@test\.example	domestic-only: submissions and logins from outside JP are refused	since .*customer request, ticket 4711' \
    "$(ctl show carol@test.example)"
check_match "the history records it" 'domestic	acct\.example' "$(ctl history)"
check "the mark is no DNS listing" "" "$(q "$(printf %s carol@test.example | sha256sum | cut -c1-32).acct.example" A)"
ctl undomestic acct.example carol@test.example >/dev/null
check "undomestic: from abroad accepted again" "action=DUNNO" "$(req 127.0.1.5 carol@test.example | pf)"
ctl undomestic acct.example carol@test.example >/dev/null 2>&1
check "undomestic of an unmarked account: exit 1" "1" "$?"

echo "-- Postfix protocol hygiene"
check_match "malformed request: a clear error, then the connection closes" \
    '^action=DEFER_IF_PERMIT 4\.3\.5 policy server: line without name=value\|\|$' "$(printf 'request=smtpd_access_policy\nthis is not an attribute\n\n' | pf --raw)"
check_match "a request that is not smtpd_access_policy: error and close" \
    '^action=DEFER_IF_PERMIT 4\.3\.5 policy server: not request=smtpd_access_policy\|\|$' "$(printf 'request=other\n\n' | pf --raw)"
big=$(python3 -c 'print("request=smtpd_access_policy\nx=" + "a" * 20000)')
check_match "request over 16 KiB: refused and closed" '^action=DEFER_IF_PERMIT 4\.3\.5 policy server: request too large\|\|' \
    "$(printf '%s\n\n' "$big" | pf --raw)"
t0=$(date +%s.%N)
r=$(python3 - "$PF" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"request=smtpd_access_policy\nclient_addr")    # half a request, then nothing
print("closed" if s.recv(100) == b"" else "data")
PY
)
d=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 1))")
check "a half request held back: closed by the idle timeout (2 s)" "closed" "$r"
python3 -c "import sys; sys.exit(0 if 1.5 <= $d <= 5 else 1)" && ok "... after ${d}s" || fail "closed after 2 s" "${d}s"
r=$(python3 - "$PF" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=3)
try:
    s.sendall(b"request=smtpd_access_policy\nclient_address=127.0.0.10\n\n")
    fifth = "closed" if s.recv(100) == b"" else "answered"
except OSError:
    fifth = "closed"
held[0].close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(b"request=smtpd_access_policy\nclient_address=127.0.0.10\n\n")
again = s.recv(100).decode().strip()
print(fifth, again)
PY
)
check "--policy-max-conns 4: a fifth connection is closed, and served once one ends" "closed action=DUNNO" "$r"
r=$(python3 - "$PF" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
req = b"request=smtpd_access_policy\nclient_address=127.0.0.66\n\n"
for b in req:                       # byte by byte
    s.send(bytes([b]))
s.sendall(req * 200)                # then pipelined
data = b""
while data.count(b"\n\n") < 201:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.count(b"\n\n"))
PY
)
check "a request trickled byte by byte, then 200 pipelined: 201 replies" "201" "$r"
r=$(python3 - "$PF" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
hog = socket.create_connection(("127.0.0.1", port), timeout=5)
hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
req = b"request=smtpd_access_policy\r\nclient_address=127.0.0.66\r\n\r\n"
sent = 0
hog.setblocking(False)
end = time.time() + 3
while time.time() < end and sent < 5000000:       # requests, never reading a reply
    try:
        sent += hog.send(req * 100)
    except BlockingIOError:
        time.sleep(0.01)
t = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(b"request=smtpd_access_policy\nclient_address=127.0.0.10\n\n")
other = s.recv(100).decode().strip()
ms = (time.time() - t) * 1000
hog.setblocking(True)
hog.settimeout(10)
got = 0
try:
    while True:                                     # now read: the replies, then the close
        chunk = hog.recv(1 << 20)
        if not chunk:
            break
        got += chunk.count(b"\n\n")
except OSError:
    pass
print(other, "fast" if ms < 1000 else "slow %.0f ms" % ms, "answered-when-read" if got > 0 else "nothing")
PY
)
check "a client sending 1000s of CRLF requests and reading none: others answered at once; it gets its replies once it reads" \
    "action=DUNNO fast answered-when-read" "$r"

echo "-- Dovecot protocol hygiene"
check_match "GET: 405" '^405 ' "$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -H 'X-API-Key: s3cret-key' "http://127.0.0.1:$DV/?command=allow")"
check_match "another URL: 404" '^404 ' "$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -H 'X-API-Key: s3cret-key' -d '{}' "http://127.0.0.1:$DV/other?command=allow")"
check_match "no command: 400" '^400 ' "$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -H 'X-API-Key: s3cret-key' -d '{}' "http://127.0.0.1:$DV/")"
check_match "not JSON: 400" '^400 ' "$(dv allow 'login=bob')"
check_match "a JSON array: 400" '^400 ' "$(dv allow '[1,2]')"
check_match "login of the wrong type: 400" '^400 ' "$(dv allow '{"login":42}')"
deep=$(python3 -c 'print("{\"a\":" * 50 + "1" + "}" * 50)')
check_match "JSON nested 50 deep: 400" '^400 ' "$(dv allow "$deep")"
huge=$(python3 -c 'print("{\"login\":\"" + "a" * 20000 + "\"}")')
check_match "body over 16 KiB: 413" '^413 ' "$(dv allow "$huge")"
check_match "no API key: 401" '^401 ' "$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -d '{}' "http://127.0.0.1:$DV/?command=allow")"
check_match "wrong API key: 401" '^401 ' "$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -H 'X-API-Key: s3cret-kex' -d '{}' "http://127.0.0.1:$DV/?command=allow")"
check "still answering after all that" '200 {"status":0}' "$(login 127.0.0.10 bob@test.example)"

echo "-- SIGHUP reloads the [policy] keys"
printf '\n[policy]\nreject-code = 450\ndovecot-tarpit = 3\n' >>"$ZONES/bl.example.conf"
kill -HUP "$SERVER_PID"
for _ in $(seq 30); do grep -q 'reloaded' "$T/server.log" && break; sleep 0.1; done
check_match "reject-code 450: a temporary refusal" '^action=450 4\.7\.1 Service unavailable; Client host \[127\.0\.0\.66\]' "$(req 127.0.0.66 | pf)"
ctl add bl.example 127.0.0.78 --code auth --reason "authentication failures 12 in 10m" >/dev/null
check_match "dovecot-tarpit 3: status 3" '^200 \{"status":3,"msg":"address 127\.0\.0\.78' "$(login 127.0.0.78 bob@test.example)"

m=$(curl -s -m 5 "http://127.0.0.1:$MP/metrics")
check_match "/metrics counts Postfix rejections" 'dnsbl_policy_requests_total\{endpoint="postfix",answer="reject"\} [1-9]' "$m"
check_match "/metrics counts Dovecot refusals" 'dnsbl_policy_requests_total\{endpoint="dovecot",answer="refuse"\} [1-9]' "$m"
check_match "/metrics counts bad requests" 'dnsbl_policy_bad_requests_total [1-9]' "$m"
check_match "/metrics counts refused connections" 'dnsbl_policy_refused_connections_total [1-9]' "$m"

stop_server
check "the server stops cleanly" "0" "$SERVER_STATUS"
check "the UNIX socket is removed" "no" "$([ -e "$SOCK" ] && echo yes || echo no)"
finish
