#!/usr/bin/env bash
# scripts/demo, README's first command after the build: the feeder, dnsblctl and dnsbl-server on the
# embedded sample data, answering dig with what each kind of abuse in the log earned; the server
# stopped by the script itself. Also its --help and a bad option.
. "$(dirname "$0")/lib.sh"

out=$("$ROOT/scripts/demo" --help)
check "demo --help: exit 0" "0" "$?"
check_match "demo --help: says how" "usage: scripts/demo" "$out"
"$ROOT/scripts/demo" --bogus >/dev/null 2>&1
check "demo with an unknown option: exit 2" "2" "$?"

PORT=$(free_port)
DEMO_BIN="$BIN" DEMO_DIR="$T/demo" DEMO_PORT="$PORT" timeout 120 "$ROOT/scripts/demo" >"$T/demo.log" 2>&1
check "demo: exit 0" "0" "$?"
log=$(cat "$T/demo.log")
# the answer column of a name the demo asked ("NAME TYPE ANSWER # note")
answer() { awk -v n="$1" -v t="$2" '$1 == n && $2 == t { sub(/ *#.*/, ""); $1 = $2 = ""; sub(/^ +/, ""); print; exit }' "$T/demo.log"; }
check "RFC 5782 test point listed" "127.0.0.2" "$(answer 2.0.0.127.bl.example A)"
check "RFC 5782 test point 127.0.0.1 not listed" "(NXDOMAIN)" "$(answer 1.0.0.127.bl.example A)"
check "directory harvest from the log: 127.0.0.2" "127.0.0.2" "$(answer 1.20.1.127.bl.example A)"
check_match "... and the TXT says why" "unknown recipients [0-9]+/[0-9]+ in 10m" "$(answer 1.20.1.127.bl.example TXT)"
check "backscatter: 127.0.0.3" "127.0.0.3" "$(answer 1.40.1.127.bl.example A)"
check "SMTP AUTH guessing: 127.0.0.4" "127.0.0.4" "$(answer 1.50.1.127.bl.example A)"
check "IMAP guessing (Dovecot): 127.0.0.4" "127.0.0.4" "$(answer 1.80.1.127.bl.example A)"
check "a clean client: NXDOMAIN" "(NXDOMAIN)" "$(answer 1.10.1.127.bl.example A)"
check_match "an imported listing answers its TXT" '^".+"' "$(answer 25.2.0.192.bl.example TXT)"
check "a clean sender domain: NXDOMAIN" "(NXDOMAIN)" "$(answer partner.example.org.dbl.example A)"
check_match "dnsblctl show explains the harvest listing" "dha: [0-9]+ unknown of [0-9]+ RCPTs" "$log"

pid=$(sed -n 's/.*(dnsbl-server pid \([0-9]*\)).*/\1/p' "$T/demo.log")
check_match "the demo names its server's pid" "^[0-9]+$" "$pid"
check "the server removed its pidfile when stopped" "no" "$([ -e "$T/demo/server.pid" ] && echo yes || echo no)"
alive=no
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=yes
check "the demo stopped its server" "no" "$alive"
[ "$alive" = yes ] && PIDS+=("$pid")
cp "$T/demo/server.log" "$T/demo-server.log" 2>/dev/null
finish
