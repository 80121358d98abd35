#!/usr/bin/env bash
# The key filter (IPv6 and domain keys) and the /24 map follow the store while the server runs: a
# listing added, allowed or removed by dnsblctl after the server has answered misses from the old
# filter is answered at once, by a small write (bits added) and by a big one (the filter rebuilt).
. "$(dirname "$0")/lib.sh"

ctl add bl.example 2001:db8:1::/64 --code dha >/dev/null
ctl add dbl.example seed.example --code volume >/dev/null
start_server || exit 1
echo "dnsbl-server on port $PORT"

# warm the filters up: misses the old filter answers without the store
for i in 1 2 3; do
    status "$(rev6 "2001:db8:2::$i").bl.example" A >/dev/null
    status "new$i.example.dbl.example" A >/dev/null
done
check "IPv6 miss before" "NXDOMAIN" "$(status "$(rev6 2001:db8:2::1).bl.example" A)"
check "domain miss before" "NXDOMAIN" "$(status new1.example.dbl.example A)"

# small writes: the filter gains the bits
ctl add bl.example 2001:db8:2::/64 --code volume >/dev/null
ctl add bl.example 2001:db8:3::1 --code auth >/dev/null
ctl add dbl.example new1.example --code volume >/dev/null
ctl add dbl.example '*.kids.example' --code volume >/dev/null
check "IPv6 /64 added while running" "127.0.0.5" "$(q "$(rev6 2001:db8:2::1).bl.example" A)"
check "IPv6 /128 added while running" "127.0.0.4" "$(q "$(rev6 2001:db8:3::1).bl.example" A)"
check "IPv6 next to it still a miss" "NXDOMAIN" "$(status "$(rev6 2001:db8:3::2).bl.example" A)"
check "domain added while running" "127.0.1.5" "$(q new1.example.dbl.example A)"
check "subdomain wildcard added while running" "127.0.1.5" "$(q a.b.kids.example.dbl.example A)"
check "the wildcard's own name: NODATA (RFC 8020)" "NOERROR" "$(status kids.example.dbl.example A)"
check "nibbles above the new /64: NODATA (RFC 8020)" "NOERROR" "$(status "$(rev6 2001:db8:2::1 | cut -d. -f17-).bl.example" A)"

# allow holes punched while running
ctl allow bl.example 2001:db8:2::5 >/dev/null
ctl allow dbl.example ok.kids.example >/dev/null
check "allow hole in the new /64" "NXDOMAIN" "$(status "$(rev6 2001:db8:2::5).bl.example" A)"
check "the /64 around it still listed" "127.0.0.5" "$(q "$(rev6 2001:db8:2::6).bl.example" A)"
check "allow hole under the wildcard: not listed" "" "$(q ok.kids.example.dbl.example A)"
check "allow hole under the wildcard: its listed children make it exist (NODATA, RFC 8020)" "NOERROR" \
    "$(status ok.kids.example.dbl.example A)"
check "allow hole under the wildcard: its children stay listed" "127.0.1.5" "$(q x.ok.kids.example.dbl.example A)"

# a big write (more keys than one commit remembers): the filter is rebuilt from the store
{ for i in $(seq 1 300); do echo "big$i.example"; done; } >"$T/big.dnset"
{ for i in $(seq 1 300); do printf '2001:db8:9:%x::/64\n' "$i"; done; } >"$T/big.ip6"
ctl import dbl.example "$T/big.dnset" >/dev/null 2>&1
ctl import bl.example "$T/big.ip6" >/dev/null 2>&1
miss=0
for i in 1 77 150 299 300; do
    [ -n "$(q "big$i.example.dbl.example" A)" ] || miss=$((miss + 1))
    [ -n "$(q "$(rev6 "2001:db8:9:$(printf %x "$i")::1").bl.example" A)" ] || miss=$((miss + 1))
done
check "big imports while running: every sampled listing answered" "0" "$miss"
check "earlier listings survive the rebuild" "127.0.1.5" "$(q new1.example.dbl.example A)"

# removal
ctl delist dbl.example new1.example >/dev/null
check "delisted domain: NXDOMAIN" "NXDOMAIN" "$(status new1.example.dbl.example A)"
ctl add dbl.example new1.example --code volume >/dev/null
check "listed again" "127.0.1.5" "$(q new1.example.dbl.example A)"

finish
