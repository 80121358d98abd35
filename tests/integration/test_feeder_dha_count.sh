#!/usr/bin/env bash
# dha without the ratio (issue 9, rule 2): `count = 50` unknown RCPTs in 10 minutes list an address
# whatever share of its RCPTs they are, and recipient-verification failures (reject_unverified_recipient:
# "undeliverable address", Dovecot LMTP's "User doesn't exist") count as unknown recipients. Sessions
# are the corpus's lines with addresses, times and counters rewritten (gen_depth.py).
. "$(dirname "$0")/lib.sh"

base=$(( $(date +%s) - 1800 ))     # half an hour ago: live listings, no clock skew
python3 "$ROOT/tests/integration/gen_depth.py" dha-count "$base" >"$T/dha.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/dha.log" 2>"$T/feeder.log"
check "feeder exits 0" "0" "$?"
listed=$(ctl list bl.example --all 2>/dev/null | awk '/^[0-9]/ {print $1}' | sort | tr '\n' ' ')
check "exactly the diluted harvest and the verification harvest are listed" "198.51.100.1 198.51.100.3 " "$listed"
check_match "the diluted harvest (190 unknown of 390 RCPTs, 49 %) is listed as dha" \
    $'127\\.0\\.0\\.2\tdha\t.*unknown recipients [0-9]+/[0-9]+ in 10m' "$(ctl show 198.51.100.1 2>&1)"
check_match "... its reason counts both kinds of unknown recipient up to the listing" \
    'unknown recipients (5[0-9]|[6-9][0-9]|1[0-9][0-9])/' "$(ctl show 198.51.100.1 2>&1)"
check_match "a harvest through reject_unverified_recipient counts its unknown recipients (12/12)" \
    'unknown recipients 12/12 in 10m' "$(ctl show 198.51.100.3 2>&1)"
check "the near miss (49 unknown at 29 %) is not listed" "1" "$(ctl show 198.51.100.2 >/dev/null 2>&1; echo $?)"
check "the clean client (30 sessions) is not listed" "1" "$(ctl show 198.51.100.4 >/dev/null 2>&1; echo $?)"

# count = 0 turns the second threshold off: the diluted harvest is then under the ratio
mkdir -p "$T/zones"
cp "$ROOT"/zones/*.conf "$T/zones/"
sed -i 's/^count *= *50/count = 0/' "$T/zones/bl.example.conf"
"$BIN/dnsbl-feeder" --db "$T/db0" --zones "$T/zones" --once "$T/dha.log" 2>"$T/feeder0.log"
listed=$("$BIN/dnsblctl" --db "$T/db0" --zones "$T/zones" list bl.example --all 2>/dev/null | awk '/^[0-9]/ {print $1}' | tr '\n' ' ')
check "with count = 0 only the verification harvest (by ratio) is listed" "198.51.100.3 " "$listed"
finish
