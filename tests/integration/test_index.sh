#!/usr/bin/env bash
# The in-memory index (--index-memory): built for every zone, it answers exactly as the store does
# (a server without indexes on the same store gives byte-identical answers to a query list over IPv4,
# IPv6 and domain listings, allow holes, wildcards and misses); a listing changed while the server runs
# is answered at once (the stale index is not used) and after the rebuild; a zone over the budget is
# answered from the store; indexes are replaced many times under query load without a sanitizer report.
. "$(dirname "$0")/lib.sh"

metric() {  # metric PORT NAME: the value of the first sample whose line starts with NAME
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk -v n="$2" 'index($0, n) == 1 { print $2; exit }'
}
wait_metric_at_least() {    # wait_metric_at_least PORT NAME MIN: within 10 s
    for _ in $(seq 100); do
        [ "$(metric "$1" "$2" || true)" -ge "$3" ] 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

python3 - "$T" <<'EOF'
import ipaddress, random, sys
r = random.Random(11)
t = sys.argv[1]
with open(f"{t}/v4.txt", "w") as f4, open(f"{t}/v6.txt", "w") as f6, open(f"{t}/dom.txt", "w") as fd:
    for i in range(1500):
        f4.write(f"10.{r.randrange(4)}.{r.randrange(256)}.{r.randrange(256)}\n")
        f6.write(f"2001:db8:{r.randrange(8):x}:{r.randrange(65536):x}::/64\n")
        fd.write(f"h{r.randrange(100000)}.d{r.randrange(30)}.example\n")
    f4.write("10.9.0.0/24\n")
    fd.write("*.wild.example\n")
EOF
ctl import bl.example "$T/v4.txt" >/dev/null 2>&1
ctl import bl.example "$T/v6.txt" >/dev/null 2>&1
ctl import dbl.example "$T/dom.txt" >/dev/null 2>&1
ctl allow bl.example 10.9.0.7 >/dev/null
ctl allow dbl.example ok.wild.example >/dev/null
python3 - "$T" <<'EOF'
import ipaddress, random, sys
r = random.Random(12)
t = sys.argv[1]
v4 = open(f"{t}/v4.txt").read().split()
v6 = open(f"{t}/v6.txt").read().split()
dom = [d for d in open(f"{t}/dom.txt").read().split() if not d.startswith("*")]
rev = lambda a: ipaddress.ip_address(a).reverse_pointer.rsplit(".", 2)[0]
names = []
for i in range(150):
    a = r.choice(v4[:-1]) if i % 2 else f"10.{r.randrange(4)}.{r.randrange(256)}.{r.randrange(256)}"
    names.append(rev(a) + ".bl.example")
    n = ipaddress.ip_network(r.choice(v6)) if i % 2 else ipaddress.ip_network(f"2001:db8:{r.randrange(8):x}:{r.randrange(65536):x}::/64")
    names.append(rev(str(n.network_address + r.randrange(1 << 20))) + ".bl.example")
    names.append((r.choice(dom) if i % 2 else f"h{r.randrange(100000)}.d{r.randrange(30)}.example") + ".dbl.example")
names += ["7.0.9.10.bl.example", "8.0.9.10.bl.example", "ok.wild.example.dbl.example",
          "x.ok.wild.example.dbl.example", "a.wild.example.dbl.example", "d3.example.dbl.example"]
with open(f"{t}/queries", "w") as f:
    for n in names:
        f.write(f"{n} A\n{n} TXT\n")
EOF

start_server --index-memory 0 || exit 1
PLAIN=$PORT; PLAIN_PID=$SERVER_PID
MPORT=$(free_port)
start_server --metrics "127.0.0.1:$MPORT" --verbose || exit 1
echo "dnsbl-server on port $PORT (indexed), $PLAIN (no index)"
wait_metric_at_least "$MPORT" 'dnsbl_index_keys{zone="bl.example"}' 2900 && ok "the IP zone was indexed" ||
    fail "the IP zone was indexed" "$(curl -s "http://127.0.0.1:$MPORT/metrics" | grep index)"
wait_metric_at_least "$MPORT" 'dnsbl_index_keys{zone="dbl.example"}' 1000 && ok "the domain zone was indexed" ||
    fail "the domain zone was indexed"

answers() {     # answers PORT: every query of the list, its rcode and answer section
    dig +time=2 +tries=1 @127.0.0.1 -p "$1" -f "$T/queries" +noall +comments +answer | grep -vE '^;; (Got|Query time|WHEN|SERVER|MSG SIZE)|^$|->>HEADER<<-' |
        sed 's/, id: [0-9]*//'
}
dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" -f "$T/queries" | grep -o 'status: [A-Z]*' | sort | uniq -c >"$T/rcodes"
answers "$PORT" >"$T/indexed"
answers "$PLAIN" >"$T/plain"
check "indexed and unindexed answers identical ($(wc -l <"$T/queries") queries)" "" "$(diff "$T/indexed" "$T/plain" | head -5)"
check_match "the query list has listed and unlisted names" "NOERROR.*NXDOMAIN|NXDOMAIN.*NOERROR" "$(tr '\n' ' ' <"$T/rcodes")"
check "allow hole in a listed /24" "" "$(q 7.0.9.10.bl.example A)"
check_match "its neighbour listed" '^127\.0\.0\.[0-9]+$' "$(q 8.0.9.10.bl.example A)"

# changes while running: answered at once, and after the rebuild
builds=$(metric "$MPORT" dnsbl_index_builds_total)
ctl add bl.example 2001:db8:ff::/64 --code dha >/dev/null
ctl add dbl.example fresh.example --code volume >/dev/null
check "IPv6 listing added while indexed: at once" "127.0.0.2" "$(q "$(rev6 2001:db8:ff::1).bl.example" A)"
check "domain added while indexed: at once" "127.0.1.5" "$(q fresh.example.dbl.example A)"
wait_metric_at_least "$MPORT" dnsbl_index_builds_total $((builds + 2)) && ok "rebuilt after the change" ||
    fail "rebuilt after the change"
check "IPv6 listing after the rebuild" "127.0.0.2" "$(q "$(rev6 2001:db8:ff::1).bl.example" A)"
check "domain after the rebuild" "127.0.1.5" "$(q fresh.example.dbl.example A)"
ctl delist dbl.example fresh.example >/dev/null
check "delisted while indexed: at once" "NXDOMAIN" "$(status fresh.example.dbl.example A)"

# indexes replaced many times while queries run: the grace period (ASan reports a use after free)
( for _ in 1 2 3 4 5 6; do dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" -f "$T/queries" >/dev/null 2>&1; done ) &
QPID=$!; PIDS+=("$QPID")
for i in $(seq 1 25); do
    ctl add dbl.example "churn$i.example" --code volume >/dev/null
    sleep 0.15
done
wait "$QPID"
answers "$PORT" >"$T/indexed2"
answers "$PLAIN" >"$T/plain2"
check "after 25 rebuilds under load: answers still identical" "" "$(diff -U3 "$T/indexed2" "$T/plain2" | head -20)"
check "a churned name" "127.0.1.5" "$(q churn25.example.dbl.example A)"
kill -0 "$SERVER_PID" 2>/dev/null && ok "the indexed server is alive" || fail "the indexed server is alive"
stop_server
PORT=$PLAIN; SERVER_PID=$PLAIN_PID; stop_server

# a budget too small for the zones (40,000 more entries: over 1 MB): answered from the store, and said
python3 -c 'for i in range(40000): print(f"172.{16 + i // 65536}.{i // 256 % 256}.{i % 256}")' >"$T/many.txt"
ctl import bl.example "$T/many.txt" >/dev/null 2>&1
: >"$T/server.log"
start_server --index-memory 1 --verbose || exit 1
sleep 0.5
check_match "over the budget: the zone is still answered" '^127\.0\.0\.[0-9]+$' "$(q 9.39.16.172.bl.example A)"
check_match "over the budget: logged" "index would pass --index-memory" "$(cat "$T/server.log")"
# a zone that did not fit is not copied again at every serial (a minute's backoff), but after a reload
for i in 1 2 3 4 5; do ctl add bl.example "172.31.0.$i" --code dha >/dev/null; sleep 0.3; done
attempts() { grep -c 'zone bl.example: indexing' "$T/server.log"; }
check "over the budget: not tried again at each change" "1" "$(attempts)"
check "over the budget: logged once" "1" "$(grep -c 'bl.example: its index would pass' "$T/server.log")"
kill -HUP "$SERVER_PID"
for _ in $(seq 50); do [ "$(attempts)" -ge 2 ] && break; sleep 0.1; done
check "over the budget: tried again after a reload" "2" "$(attempts)"
check_match "over the budget: answered after the reload" '^127\.0\.0\.[0-9]+$' "$(q 3.0.31.172.bl.example A)"
stop_server

"$BIN/dnsbl-server" --index-memory -1 >"$T/bad.out" 2>&1
check "negative --index-memory refused" "2" "$?"
"$BIN/dnsbl-server" --index-memory lots >"$T/bad.out" 2>&1
check "--index-memory lots refused" "2" "$?"
finish
