#!/usr/bin/env bash
# An allow entry always wins, from either source (the zone file's [allow] or `dnsblctl allow` in the
# store), at any prefix length, for the feeder and for the server; an expired entry shields nothing;
# an address covered by several live listings answers the codes and reasons of all of them.
. "$(dirname "$0")/lib.sh"

# The shipped zones, with a zone-file allow entry for 192.0.2.0/24.
mkdir -p "$T/zones"
cp "$ROOT"/zones/*.conf "$T/zones/"
printf '\nnet = 192.0.2.0/24\n' >>"$T/zones/bl.example.conf"     # [allow] is the file's last section
export ZONES="$T/zones"

start_server || exit 1

# fails ADDRESS N: N SMTP AUTH failures from ADDRESS, dated now (a user name per address, so that
# the rule for one account failing from many addresses stays out of it).
fails() {
    local now i
    now=$(date -u +%Y-%m-%dT%H:%M:%S)
    for i in $(seq "$2"); do
        printf '%s.%06d+00:00 mx1 postfix/smtpd[%d]: warning: unknown[%s]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=u%s\n' \
            "$now" "$i" "$((2000 + i))" "$1" "${1//[.:]/}"
    done
}
feed() { "$BIN/dnsbl-feeder" --db "$T/db" --zones "$ZONES" --once "$1" 2>>"$T/feeder.log"; }
stored() { ctl list bl.example --all 2>/dev/null | grep -c "^$1[[:space:]]"; }

# Operator entries first: allow entries, an expired manual listing, an expired allow entry, a live
# manual network.
ctl allow bl.example 203.0.113.0/24
ctl allow bl.example 2001:db8:cc::/48
ctl allow bl.example 10.20.0.0/16
ctl add bl.example 198.51.100.7 --code manual --expires 1s
ctl allow bl.example 198.51.100.64/26 --expires 1s
ctl add bl.example 198.18.5.0/24 --code manual --reason "operator: hosting range"
sleep 2     # the two entries with --expires 1s are over before the first logged event

{
    fails 203.0.113.9 12           # inside a dnsblctl allow /24
    fails 2001:db8:cc:1::9 12      # inside a dnsblctl allow /48 (the feeder lists IPv6 /64s)
    fails 10.20.30.40 12           # inside a dnsblctl allow /16
    fails 192.0.2.33 12            # inside the zone file's [allow] /24
    fails 198.51.100.7 12          # its manual entry has expired
    fails 198.51.100.70 12         # its allow entry has expired
    fails 198.18.5.9 12            # inside a live manual /24
    fails 10.21.0.1 12             # nothing special: listed
} >"$T/mail.log"
feed "$T/mail.log"
check "the feeder ran" "0" "$?"

check "control: an address with 12 failures is listed" "127.0.0.4" "$(q "$(rev4 10.21.0.1).bl.example" A)"

A=$(rev4 203.0.113.9).bl.example
check "dnsblctl allow /24: not listed (A)" "NXDOMAIN" "$(status "$A" A)"
check "dnsblctl allow /24: not listed (TXT)" "NXDOMAIN" "$(status "$A" TXT)"
check "dnsblctl allow /24: the feeder wrote nothing" "0" "$(stored 203.0.113.9)"

A6=$(rev6 2001:db8:cc:1::9).bl.example
check "dnsblctl allow IPv6 /48: not listed (A)" "NXDOMAIN" "$(status "$A6" A)"
check "dnsblctl allow IPv6 /48: not listed (TXT)" "NXDOMAIN" "$(status "$A6" TXT)"
check "dnsblctl allow IPv6 /48: the feeder wrote nothing" "0" "$(stored 2001:db8:cc:1::/64)"

check "dnsblctl allow /16: not listed" "NXDOMAIN" "$(status "$(rev4 10.20.30.40).bl.example" A)"
check "dnsblctl allow /16: the feeder wrote nothing" "0" "$(stored 10.20.30.40)"
check "zone-file [allow] /24: not listed" "NXDOMAIN" "$(status "$(rev4 192.0.2.33).bl.example" A)"
check "zone-file [allow] /24: the feeder wrote nothing" "0" "$(stored 192.0.2.33)"
check_match "the feeder counts what it did not list" "[1-9][0-9]* allowlisted" "$(cat "$T/feeder.log")"

check "an expired manual entry does not stop the feeder" "127.0.0.4" "$(q "$(rev4 198.51.100.7).bl.example" A)"
check_match "the feeder's listing replaced it" "^198\.51\.100\.7[[:space:]]+listed[[:space:]]+feeder" \
    "$(ctl list bl.example 2>/dev/null | grep '^198\.51\.100\.7[[:space:]]')"
check "an expired allow entry does not stop the feeder" "127.0.0.4" "$(q "$(rev4 198.51.100.70).bl.example" A)"

A=$(rev4 198.18.5.9).bl.example
check "manual /24 + feeder /32: both codes" "127.0.0.10 127.0.0.4" "$(q "$A" A)"
txt=$(q "$A" TXT)
check_match "manual /24 + feeder /32: the feeder's reason" "authentication failures [0-9]+ in 10m" "$txt"
check_match "manual /24 + feeder /32: the operator's reason" "operator: hosting range" "$txt"
check "the rest of the manual /24: its own code" "127.0.0.10" "$(q "$(rev4 198.18.5.10).bl.example" A)"
out=$(ctl show 198.18.5.9)
check_match "show: the /32 first" "^bl\.example	198\.18\.5\.9	listed	feeder" "$out"
check_match "show: then the covering /24" "bl\.example	198\.18\.5\.0/24	listed	manual" "$out"
check_match "show of an allowed address: the allow entry" "^bl\.example	203\.0\.113\.0/24	allow	manual" \
    "$(ctl show 203.0.113.9)"

# The server: an allow entry written after a listing wins at once, at a shorter prefix; removing it
# brings the listing back.
ctl allow bl.example 10.21.0.0/16
check "a later allow /16 over a feeder /32: not listed at the next query" "NXDOMAIN" \
    "$(status "$(rev4 10.21.0.1).bl.example" A)"
ctl unallow bl.example 10.21.0.0/16
check "unallow: listed again" "127.0.0.4" "$(q "$(rev4 10.21.0.1).bl.example" A)"

finish
