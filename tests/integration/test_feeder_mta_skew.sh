#!/usr/bin/env bash
# Skew across MTAs (issue 9, rule 6): an attack split across two MTAs whose clocks differ by up to 5
# minutes, or whose lines arrive out of order by up to a minute, is counted whole. Lines are the
# corpus's, with hosts, addresses, times and counters rewritten (gen_skew.py, which lists every
# client and what must happen to it); each file is fed in the order written, not sorted by time.
. "$(dirname "$0")/lib.sh"

gen() { python3 "$ROOT/tests/integration/gen_skew.py" "$1" "$2"; }
feed() {    # feed NAME LOG...: a fresh database T/NAME from the logs, in order
    local name=$1; shift
    "$BIN/dnsbl-feeder" --db "$T/$name" --zones "$ROOT/zones" --once "$@" 2>"$T/feeder-$name.log"
}
show() { "$BIN/dnsblctl" --db "$T/$1" --zones "$ROOT/zones" show "$2" 2>&1; }
listed() { "$BIN/dnsblctl" --db "$T/$1" --zones "$ROOT/zones" list bl.example --all 2>/dev/null | awk '/^[0-9]/ {print $1}' | sort | tr '\n' ' '; }
total() {    # total DB METRIC ADDRESS: the address's counts of METRIC in DB's --dump
    grep "^i $3 " "$T/$1-dump.txt" | grep -oE "$2@[0-9]+:[0-9=,]+" | grep -oE '=[0-9]+' | tr -d = |
        awk '{ n += $1 } END { print n + 0 }'
}
now=$(date +%s)

# 1. auth, 5 + 5 on two hosts. mxb's lines start a minute ago and mxa's, 5 minutes ahead, are then 4
#    minutes in the future: within the default --max-skew (300 s), so trusted as they are.
gen auth-a-first $((now - 60)) >"$T/auth-a.log"
gen auth-b-first $((now - 60)) >"$T/auth-b.log"
feed auth "$T/auth-a.log" "$T/auth-b.log"
check "feeder exits 0" "0" "$?"
check "exactly the three 5 + 5 attacks are listed" "198.51.100.10 198.51.100.11 198.51.100.14 " "$(listed auth)"
check_match "mxa's lines first, then mxb's (5 minutes behind): listed for 10 failures" \
    $'127\\.0\\.0\\.4\tauth\t.*authentication failures 10 in 10m' "$(show auth 198.51.100.10)"
check_match "the two hosts' lines interleaved: listed for 10 failures" \
    'authentication failures 10 in 10m' "$(show auth 198.51.100.11)"
check_match "mxb's lines first, then mxa's: listed" 'authentication failures 10 in 10m' "$(show auth 198.51.100.14)"
check "near miss: 5 + 4 failures on two hosts are not listed" "1" "$(show auth 198.51.100.12 >/dev/null; echo $?)"
check "two hosts 20 minutes apart are not one window" "1" "$(show auth 198.51.100.13 >/dev/null; echo $?)"
check "mxa, 4 minutes ahead, is within max-skew: not logged as skewed" "0" "$(grep -c 'ahead of the clock' "$T/feeder-auth.log")"
# the listing is dated by the newest failure (mxa's clock): it ends an hour after it, not before
until=$(show auth 198.51.100.10 | sed -n 's/.*127\.0\.0\.4\tauth\tuntil \([^\t]*\)\t.*/\1/p' | head -1)
u=$(date -u -d "$until" +%s 2>/dev/null || echo 0)
check "the listing ends an hour after the newest failure (mxa's time)" "1" \
      "$([ "$u" -ge $((now + 3700)) ] && [ "$u" -le $((now - 60 + 300 + 40 + 3600 + 120)) ] && echo 1)"
# --max-skew 60: mxa's lines (4 minutes ahead) are counted at the clock's time instead, which still
# puts all ten in one window (and mxa's line 20 minutes ahead with them: the clock is all there is)
feed auth60 --max-skew 60 "$T/auth-a.log"
check "with --max-skew 60 mxa is logged as ahead of the clock" "1" "$(grep -c 'host mxa: events dated 0h0[34]m' "$T/feeder-auth60.log")"
check_match "... and the 5 + 5 attacks are still listed" '^198\.51\.100\.10 198\.51\.100\.11 ' "$(listed auth60)"
check "... the 5 + 4 near miss is not" "1" "$(show auth60 198.51.100.12 >/dev/null; echo $?)"

# 2. dha, 6 + 6 unknown RCPTs, and a disconnect that arrives before its rejects
base=$((now - 1800))
gen dha "$base" >"$T/dha.log"
feed dha "$T/dha.log"
check "exactly the split harvests and the reordered one are listed" "192.0.2.30 203.0.113.20 203.0.113.21 " "$(listed dha)"
check_match "6 + 6 on two hosts, mxa's first: listed at 12/12" \
    $'127\\.0\\.0\\.2\tdha\t.*unknown recipients 12/12 in 10m' "$(show dha 203.0.113.20)"
check_match "6 + 6 interleaved: listed at 12/12" 'unknown recipients 12/12 in 10m' "$(show dha 203.0.113.21)"
check "near miss: 6 + 6 unknown among 26 RCPTs (46 %) on two hosts is not listed" "1" \
      "$(show dha 203.0.113.22 >/dev/null; echo $?)"
check_match "a disconnect before its 6 rejects: listed when the 10th unknown of its 11 RCPTs comes" \
    $'127\\.0\\.0\\.2\tdha\t.*unknown recipients 1[01]/11 in 10m' "$(show dha 192.0.2.30)"
"$BIN/dnsbl-feeder" --db "$T/dha" --dump >"$T/dha-dump.txt"
check "... all 11 unknown recipients and 11 RCPTs are counted" "11 11" "$(total dha unknown 192.0.2.30) $(total dha rcpt 192.0.2.30)"
check "near miss: the same with 6 valid RCPTs per session (11 of 23, 48 %) is not listed" "1" \
      "$(show dha 192.0.2.31 >/dev/null; echo $?)"
check "a session's rejects are not judged before its own disconnect (12 of 32, another session ending between)" "1" \
      "$(show dha 192.0.2.32 >/dev/null; echo $?)"

# 3. qmgr's from= before smtpd's client= for the same queue ID: the message still counts for the client
gen qmgr-first "$base" >"$T/qmgr.log"
feed qmgr "$T/qmgr.log"
check "the 20 bounces whose from= came first are listed as backscatter, 19 are not" "198.51.100.40 " "$(listed qmgr)"
check_match "... with all 20 NDRs counted" $'127\\.0\\.0\\.3\tbackscatter\t.*NDRs 20 in 10m \\(20 received' \
    "$(show qmgr 198.51.100.40)"
"$BIN/dnsbl-feeder" --db "$T/qmgr" --dump >"$T/qmgr-dump.txt"
check "the messages count toward the client's volume (20)" "20" "$(total qmgr msgs 198.51.100.40)"
check "... and 19 for the near miss" "19" "$(total qmgr msgs 198.51.100.41)"
finish
