# lib.sh - helpers for integration tests: start the real binaries on loopback, query them with dig,
# count checks, and clean up every process by PID. Sourced by tests/integration/test_*.sh.
#
# Every wait is bounded; all traffic goes to 127.0.0.1 or ::1.
set -u

: "${BIN:?BIN must point at the directory holding dnsbl-server and dnsblctl}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dnsbl-test.XXXXXX")
PASS=0
FAIL=0
PIDS=()
PORT=

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "  ok   $1"; }
fail() { FAIL=$((FAIL + 1)); echo "  FAIL $1"; [ $# -gt 1 ] && echo "       $2"; return 0; }

# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected [$2] got [$3]"; fi
}
# check_match DESCRIPTION REGEX ACTUAL
check_match() {
    if [[ "$3" =~ $2 ]]; then ok "$1"; else fail "$1" "expected /$2/ in [$3]"; fi
}
check_nomatch() {
    if [[ "$3" =~ $2 ]]; then fail "$1" "did not expect /$2/ in [$3]"; else ok "$1"; fi
}

# A port that nothing listens on (UDP or TCP) right now, below the kernel's ephemeral range: a server
# port inside it can be picked by dig as its own source port, and dig's connected socket then receives
# its own query (flaky "query response not set"). 20000 up to the range's start (32768 by default).
free_port() {
    local p lo
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    [ "$lo" -gt 21000 ] 2>/dev/null || lo=32768
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % (lo - 20000)))
        if ! ss -Hlnu "sport = :$p" | grep -q . && ! ss -Hlnt "sport = :$p" | grep -q .; then
            echo "$p"; return 0
        fi
    done
    return 1
}

# start_server [extra dnsbl-server options]: zones from $ZONES (default the repo's), store $T/db.
start_server() {
    PORT=$(free_port)
    "$BIN/dnsbl-server" --db "$T/db" --zones "${ZONES:-$ROOT/zones}" --listen "127.0.0.1:$PORT" \
        --listen "[::1]:$PORT" --foreground "$@" >>"$T/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_answering "$PORT" || { echo "server did not start:"; cat "$T/server.log"; return 1; }
}

wait_answering() {
    for _ in $(seq 50); do
        dig +time=1 +tries=1 @127.0.0.1 -p "$1" bl.example SOA >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$SERVER_PID" 2>/dev/null
    SERVER_STATUS=$?
}

# q NAME TYPE [dig options]: the answer section, short form, one line per record, sorted.
q() {
    local name=$1 type=$2; shift 2
    dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$name" "$type" +short "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
# status NAME TYPE [dig options]: the rcode word (NOERROR, NXDOMAIN, ...)
status() {
    local name=$1 type=$2; shift 2
    dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$name" "$type" "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}
# full NAME TYPE [dig options]: the whole dig output
full() {
    local name=$1 type=$2; shift 2
    dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$name" "$type" "$@"
}

ctl() { "$BIN/dnsblctl" --db "$T/db" --zones "${ZONES:-$ROOT/zones}" "$@"; }

# Reversed-name helpers for queries
rev4() { local IFS=.; set -- $1; echo "$4.$3.$2.$1"; }
rev6() { python3 -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]).reverse_pointer.replace(".ip6.arpa",""))' "$1"; }

# finish: fail on sanitizer reports in any log, print the totals, exit non-zero on failure.
finish() {
    if grep -lE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T"/*.log >/dev/null 2>&1; then
        fail "no sanitizer reports in the server logs" "$(grep -hE -A20 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T"/*.log | head -40)"
    fi
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}

# needs_root WHY: a test that only root can run ends here, counted as neither passed nor failed, with a
# line that says so, when the user is not root (make test as an ordinary user). docs/tests.md lists
# these tests.
needs_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    echo "  skip: needs root ($1)"
    finish
    exit 0
}

