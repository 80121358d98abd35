#!/usr/bin/env bash
# dnsblctl export: rbldnsd data that `dnsblctl import` reads back to the same entries (a second
# export is identical) and that Debian's rbldnsd serves with the same answers as dnsbl-server; and a
# zone file with exactly the records of an AXFR.
#
# Installs Debian's rbldnsd package if it is missing (its service is not left running).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packages.sh"
trap 'package_cleanup; cleanup' EXIT

ZONES="$T/zones"
mkdir -p "$ZONES"
for f in "$ROOT"/zones/*.conf; do
    sed "/^\[zone\]/a allow-transfer = 127.0.0.1" "$f" >"$ZONES/$(basename "$f")"
done
start_server || exit 1

ctl add bl.example 192.0.2.10 --code dha >/dev/null
ctl add bl.example 192.0.2.11 --code auth --reason "password guessing: 40 failures in 10m" >/dev/null
ctl add bl.example 198.51.100.0/24 --code volume >/dev/null
ctl add bl.example 198.51.100.5 --allow >/dev/null
ctl add bl.example 203.0.112.0/20 --code backscatter --reason 'text with "quotes" and $dollar' >/dev/null
ctl add bl.example 2001:db8::25 --code backscatter >/dev/null
ctl add bl.example 2001:db8:1:2::/64 >/dev/null
ctl add bl.example 192.0.2.99 --expires 1s >/dev/null
ctl add dbl.example spammer.example >/dev/null
ctl add dbl.example .bounces.example --code volume --reason "NDRs for this domain" >/dev/null
ctl add dbl.example '*.sub.example' >/dev/null
ctl add dbl.example ok.bounces.example --allow >/dev/null
sleep 1.2     # 192.0.2.99 has expired: not exported

# ---- rbldnsd format: round trip ----
ctl export bl.example "$T/bl.data" 2>"$T/export.err"
check "export bl.example: exit 0" "0" "$?"
check_match "export says how many entries" "exported 7 entries of bl.example" "$(cat "$T/export.err")"
check "export writes no temporary file beside FILE" "" "$(ls "$T" | grep 'bl.data.tmp')"
check_nomatch "an expired entry is not exported" "192\.0\.2\.99" "$(cat "$T/bl.data")"
check_match "CIDR networks stay networks" $'\n203\\.0\\.112\\.0/20 :127\\.0\\.0\\.3:' "$(cat "$T/bl.data")"
check_match "allow entries as !ENTRY" $'\n!198\\.51\\.100\\.5\n' "$(cat "$T/bl.data")"
check_match "the default value line" $'\n:127\\.0\\.0\\.2:directory harvest' "$(cat "$T/bl.data")"
check_match "IPv4 and IPv6: a combined file" $'\\$DATASET ip4trie @\n.*\\$DATASET ip6trie @' "$(cat "$T/bl.data")"
ctl export dbl.example --format rbldnsd "$T/dbl.data" 2>/dev/null
check_match "dnset: wildcard spellings kept" $'\n\\*\\.sub\\.example' "$(cat "$T/dbl.data")"

ctl2() { "$BIN/dnsblctl" --db "$T/db2" --zones "$ZONES" "$@"; }
ctl2 import bl.example "$T/bl.data" --replace 2>/dev/null
check "import reads the export back" "0" "$?"
ctl2 import dbl.example "$T/dbl.data" --replace 2>/dev/null
ctl2 export bl.example "$T/bl2.data" 2>/dev/null
ctl2 export dbl.example "$T/dbl2.data" 2>/dev/null
strip() { grep -vE '^(#|\$SOA)' "$1"; }
check "round trip: the second export of bl.example is the first" "$(strip "$T/bl.data" | md5sum)" "$(strip "$T/bl2.data" | md5sum)"
check "round trip: the second export of dbl.example is the first" "$(strip "$T/dbl.data" | md5sum)" "$(strip "$T/dbl2.data" | md5sum)"
ctl export bl.example - 2>/dev/null >"$T/stdout.data"
check "export to standard output" "$(strip "$T/bl.data")" "$(strip "$T/stdout.data")"
ctl export bl.example --format bind "$T/x" 2>/dev/null
check "unknown --format: exit 2" "2" "$?"

# ---- rbldnsd serves the export like dnsbl-server ----
if [ "$(id -u)" -ne 0 ]; then
    echo "  skip: the rbldnsd part needs root (rbldnsd chroots; apt-get install rbldnsd)"
elif ! install_package rbldnsd rbldnsd rbldnsd; then
    fail "rbldnsd is installed (apt-get install rbldnsd)" "$(tail -5 "$T/apt.log" 2>/dev/null)"
else
    mkdir -p "$T/rbl"
    cp "$T/bl.data" "$T/dbl.data" "$T/rbl/"
    chmod 755 "$T/rbl"
    chmod 644 "$T"/rbl/*.data
    RPORT=$(free_port)
    rbldnsd -n -b "127.0.0.1/$RPORT" -r "$T/rbl" -w / -p "$T/rbl/rbldnsd.pid" \
        bl.example:combined:bl.data dbl.example:dnset:dbl.data >"$T/rbldnsd.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do
        dig +time=1 +tries=1 @127.0.0.1 -p "$RPORT" bl.example SOA +short | grep -q . && break
        sleep 0.1
    done
    rq() { dig +time=2 +tries=1 @127.0.0.1 -p "$RPORT" "$1" "$2" +short | sort | tr '\n' ' ' | sed 's/ $//'; }
    same() {
        local a b
        a="$(q "$2" A) | $(q "$2" TXT)"
        b="$(rq "$2" A) | $(rq "$2" TXT)"
        if [ "$a" = "$b" ]; then ok "$1"; else fail "$1" "dnsbl-server [$a] rbldnsd [$b]"; fi
    }
    same "rbldnsd: a listed address" "$(rev4 192.0.2.10).bl.example"
    same "rbldnsd: a listed address with its own code and text" "$(rev4 192.0.2.11).bl.example"
    same "rbldnsd: inside a /24" "$(rev4 198.51.100.77).bl.example"
    same "rbldnsd: the allow hole in the /24" "$(rev4 198.51.100.5).bl.example"
    same "rbldnsd: an unlisted address" "$(rev4 192.0.2.12).bl.example"
    same "rbldnsd: an IPv6 address" "$(rev6 2001:db8::25).bl.example"
    same "rbldnsd: inside an IPv6 /64" "$(rev6 2001:db8:1:2::99).bl.example"
    same "rbldnsd: a listed domain" "spammer.example.dbl.example"
    same "rbldnsd: below a wildcard domain" "a.bounces.example.dbl.example"
    same "rbldnsd: an allowed name below it" "ok.bounces.example.dbl.example"
    same "rbldnsd: subdomains-only" "x.sub.example.dbl.example"
    same "rbldnsd: not the domain itself" "sub.example.dbl.example"
    check "rbldnsd: the serial of the export" "$(dig +short @127.0.0.1 -p "$PORT" bl.example SOA | awk '{print $3}')" \
        "$(dig +short @127.0.0.1 -p "$RPORT" bl.example SOA | awk '{print $3}')"
fi

# ---- zone format: the records of an AXFR ----
ctl export bl.example --format zone "$T/bl.zone" 2>/dev/null
check "export --format zone: exit 0" "0" "$?"
check_match "the zone file starts with \$ORIGIN and \$TTL" $'\n\\$ORIGIN bl\\.example\\.\n\\$TTL 300\n' "$(cat "$T/bl.zone")"
records() { python3 -c '
import sys
seen = []
for line in open(sys.argv[1]):
    if not line.strip() or line[0] in ";$":
        continue
    f = line.split(None, 4)
    rr = " ".join(f[:4]) + " " + " ".join(f[4].split())
    if rr not in seen:
        seen.append(rr)
print("\n".join(sorted(seen)))' "$1"; }
dig +time=5 +tries=1 @127.0.0.1 -p "$PORT" bl.example AXFR +nocmd +nostats +nocomments >"$T/axfr.zone"
check "the zone file holds the AXFR's records" "$(records "$T/axfr.zone" | md5sum)" "$(records "$T/bl.zone" | md5sum)"
check "and they are many" "1" "$([ "$(records "$T/bl.zone" | wc -l)" -gt 20 ] && echo 1)"

stop_server
finish
