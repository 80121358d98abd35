#!/usr/bin/env bash
# dnsbl-server answers per RFC 5782 over UDP and TCP, IPv4 and IPv6, with the rules of issue 2.
. "$(dirname "$0")/lib.sh"

start_server || exit 1
echo "dnsbl-server on port $PORT"

# RFC 5782 test points, without any data in the store
check "127.0.0.2 test point listed (A)" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
check "127.0.0.2 test point has a TXT" '"RFC 5782 test point"' "$(q 2.0.0.127.bl.example TXT)"
check "127.0.0.1 test point not listed" "NXDOMAIN" "$(status 1.0.0.127.bl.example A)"
V6_2=$(rev6 ::ffff:7f00:2)
V6_1=$(rev6 ::ffff:7f00:1)
check "::FFFF:7F00:2 listed (32 nibbles)" "127.0.0.2" "$(q "$V6_2.bl.example" A)"
check "::FFFF:7F00:1 not listed" "NXDOMAIN" "$(status "$V6_1.bl.example" A)"
check "TEST listed in the domain zone" "127.0.1.3" "$(q TEST.dbl.example A)"
check "INVALID not listed in the domain zone" "NXDOMAIN" "$(status INVALID.dbl.example A)"

# Listings from the store
ctl add bl.example 192.0.2.1 --code dha --reason "unknown recipients 47/50 in 10m" >/dev/null
ctl add bl.example 192.0.2.1 --code auth --reason "auth failures 12 in 10m" >/dev/null
ctl add bl.example 2001:db8::/64 --code volume >/dev/null
ctl add dbl.example .spam.example --code volume --reason "mass volume" >/dev/null
check "IPv4 listing: one A per reason" "127.0.0.2 127.0.0.4" "$(q "$(rev4 192.0.2.1).bl.example" A)"
check "IPv4 listing: TXT says why" '"unknown recipients 47/50 in 10m; auth failures 12 in 10m"' \
      "$(q "$(rev4 192.0.2.1).bl.example" TXT)"
check "ANY answers A and TXT" "3" "$(full "$(rev4 192.0.2.1).bl.example" ANY +noall +answer | grep -c IN)"
check "IPv6 /64 listing answers for an address inside" "127.0.0.5" "$(q "$(rev6 2001:db8::1:2:3:4).bl.example" A)"
check "IPv6 outside the /64 not listed" "NXDOMAIN" "$(status "$(rev6 2001:db8:0:1::1).bl.example" A)"
check "wildcard domain answers for a subdomain" "127.0.1.5" "$(q a.b.spam.example.dbl.example A)"
check "wildcard domain answers for itself" "127.0.1.5" "$(q spam.example.dbl.example A)"
check "listed name, other type: NODATA" "NOERROR" "$(status "$(rev4 192.0.2.1).bl.example" AAAA)"
check "NODATA carries no answer" "" "$(q "$(rev4 192.0.2.1).bl.example" AAAA)"

# Flags and sections
out=$(full "$(rev4 192.0.2.1).bl.example" A +norec)
check_match "AA set in zone" "flags: qr aa;" "$out"
out=$(full "$(rev4 192.0.2.1).bl.example" A +rec)
check_match "RD echoed, RA clear" "flags: qr aa rd;" "$out"
out=$(full "$(rev4 203.0.113.9).bl.example" A)
check_match "not listed: NXDOMAIN" "status: NXDOMAIN" "$out"
check_match "NXDOMAIN carries the SOA with the negative TTL" "bl\.example\.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA" "$out"
check "apex SOA" "ns1.bl.example. hostmaster.bl.example." "$(q bl.example SOA | cut -d' ' -f1,2)"
check "apex NS" "ns1.bl.example." "$(q bl.example NS)"
check "apex A: NODATA" "NOERROR" "$(status bl.example A)"
check "SOA serial follows the store" "1" "$([ "$(q bl.example SOA | cut -d' ' -f3)" -gt 1000000000 ] && echo 1)"
out=$(full www.example.com A)
check_match "out of zone: REFUSED" "status: REFUSED" "$out"
check_nomatch "out of zone: AA clear" "flags: qr aa" "$out"
check "three labels above a listing: NODATA (RFC 8020)" "NOERROR" "$(status 2.0.192.bl.example A)"
check "three labels above nothing: NXDOMAIN" "NXDOMAIN" "$(status 3.0.192.bl.example A)"
check "five labels: NXDOMAIN" "NXDOMAIN" "$(status 1.1.2.0.192.bl.example A)"
check "octet 256: NXDOMAIN" "NXDOMAIN" "$(status 256.2.0.192.bl.example A)"
check "leading zero: NXDOMAIN" "NXDOMAIN" "$(status 01.2.0.192.bl.example A)"
check "31 nibbles inside a listed /64: NODATA (RFC 8020)" "NOERROR" "$(status "$(rev6 2001:db8::1 | cut -d. -f2-).bl.example" A)"
check "31 nibbles outside every listing: NXDOMAIN" "NXDOMAIN" "$(status "$(rev6 2001:db8:1::1 | cut -d. -f2-).bl.example" A)"
check "1.0.0.2: IPv4 2.0.0.1 unlisted, but above the 2001::/16 listings: NODATA" "NOERROR" "$(status 1.0.0.2.bl.example A)"
check "name below an address: NXDOMAIN" "NXDOMAIN" "$(status "x.$(rev4 192.0.2.1).bl.example" A)"
check "case-insensitive" "127.0.0.2 127.0.0.4" "$(q "$(rev4 192.0.2.1).BL.Example" A)"
out=$(full "$(rev4 192.0.2.1).bL.eXaMpLe" A +noall +question)
check_match "question echoed as sent" "bL\.eXaMpLe" "$out"
check "class CH: REFUSED" "REFUSED" "$(status version.bind TXT -c CH)"

