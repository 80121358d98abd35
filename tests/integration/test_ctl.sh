#!/usr/bin/env bash
# dnsblctl changes are visible to the very next query; expiry is immediate; bad input writes nothing.
. "$(dirname "$0")/lib.sh"

start_server || exit 1
A=$(rev4 198.51.100.20).bl.example

check "not listed before" "NXDOMAIN" "$(status "$A" A)"
ctl add bl.example 198.51.100.20 --code auth --reason "auth failures 11 in 10m"
check "add: visible to the next query, no reload" "127.0.0.4" "$(q "$A" A)"
ctl delist bl.example 198.51.100.20
check "delist: gone at the next query" "NXDOMAIN" "$(status "$A" A)"

ctl add bl.example 198.51.100.21 --code dha --expires 2s
check "listing with --expires 2s is live" "127.0.0.2" "$(q "$(rev4 198.51.100.21).bl.example" A)"
ttl=$(full "$(rev4 198.51.100.21).bl.example" A +noall +answer | awk '{print $2}')
check "TTL never outlives the listing" "1" "$([ "$ttl" -le 2 ] && echo 1)"
sleep 3
check "expired listing invisible at once, without purge" "NXDOMAIN" "$(status "$(rev4 198.51.100.21).bl.example" A)"
check "expired entry still stored until purge" "1" "$(ctl list bl.example --all 2>/dev/null | grep -c '^198.51.100.21')"
ctl purge bl.example 2>/dev/null
check "purge removes it" "0" "$(ctl list bl.example --all 2>/dev/null | grep -c '^198.51.100.21')"

# CIDR, covering listings add up, allow holes
ctl add bl.example 203.0.113.0/24 --code volume
ctl add bl.example 203.0.113.9 --code dha
ctl add bl.example 203.0.113.10 --allow --why-not-an-option 2>/dev/null; rc=$?
check "unknown option: usage error" "2" "$rc"
ctl add bl.example 203.0.113.10 --allow
check "a /24 answers for an address inside" "127.0.0.5" "$(q "$(rev4 203.0.113.77).bl.example" A)"
check "an address answers the codes of every covering listing" "127.0.0.2 127.0.0.5" "$(q "$(rev4 203.0.113.9).bl.example" A)"
check "an allow entry punches a hole" "NXDOMAIN" "$(status "$(rev4 203.0.113.10).bl.example" A)"
out=$(ctl show 203.0.113.77)
check_match "show names the covering network" "bl\.example[[:space:]]+203\.0\.113\.0/24[[:space:]]+listed" "$out"
ctl show 203.0.113.10 >/dev/null; check "show of an allowed address exits 0" "0" "$?"
ctl show 192.0.2.200 >/dev/null; check "show of an unlisted address exits 1" "1" "$?"

# The /24 map (store.h): an address in a /24 the map has never held is answered from the map alone;
# a listing that brings a new /24 is seen by the very next query, whether its commit sets one bit or
# (over 64 new /24s at once) rebuilds the map.
check "a /24 never listed: not listed" "NXDOMAIN" "$(status "$(rev4 192.0.2.1).bl.example" A)"
ctl add bl.example 192.0.2.77 --code dha
check "a listing in a new /24 is seen by the next query" "127.0.0.2" "$(q "$(rev4 192.0.2.77).bl.example" A)"
check "its neighbours in the /24 are still not listed" "NXDOMAIN" "$(status "$(rev4 192.0.2.1).bl.example" A)"
for i in $(seq 1 100); do echo "10.77.$i.5"; done >"$T/many24.txt"
check "before 100 new /24s: not listed" "NXDOMAIN" "$(status "$(rev4 10.77.100.5).bl.example" A)"
ctl import bl.example "$T/many24.txt" 2>/dev/null
check "100 new /24s in one commit: the first is seen" "127.0.0.2" "$(q "$(rev4 10.77.1.5).bl.example" A)"
check "100 new /24s in one commit: the last is seen" "127.0.0.2" "$(q "$(rev4 10.77.100.5).bl.example" A)"
ctl delist bl.example 192.0.2.77
ctl purge bl.example 2>/dev/null    # rebuilds the map from what is left
check "after a purge rebuilt the map: still listed" "127.0.0.2" "$(q "$(rev4 10.77.50.5).bl.example" A)"
check "after a purge rebuilt the map: the /24 now empty is not listed" "NXDOMAIN" "$(status "$(rev4 192.0.2.77).bl.example" A)"
check "after a purge rebuilt the map: a /24 network still answers" "127.0.0.5" "$(q "$(rev4 203.0.113.77).bl.example" A)"

