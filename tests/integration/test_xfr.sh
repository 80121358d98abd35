#!/usr/bin/env bash
# Zone transfers to a real secondary: a private Knot DNS (knotd) on loopback takes bl.example and
# dbl.example from dnsbl-server by AXFR/IXFR after each NOTIFY. Listings added with dnsblctl appear
# on Knot with the same A and TXT answers as on the primary (a /24, a /16 with a /32 inside, IPv6, a
# /64, wildcard domains, the test points), a listing that expires disappears from Knot too, the
# allow-transfer ACL refuses other sources, UDP AXFR gets TC, and `dig AXFR` output is a valid zone.
#
# Installs Debian's knot package if knotd is missing (no service is left running: the package's own
# knotd, if it started one, is stopped). Every wait is bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packages.sh"
. "$(dirname "$0")/knot.sh"
trap 'package_cleanup; cleanup' EXIT

KNOT_PID=
die() { fail "$1" "${2:-}"; finish; exit 1; }

command -v knotd >/dev/null || needs_root "apt-get install knot"
install_package knotd knot knotd || die "knotd is installed (apt-get install knot)" "$(tail -5 "$T/apt.log" 2>/dev/null)"

# ---- the primary: the repository's zones, transferable by 127.0.0.1 and notifying Knot ----
KPORT=$(free_port)
transfer_zones "$KPORT"
start_server --verbose || exit 1

# ---- the secondary ----
start_knot "$KPORT" none

