#!/usr/bin/env bash
# IXFR from the change journal, followed by a real secondary: a private Knot DNS (knotd) on loopback
# loads bl.example and dbl.example by AXFR, then follows 1,000+ changes in rounds (imports, delistings,
# allow entries, domain wildcards, listings that expire and a `dnsblctl expire` that records them) by
# IXFR: Knot's log shows IXFR transfers and no AXFR-style answer after the first load, the server's
# log says each came from the journal, and Knot answers a query list (every changed name, plus names
# around them, allow holes included) exactly as the primary does: rcode, A and TXT. A secondary asking from a serial the
# journal no longer holds gets the whole zone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packages.sh"
. "$(dirname "$0")/knot.sh"
trap 'package_cleanup; cleanup' EXIT

KNOT_PID=
die() { fail "$1" "${2:-}"; finish; exit 1; }

command -v knotd >/dev/null || needs_root "apt-get install knot"
install_package knotd knot knotd || die "knotd is installed (apt-get install knot)" "$(tail -5 "$T/apt.log" 2>/dev/null)"

KPORT=$(free_port)
transfer_zones "$KPORT"

# a starting zone of 2,000 listings, before Knot's first (AXFR) load
python3 - >"$T/base.txt" <<'PY'
for i in range(2000):
    print("10.%d.%d.%d" % (i // 65536 + 1, (i // 256) % 256, i % 256))
PY
ctl import bl.example "$T/base.txt" >/dev/null || die "the starting zone is imported"
ctl add dbl.example first.example >/dev/null || die "dbl.example has a first listing"
start_server --verbose || exit 1

start_knot "$KPORT" changes

# in_sync ZONE: wait (at most 20 s) until Knot has the primary's serial
in_sync() {
    local want got
    for _ in $(seq 80); do
        want=$(serial_of "$PORT" "$1"); got=$(serial_of "$KPORT" "$1")
        [ -n "$want" ] && [ "$want" = "$got" ] && return 0
        sleep 0.25
    done
    echo "primary $want, Knot $got"
    return 1
}
out=$(in_sync bl.example) && ok "Knot loads bl.example (2,000 listings)" || fail "Knot loads bl.example" "$out"
out=$(in_sync dbl.example) && ok "Knot loads dbl.example" || fail "Knot loads dbl.example" "$out"
first_load=$(wc -l <"$T/knot.log")

# ---- rounds of changes, each followed by IXFR ----
changes=0
: >"$T/names.txt"
for round in 1 2 3 4 5; do
    python3 - "$round" "$T" <<'PY'
import random, sys
r, t = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(r)
adds, dels, names = [], [], []
for i in range(150):                               # new /32s, some inside listed networks
    a = "10.%d.%d.%d" % (rnd.randrange(1, 4), rnd.randrange(0, 40), rnd.randrange(256))
    adds.append(a)
for i in range(10):                                # networks, IPv6
    adds.append("172.%d.%d.0/24" % (16 + r, i))
    adds.append("2001:db8:%x:%x::/64" % (r, i))
for i in range(20):                                # delistings of the starting zone
    k = rnd.randrange(2000)
    dels.append("10.%d.%d.%d" % (k // 65536 + 1, (k // 256) % 256, k % 256))
open(t + "/adds.txt", "w").write("\n".join(adds) + "\n")
open(t + "/dels.txt", "w").write("\n".join(sorted(set(dels))) + "\n")
doms = ["d%d-%d.example" % (r, i) for i in range(15)] + [".w%d.example" % r, "*.s%d.example" % r]
open(t + "/doms.txt", "w").write("\n".join(doms) + "\n")
PY
    ctl import bl.example "$T/adds.txt" >/dev/null || fail "round $round: import"
    changes=$((changes + $(wc -l <"$T/adds.txt")))
    while read -r e; do
        ctl delist bl.example "$e" >/dev/null 2>&1 && changes=$((changes + 1))
    done <"$T/dels.txt"
    # an allow entry inside a listed /24: the /24's wildcard gives way to its 255 sibling names
    ctl allow bl.example "172.$((16 + round)).3.7" >/dev/null && changes=$((changes + 1))
    ctl import dbl.example "$T/doms.txt" >/dev/null || fail "round $round: domain import"
    changes=$((changes + $(wc -l <"$T/doms.txt")))
    cat "$T/adds.txt" "$T/dels.txt" >>"$T/names.txt"
    echo "172.$((16 + round)).3.7" >>"$T/names.txt"
    sed 's/^[.*]*//; s/^/D:/' "$T/doms.txt" >>"$T/names.txt"
    out=$(in_sync bl.example) && out2=$(in_sync dbl.example) && ok "round $round: Knot follows" ||
        fail "round $round: Knot follows" "$out ${out2:-}"
done
# listings that expire: the serial is raised by `dnsblctl expire`, which journals them as removals
head -40 "$T/base.txt" | tail -30 >"$T/exp.txt"
ctl import bl.example "$T/exp.txt" --expires 2s >/dev/null
sleep 1
in_sync bl.example >/dev/null
sleep 2
ctl expire >/dev/null
changes=$((changes + 30))
cat "$T/exp.txt" >>"$T/names.txt"
out=$(in_sync bl.example) && ok "after the expiry Knot follows" || fail "after the expiry Knot follows" "$out"
check "at least 1,000 changes ($changes)" "1" "$([ "$changes" -ge 1000 ] && echo 1)"

# ---- how Knot got them ----
after=$(tail -n +"$((first_load + 1))" "$T/knot.log")
nixfr=$(grep -c "IXFR, incoming.*finished" <<<"$after")
check "Knot's log shows IXFR transfers (>= 6: $nixfr)" "1" "$([ "$nixfr" -ge 6 ] && echo 1)"
check_nomatch "and no AXFR-style answer or AXFR after the first load" "AXFR-style|AXFR, incoming" "$after"
check_match "the server answered them from the journal" "IXFR bl\.example to 127\.0\.0\.1: serial [0-9]+ -> [0-9]+ from the journal" "$(cat "$T/server.log")"
check_nomatch "no IXFR fell back to the whole zone" "is not in the journal" "$(cat "$T/server.log")"

# ---- the same answers: every changed name and its neighbours ----
cat >"$T/compare.py" <<'PY'
import ipaddress, random, socket, struct, sys
p1, p2, names = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def qname(e):
    if e.startswith("D:"):
        return e[2:] + ".dbl.example"
    net = ipaddress.ip_network(e, strict=False)
    a = net.network_address + (9 if net.num_addresses > 16 else 0)
    rp = a.reverse_pointer
    return rp.replace(".in-addr.arpa", "").replace(".ip6.arpa", "") + ".bl.example"
def ask(port, name, qtype):
    q = struct.pack(">HHHHHH", 0x1234, 0, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    for _ in range(3):
        try:
            s.sendto(q, ("127.0.0.1", port)); r = s.recv(65535); break
        except socket.timeout:
            r = None
    if r is None:
        return "timeout"
    rcode, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
    pos = len(q); out = []
    for _ in range(an):
        while r[pos] and r[pos] < 0xc0: pos += r[pos] + 1
        pos += 2 if r[pos] >= 0xc0 else 1
        t, _, _, rdl = struct.unpack(">HHIH", r[pos:pos + 10])
        out.append((t, r[pos + 10:pos + 10 + rdl].hex())); pos += 10 + rdl
    return (rcode, sorted(out))
entries = [l.strip() for l in open(names) if l.strip()]
rnd = random.Random(7)
qs = set()
for e in entries:
    qs.add(qname(e))
    if not e.startswith("D:"):
        a = ipaddress.ip_network(e, strict=False).network_address
        qs.add(qname(str(a + 1)))
    else:
        qs.add("x." + qname(e)); qs.add("a.b." + qname(e))
for _ in range(300):
    qs.add(qname("10.%d.%d.%d" % (rnd.randrange(1, 4), rnd.randrange(0, 40), rnd.randrange(256))))
diff = 0; listed = 0
for n in sorted(qs):
    for t in (1, 16):
        a, b = ask(p1, n, t), ask(p2, n, t)
        listed += t == 1 and a != "timeout" and a[0] == 0 and len(a[1]) > 0
        if a != b:
            diff += 1
            if diff <= 3: print("DIFF", n, t, a, b, file=sys.stderr)
print(len(qs), diff, listed)
PY
read -r nq ndiff nlisted < <(python3 "$T/compare.py" "$PORT" "$KPORT" "$T/names.txt" 2>"$T/compare.err")
check "Knot answers $nq names ($nlisted listed) exactly as the primary" "0" "$ndiff"
[ "$ndiff" = 0 ] || cat "$T/compare.err"

# ---- a serial older than the journal: the whole zone ----
axfr=$(dig +time=5 +tries=1 @127.0.0.1 -p "$PORT" bl.example AXFR +short | wc -l)
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$PORT" bl.example "IXFR=12345" +short | wc -l)
check "IXFR from a serial the journal never held: the whole zone" "$axfr" "$out"
serial=$(serial_of "$PORT" bl.example)
ctl add bl.example 192.0.2.200 >/dev/null
out=$(dig +time=5 +tries=1 @127.0.0.1 -p "$PORT" bl.example "IXFR=$serial" +short)
check "IXFR over one change: SOA new, SOA old, SOA new, A and TXT added, SOA new" "6" "$(wc -l <<<"$out")"

kill "$KNOT_PID" 2>/dev/null
stop_server
check "server stops cleanly" "0" "$SERVER_STATUS"
finish
