#!/usr/bin/env bash
# Slow windows and per-account send limits (issue 9, rules 3 and 5), from the corpus's line shapes
# with addresses, accounts and times rewritten (gen_depth.py slow, outbound):
#  - slow and low over six hours, every attacker under each ten-minute threshold: a harvest of 9 unknown
#    RCPTs every 10 minutes, 9 failed IMAP logins every 10 minutes, one account guessed every 150 s
#    from a new address each time; near misses just under each day threshold, and a sender whose
#    unknown RCPTs are a small share of its mail;
#  - authenticated submissions: 200 messages or 500 recipients in 60 minutes list the account in
#    acct.example (127.0.2.5), never the user's address; near misses at 199 messages / 496 recipients
#    and at 199 + 199 an hour apart.
# The listings are checked in the store and over DNS.
. "$(dirname "$0")/lib.sh"

hash() { printf %s "$1" | sha256sum | cut -c1-32; }
listed_ips() { ctl list bl.example --all 2>/dev/null | awk '/^[0-9]/ && $2 == "listed" {print $1}' | sort; }

# ---- rule 3: six hours of slow attacks, the last events half an hour ago ----
base=$(( $(date +%s) - 6 * 3600 - 1800 ))
python3 "$ROOT/tests/integration/gen_depth.py" slow "$base" >"$T/slow.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/slow.log" 2>"$T/feeder.log"
check "feeder exits 0 on the slow log" "0" "$?"
check_match "the slow harvest (324 unknown in 6 h) is listed as dha over 24h" \
    $'127\\.0\\.0\\.2\tdha\t.*unknown recipients [0-9]+/[0-9]+ in 24h' "$(ctl show 198.51.100.10 2>&1)"
check_match "the slow password guessing (9 every 10 minutes) is listed as auth over 24h" \
    $'127\\.0\\.0\\.4\tauth\t.*authentication failures [0-9]+ in 24h' "$(ctl show 198.51.100.20 2>&1)"
check "near miss: 99 unknown RCPTs in a day are not listed" "1" "$(ctl show 198.51.100.11 >/dev/null 2>&1; echo $?)"
check "near miss: 324 unknown at 23 % of the RCPTs are not listed" "1" "$(ctl show 198.51.100.12 >/dev/null 2>&1; echo $?)"
check "near miss: 29 failed logins in a day are not listed" "1" "$(ctl show 198.51.100.21 >/dev/null 2>&1; echo $?)"
carol=$(ctl show carol 2>&1)
check_match "the account guessed every 150 s is listed in acct.example (auth, 24h)" \
    $'127\\.0\\.2\\.4\tauth\t.*authentication failures [0-9]+ in 24h' "$carol"
check "near miss: an account failing 29 times from 9 addresses is not listed" "1" \
    "$(ctl show dora >/dev/null 2>&1; echo $?)"
others=$(listed_ips | grep -v -E '^(198\.51\.100\.(10|20)|198\.18\.[0-9]+\.[0-9]+)$' | tr '\n' ' ')
check "nothing else is listed (the near misses' and dora's addresses are not)" "" "$others"
# one failure each, 150 s apart from base + 7, each listed for an hour after its own failure (from the
# tenth address on): those that failed in the last hour
now=$(date +%s) want=0
for i in $(seq 9 139); do [ $((base + 150 * i + 7 + 3600)) -gt "$now" ] && want=$((want + 1)); done
got=$(listed_ips | grep -c '^198\.18\.')
check_match "the guessing addresses that failed in the last hour are listed ($want +- 1)" \
    "^($((want - 1))|$want|$((want + 1)))\$" "$got"
check_match "... with the account's reason" "addresses failing logins for account carol in 24h" \
    "$(ctl show 198.18.139.1 2>&1)"
check "an address that failed five hours ago was listed, and has expired" "expired" \
    "$(ctl list bl.example --all 2>/dev/null | awk '$1 == "198.18.10.1" {print $2}')"

# ---- rule 5: per-account send limits, the last submissions a few minutes ago ----
base=$(( $(date +%s) - 3900 - 199 * 9 - 300 ))
python3 "$ROOT/tests/integration/gen_depth.py" outbound "$base" >"$T/out.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/out.log" 2>>"$T/feeder.log"
check "feeder exits 0 on the submissions" "0" "$?"
start_server
dave=$(hash dave); erin=$(hash erin)
check "dave (200 messages in 50 minutes, half logged by qmgr first) is listed: 127.0.2.5" "127.0.2.5" \
    "$(q "$dave.acct.example" A)"
check_match "... with the counts in the TXT" "account dave sent 200 messages to 200 recipients in 1h" \
    "$(q "$dave.acct.example" TXT)"
check "erin (500 recipients in 50 messages) is listed: 127.0.2.5" "127.0.2.5" "$(q "$erin.acct.example" A)"
check_match "... for its recipients" "50 messages to 500 recipients" "$(q "$erin.acct.example" TXT)"
check "near miss: frank (199 messages, 496 recipients) is not listed" "NXDOMAIN" \
    "$(status "$(hash frank).acct.example" A)"
check "near miss: gina (199, then 199 more an hour later) is not listed" "NXDOMAIN" \
    "$(status "$(hash gina).acct.example" A)"
for ip in 192.0.2.50 192.0.2.51 192.0.2.52 192.0.2.53; do
    rev=$(echo "$ip" | awk -F. '{print $4"."$3"."$2"."$1}')
    check "the submitting users' address $ip is not listed" "NXDOMAIN" "$(status "$rev.bl.example" A)"
done
finish