kq() {  # kq NAME TYPE: Knot's answer, short form, sorted
    dig +time=2 +tries=1 @127.0.0.1 -p "$KPORT" "$1" "$2" +short | sort | tr '\n' ' ' | sed 's/ $//'
}
kstatus() { dig +time=2 +tries=1 @127.0.0.1 -p "$KPORT" "$1" "$2" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
# wait_for DESCRIPTION EXPECTED COMMAND...: poll (at most 15 s) until the command prints EXPECTED
wait_for() {
    local what=$1 want=$2 got=; shift 2
    for _ in $(seq 60); do
        got=$("$@" 2>/dev/null)
        [ "$got" = "$want" ] && { ok "$what"; return 0; }
        sleep 0.25
    done
    fail "$what" "expected [$want] got [$got]"
}

wait_for "Knot loads bl.example from the primary" "$(serial_of "$PORT" bl.example)" serial_of "$KPORT" bl.example
wait_for "Knot loads dbl.example from the primary" "$(serial_of "$PORT" dbl.example)" serial_of "$KPORT" dbl.example
check "Knot answers the test point" "127.0.0.2" "$(kq 2.0.0.127.bl.example A)"

# ---- listings appear on the secondary after NOTIFY ----
ctl add bl.example 192.0.2.10 --code dha --reason "harvesting 25/30 in 10m" >/dev/null
ctl add bl.example 198.51.100.0/24 --code volume >/dev/null
ctl add bl.example 203.0.0.0/16 --code auth >/dev/null
ctl add bl.example 203.0.113.9 --code dha >/dev/null
ctl add bl.example 2001:db8::25 --code backscatter >/dev/null
ctl add bl.example 2001:db8:1:2::/64 --code volume >/dev/null
ctl add bl.example 10.20.0.0/20 --code auth >/dev/null
ctl add dbl.example spammer.example >/dev/null
ctl add dbl.example .bounces.example --code volume >/dev/null
ctl add dbl.example mail.x.bounces.example --code manual >/dev/null
wait_for "a new listing reaches Knot after the NOTIFY (<= 15 s)" "127.0.0.3" kq "$(rev6 2001:db8::25).bl.example" A
wait_for "dbl.example changes reach Knot too" "127.0.1.3" kq spammer.example.dbl.example A
check_match "the server logged the NOTIFY (debug)" "notify bl\.example serial [0-9]+ to 127\.0\.0\.1:$KPORT" "$(cat "$T/server.log")"
check_match "Knot acknowledged it" "notify bl\.example serial [0-9]+ to 127\.0\.0\.1:$KPORT: acknowledged" "$(cat "$T/server.log")"

same() {    # same DESCRIPTION NAME: A and TXT (or the rcode when not listed) alike on both servers
    local a b
    a="$(q "$2" A) | $(q "$2" TXT) | $(status "$2" A)"
    b="$(kq "$2" A) | $(kq "$2" TXT) | $(kstatus "$2" A)"
    if [ "$a" = "$b" ]; then ok "$1"; else fail "$1" "primary [$a] Knot [$b]"; fi
}
same "a /32 with its own TXT" "$(rev4 192.0.2.10).bl.example"
same "an address inside a /24" "$(rev4 198.51.100.77).bl.example"
same "the /16 around a listed /32" "$(rev4 203.0.113.10).bl.example"
same "the /32 inside the /16" "$(rev4 203.0.113.9).bl.example"
same "elsewhere in the /16" "$(rev4 203.0.7.1).bl.example"
same "a /20 (expanded to /24 wildcards)" "$(rev4 10.20.15.3).bl.example"
same "just past the /20" "$(rev4 10.20.16.3).bl.example"
same "an IPv6 address" "$(rev6 2001:db8::25).bl.example"
same "inside an IPv6 /64" "$(rev6 2001:db8:1:2:a:b:c:d).bl.example"
same "an unlisted IPv6 address" "$(rev6 2001:db8::26).bl.example"
same "an unlisted address" "$(rev4 192.0.2.11).bl.example"
same "the IPv4 test point" "2.0.0.127.bl.example"
same "the IPv6 test point" "$(rev6 ::ffff:7f00:2).bl.example"
same "127.0.0.1 is not listed" "1.0.0.127.bl.example"
same "a listed domain" "spammer.example.dbl.example"
same "a subdomain of an exact-only domain" "www.spammer.example.dbl.example"
same "a wildcard domain itself" "bounces.example.dbl.example"
same "below a wildcard domain" "a.b.bounces.example.dbl.example"
same "a name between a wildcard and a listing below it" "x.bounces.example.dbl.example"
same "the listing below the wildcard" "mail.x.bounces.example.dbl.example"
same "below that listing" "smtp.mail.x.bounces.example.dbl.example"
same "TEST in the domain zone" "test.dbl.example"

# ---- expiry: no store write, but a writer raises the serial and Knot follows ----
# dnsbl-server opens the store read-only; the feeder (here following an empty log) records expiries.
: >"$T/empty.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ZONES" "$T/empty.log" 2>>"$T/feeder.log" &
PIDS+=($!)
ctl add bl.example 192.0.2.77 --code backscatter --expires 3s >/dev/null
wait_for "a listing with --expires 3s reaches Knot" "127.0.0.3" kq "$(rev4 192.0.2.77).bl.example" A
before=$(serial_of "$PORT" bl.example)
wait_for "after it expires it disappears from Knot too (<= 15 s)" "NXDOMAIN" kstatus "$(rev4 192.0.2.77).bl.example" A
check "the feeder raised the serial for the expiry" "1" "$([ "$(serial_of "$PORT" bl.example)" -gt "$before" ] && echo 1)"
check "primary and Knot agree on the serial" "$(serial_of "$PORT" bl.example)" "$(serial_of "$KPORT" bl.example)"

# ---- delisting ----
ctl delist bl.example 192.0.2.10 >/dev/null
wait_for "a delisting reaches Knot" "NXDOMAIN" kstatus "$(rev4 192.0.2.10).bl.example" A

# ---- the ACL, UDP, IXFR ----
out=$(kdig +time=2 +retry=0 -b 127.0.0.9 @127.0.0.1 -p "$PORT" bl.example AXFR 2>&1)
check_match "AXFR from a source outside allow-transfer: REFUSED" "REFUSED" "$out"
check_match "the refusal is logged" "AXFR bl\.example to 127\.0\.0\.9: refused" "$(cat "$T/server.log")"
out=$(dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" acct.example AXFR +short 2>&1 | head -1)
check_match "AXFR from an allowed source works for every configured zone" "SOA|ns1" "$out"
out=$(kdig +time=2 +retry=0 @127.0.0.1 -p "$PORT" nosuch.example AXFR 2>&1)
check_match "AXFR of a zone we do not serve: REFUSED" "REFUSED" "$out"
# EDNS (RFC 6891 7): a transfer asked with an OPT carries one in every message, DO copied; so does a refusal
cat >"$T/xfr_opt.py" <<'PY'
import socket, struct, sys
port, src = int(sys.argv[1]), sys.argv[2]
q = (struct.pack(">HHHHHH", 0x4243, 0, 1, 0, 0, 1) + b"\x02bl\x07example\x00" + struct.pack(">HH", 252, 1)
     + b"\x00" + struct.pack(">HHIH", 41, 1232, 0x8000, 0))
s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
s.sendall(struct.pack(">H", len(q)) + q)
f = s.makefile("rb")
msgs = with_opt = soas = 0
while soas < 2:
    n = f.read(2)
    if len(n) < 2: break
    m = f.read(struct.unpack(">H", n)[0])
    msgs += 1
    rcode, an, ar = m[3] & 15, struct.unpack(">H", m[6:8])[0], struct.unpack(">H", m[10:12])[0]
    opt = m[-11:]
    with_opt += ar == 1 and opt[0] == 0 and opt[1:3] == b"\x00\x29" and (opt[7] & 0x80) != 0
    soas += m.count(b"\x00\x06\x00\x01") if rcode == 0 else 2
print(msgs, with_opt, rcode)
PY
read -r msgs with_opt rcode < <(python3 "$T/xfr_opt.py" "$PORT" 127.0.0.1)
check "an AXFR asked with an OPT (DO): every message has the OPT with DO ($msgs messages)" "$msgs" "$with_opt"
read -r msgs with_opt rcode < <(python3 "$T/xfr_opt.py" "$PORT" 127.0.0.9)
check "a refused AXFR asked with an OPT: REFUSED with the OPT" "1 1 5" "$msgs $with_opt $rcode"
out=$(python3 - "$PORT" <<'PY'
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 0) + b"\x02bl\x07example\x00" + struct.pack(">HH", 252, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); r = s.recv(4096)
print("tc" if r[2] & 2 else "no tc", struct.unpack(">H", r[6:8])[0])
PY
)
check "AXFR over UDP: TC set, no records (the client retries over TCP)" "tc 0" "$out"
serial=$(serial_of "$PORT" bl.example)
out=$(dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" bl.example "IXFR=$serial" +short | wc -l)
check "IXFR from the current serial: the SOA alone" "1" "$out"
out=$(dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" bl.example "IXFR=1" +short | wc -l)
axfr=$(dig +time=2 +tries=1 @127.0.0.1 -p "$PORT" bl.example AXFR +short | wc -l)
check "IXFR from an old serial: the whole zone, as AXFR" "$axfr" "$out"

# ---- the AXFR output is a valid zone ----
dig +time=5 +tries=1 @127.0.0.1 -p "$PORT" bl.example AXFR +nocmd +nostats +nocomments >"$T/axfr.zone"
if command -v kzonecheck >/dev/null; then
    kzonecheck -o bl.example "$T/axfr.zone" >"$T/zonecheck.log" 2>&1; rc=$?
    check "kzonecheck accepts the AXFR output" "0" "$rc"
elif command -v ldns-read-zone >/dev/null; then
    ldns-read-zone "$T/axfr.zone" >/dev/null 2>"$T/zonecheck.log"; rc=$?
    check "ldns-read-zone accepts the AXFR output" "0" "$rc"
fi
out=$(python3 - "$T/axfr.zone" <<'PY'
import ipaddress, sys
rrs = [l.split(None, 4) for l in open(sys.argv[1]) if l.strip() and not l.startswith(";")]
errs = []
if rrs[0][3] != "SOA" or rrs[-1][3] != "SOA" or rrs[0] != rrs[-1]:
    errs.append("not SOA ... SOA")
if sum(1 for r in rrs if r[3] == "SOA") != 2:
    errs.append("SOA count")
for r in rrs:
    owner, ttl, cls, typ, data = r
    if not (owner == "bl.example." or owner.endswith(".bl.example.")) or cls != "IN" or not ttl.isdigit():
        errs.append("bad record: %s" % r)
    elif typ == "A" and not ipaddress.ip_address(data.strip()) in ipaddress.ip_network("127.0.0.0/8"):
        errs.append("A outside 127/8: %s" % r)
    elif typ == "TXT" and not data.strip().startswith('"'):
        errs.append("TXT: %s" % r)
    elif typ not in ("SOA", "NS", "A", "TXT"):
        errs.append("type: %s" % r)
    elif "*" in owner and not owner.startswith("*."):
        errs.append("wildcard not leftmost: %s" % r)
names = {r[0] for r in rrs}
print(len(errs), len(names) > 10, "; ".join(errs[:3]))
PY
)
check "the AXFR output parses as a zone: SOA first and last, names in the zone, A in 127/8" "0 True " "$out"

kill "$KNOT_PID" 2>/dev/null
stop_server
check "server stops cleanly" "0" "$SERVER_STATUS"
finish
