#!/usr/bin/env bash
# Abnormal sessions (issue 9, rule 1): an address whose connections end without a message after a
# lost connection, timeout, too many errors, improper pipelining, or a postscreen PREGREET, HANGUP,
# COMMAND PIPELINING, NON-SMTP COMMAND, BARE NEWLINE, COMMAND TIME/COUNT LIMIT is listed as
# 127.0.0.7 at 10 in 10 minutes; each connection counts once, whichever daemons logged it. Sessions
# are the corpus's lines with addresses, times and ports rewritten, and Postfix 3.7's texts for the
# forms the corpus lacks (gen_depth.py).
. "$(dirname "$0")/lib.sh"
base=$(( $(date +%s) - 1800 ))     # half an hour ago: live listings, no clock skew
python3 "$ROOT/tests/integration/gen_depth.py" abnormal "$base" >"$T/abnormal.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/abnormal.log" 2>"$T/feeder.log"
check "feeder exits 0" "0" "$?"
listed=$(ctl list bl.example --all 2>/dev/null | awk '/^[0-9]/ {print $1}' | tr '\n' ' ')
check "exactly the address that rang the bell and ran is listed" "203.0.113.1 " "$listed"
show=$(ctl show 203.0.113.1 2>&1)
check_match "12 connections of every kind in 8 minutes: listed as abnormal" \
    $'127\\.0\\.0\\.7\tabnormal\t.*abnormal sessions 1[0-2] in 10m' "$show"
check_match "dnsblctl show gives the count per kind" \
    'so far: lost connection 2, timeout 1, too many errors 1, improper pipelining 1, pregreet 1, hangup 1, postscreen pipelining 1, non-smtp command 1, bare newline 1, command time limit 1, command count limit 1;' "$show"
check_match "... and the longest session hold time (the 45 s timeout)" 'longest 45s' "$show"
check "the near miss (9 connections, each logged twice) is not listed" "1" \
      "$(ctl show 203.0.113.2 >/dev/null 2>&1; echo $?)"
"$BIN/dnsbl-feeder" --db "$T/db" --dump >"$T/dump.txt"
check "... it has 9 abnormal sessions: 3 pregreet (+HANGUP), 3 pipelining (+lost), 3 pregreet handed to smtpd (+lost)" \
      "abnormal:0=3 abnormal:3=3 abnormal:4=3" "$(grep -o 'abnormal:[0-9]*=[0-9]*' <(grep '^i 203\.0\.113\.2[/ ]' "$T/dump.txt") | tr '\n' ' ' | sed 's/ $//')"
check "the clean client (30 messages, 12 of them followed by a lost connection) is not listed" "1" \
      "$(ctl show 203.0.113.3 >/dev/null 2>&1; echo $?)"
check "... and has no abnormal session" "0" "$(grep '^i 203\.0\.113\.3[/ ]' "$T/dump.txt" | grep -c 'abnormal:')"

# the same log through postscreen alone, cut after every line and restarted: the same counts
split -l 7 "$T/abnormal.log" "$T/part."
for p in "$T"/part.*; do
    cat "$p" >>"$T/grown.log"
    "$BIN/dnsbl-feeder" --db "$T/db2" --zones "$ROOT/zones" --once "$T/grown.log" 2>>"$T/feeder2.log" || break
done
"$BIN/dnsbl-feeder" --db "$T/db2" --dump >"$T/dump2.txt"
check "restarted every 7 lines (mid-session): the same sessions, holds and listings" \
      "$(grep '^i ' "$T/dump.txt" | md5sum)" "$(grep '^i ' "$T/dump2.txt" | md5sum)"
finish