# Bad input: clear error, non-zero exit, nothing written
before=$(ctl list bl.example 2>/dev/null | md5sum)
err=$(ctl add bl.example 300.1.2.3 2>&1); rc=$?
check "not an address: exit 2" "2" "$rc"
check_match "not an address: says so" "not an IP address" "$err"
err=$(ctl add nosuch.zone 1.2.3.4 2>&1); rc=$?
check "unknown zone: exit 2" "2" "$rc"
check_match "unknown zone: names the zones" "unknown zone 'nosuch.zone'.*bl\.example" "$err"
err=$(ctl add bl.example 1.2.3.4 --code 127.0.0.99 2>&1); rc=$?
check "unknown code: exit 2" "2" "$rc"
err=$(ctl add bl.example 1.2.3.4 --expires soon 2>&1); rc=$?
check "bad duration: exit 2" "2" "$rc"
err=$(ctl add dbl.example 1.2.3.4/24 2>&1); rc=$?
check "CIDR in a domain zone: exit 2" "2" "$rc"
err=$(ctl delist bl.example 192.0.2.99 2>&1); rc=$?
check "delist of an absent entry: exit 1" "1" "$rc"
check "nothing written by bad input" "$before" "$(ctl list bl.example 2>/dev/null | md5sum)"

# Import: rbldnsd formats, one transaction, errors write nothing
cat >"$T/set.txt" <<'DATA'
# an rbldnsd ip4set
$TTL 300
:127.0.0.2:harvester
10.1.1.1
10.1.2
10.1.3.4-10.1.3.9 :127.0.0.4:guessing passwords
!10.1.2.5
2001:db8:ff::/48
DATA
err=$(ctl import bl.example "$T/set.txt" 2>&1)
check "import: exit 0" "0" "$?"
check_match "import: reports the count" "imported 6 entries" "$err"
check "import: plain entry" "127.0.0.2" "$(q "$(rev4 10.1.1.1).bl.example" A)"
check "import: default TXT" '"harvester"' "$(q "$(rev4 10.1.1.1).bl.example" TXT)"
check "import: short form 10.1.2 is a /24" "127.0.0.2" "$(q "$(rev4 10.1.2.200).bl.example" A)"
check "import: exclusion" "NXDOMAIN" "$(status "$(rev4 10.1.2.5).bl.example" A)"
check "import: range start" "127.0.0.4" "$(q "$(rev4 10.1.3.4).bl.example" A)"
check "import: range end" "127.0.0.4" "$(q "$(rev4 10.1.3.9).bl.example" A)"
check "import: past the range" "NXDOMAIN" "$(status "$(rev4 10.1.3.10).bl.example" A)"
check "import: IPv6 network" "127.0.0.2" "$(q "$(rev6 2001:db8:ff::1).bl.example" A)"
printf '10.9.9.9\nnot-an-ip\n' >"$T/bad.txt"
err=$(ctl import bl.example "$T/bad.txt" 2>&1); rc=$?
check "import of a bad file: exit 2" "2" "$rc"
check_match "import error names file and line" "bad\.txt:2: 'not-an-ip'" "$err"
check "import of a bad file writes nothing" "NXDOMAIN" "$(status "$(rev4 10.9.9.9).bl.example" A)"
printf 'example.net\n*.sub.example.org\n' | ctl import dbl.example - 2>/dev/null
check "import from stdin into a domain zone" "127.0.1.3" "$(q example.net.dbl.example A)"
check "*.domain: subdomains" "127.0.1.3" "$(q a.sub.example.org.dbl.example A)"
check "*.domain: not the domain itself (no A)" "" "$(q sub.example.org.dbl.example A)"
check "*.domain: ... which exists above its listed subdomains: NODATA (RFC 8020)" "NOERROR" "$(status sub.example.org.dbl.example A)"
printf '10.7.0.1\n' | ctl import bl.example - --replace 2>/dev/null
check "import --replace: old entries gone" "NXDOMAIN" "$(status "$(rev4 10.1.1.1).bl.example" A)"
check "import --replace: new entries there" "127.0.0.2" "$(q "$(rev4 10.7.0.1).bl.example" A)"

stop_server
finish