# EDNS0
out=$(full "$(rev4 192.0.2.1).bl.example" A)
check_match "EDNS: OPT echoed with our buffer size" "udp: 1232" "$out"
out=$(full "$(rev4 192.0.2.1).bl.example" A +edns=1 +noednsneg)
check_match "EDNS version 1: BADVERS" "status: BADVERS" "$out"
long=$(printf 'x%.0s' $(seq 220))
for c in dha backscatter auth volume; do
    ctl add bl.example 192.0.2.7 --code $c --reason "$c $long" >/dev/null
done
out=$(full "$(rev4 192.0.2.7).bl.example" TXT +noedns +ignore)
check_match "too big for 512 bytes without EDNS: TC" "flags: qr aa tc" "$out"
out=$(full "$(rev4 192.0.2.7).bl.example" TXT +tcp)
check_match "the same over TCP: whole answer" "ANSWER: 1," "$out"
check_nomatch "TCP answer not truncated" "flags: qr aa tc" "$out"
out=$(full "$(rev4 192.0.2.7).bl.example" TXT +bufsize=4096)
check_match "fits the EDNS buffer: not truncated" "ANSWER: 1," "$out"

# TCP, IPv6 listener, non-QUERY opcodes
check "TCP query" "127.0.0.2 127.0.0.4" "$(q "$(rev4 192.0.2.1).bl.example" A +tcp)"
check "IPv6 listener" "127.0.0.2" "$(dig +time=2 +tries=1 @::1 -p "$PORT" 2.0.0.127.bl.example A +short)"
check "IPv6 listener over TCP" "127.0.0.2" "$(dig +time=2 +tries=1 +tcp @::1 -p "$PORT" 2.0.0.127.bl.example A +short)"
out=$(full bl.example SOA +opcode=2)
check_match "opcode STATUS: NOTIMP" "status: NOTIMP" "$out"

# Malformed packets: FORMERR or silence, never a crash
python3 - "$PORT" <<'PY'
import random, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rng = random.Random(5782)
q = bytes.fromhex("abcd0100000100000000000001320130013001330a626c076578616d706c650000010001")
packets = [b"", b"\x00", q[:11], q[:20], q + b"\x00" * 3, q[:12] + b"\xc0\x0c" + q[-4:]]
for _ in range(2000):
    p = bytearray(q)
    for _ in range(rng.randint(1, 6)):
        p[rng.randrange(len(p))] = rng.randrange(256)
    packets.append(bytes(p[:rng.randint(0, len(p))]))
    packets.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 80))))
for p in packets:
    s.sendto(p, ("127.0.0.1", port))
PY
sleep 0.5
out=$(full bl.example SOA +noall +comments)
check_match "still answering after 4000 malformed packets" "status: NOERROR" "$out"
out=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(bytes.fromhex("abcd0100000200000000000001320130013001330a626c076578616d706c650000010001"), ("127.0.0.1", int(sys.argv[1])))
r = s.recv(512); print(r[3] & 15)
PY
)
check "QDCOUNT 2: FORMERR" "1" "$out"

stop_server
check "clean exit on SIGTERM" "0" "$SERVER_STATUS"
finish
