#!/usr/bin/env bash
# The operator's and support desk's view: show with counters, list filters, top, stats, history of
# manual changes with who/why, allow/unallow, --json on every read command, documented exit codes.
. "$(dirname "$0")/lib.sh"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once --replay "$ROOT/tests/corpus/mail.log" 2>>"$T/feeder.log"
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null && echo ok || echo bad; }

out=$(ctl show 127.1.20.1)
check_match "show: zone, entry, state, origin" "bl\.example	127\.1\.20\.1	listed	feeder	since " "$out"
check_match "show: the reason with its expiry" "127\.0\.0\.2	dha	until .*unknown recipients 20/21 in 10m" "$out"
check_match "show: the counters and window behind it, and the slow window's" "dha: 20 unknown of 21 RCPTs in 10m; 20 of 21 in 24h; listed 1 time" "$out"
out=$(ctl show alice)
check_match "show of an account: its zone and counters" "acct\.example	account:alice	listed.*auth: [0-9]+ failed logins" "$out"
check_match "show of a sender domain" "dbl\.example	bulk\.example	listed" "$(ctl show bulk.example)"
ctl show 127.1.10.1 >/dev/null; check "show of a clean client: exit 1" "1" "$?"
check "show --json is JSON" "ok" "$(ctl show 127.1.20.1 --json | json_ok)"
check "show --json carries the counters" "20 unknown of 21 RCPTs" \
      "$(ctl show 127.1.20.1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["listings"][0]["counters"]["dha"]["counts"])')"

check "list --reason dha: the eight DHA sources" "8" "$(ctl list bl.example --reason dha 2>/dev/null | grep -c '^127')"
check "list --reason auth counts the brute-force sources" "1" \
      "$([ "$(ctl list --reason auth 2>/dev/null | grep -c '^127\.')" -ge 20 ] && echo 1)"
check "list --since 1h: everything was listed within the hour" "$(ctl list bl.example 2>/dev/null | grep -c '^127')" \
      "$(ctl list bl.example --since 1h 2>/dev/null | grep -c '^127')"
check "list --since a future time: nothing" "0" "$(ctl list bl.example --since 2099-01-01T00:00:00Z 2>/dev/null | grep -c '^127')"
check "list without a zone covers all zones" "1" "$(ctl list 2>/dev/null | grep -c '^bulk.example')"
check "list --json is JSON" "ok" "$(ctl list --json | json_ok)"
ctl list bl.example --reason nosuchcode >/dev/null 2>&1; check "list --reason unknown: exit 2" "2" "$?"

out=$(ctl top --limit 3)
check_match "top: the mass sender's domain first, with a histogram" "bulk\.example	648	\|[ .:=+*#%@-]{12}\|	msgs=648" "$out"
check "top --limit 3: three sources" "3" "$(echo "$out" | tail -n +2 | wc -l)"
check "top --json is JSON" "ok" "$(ctl top --json | json_ok)"
out=$(ctl stats)
check_match "stats: entries per zone" "bl\.example	ip	serial [0-9]+	35 listed \(0 manual, 35 feeder\)" "$out"
check_match "stats: per code" "127\.0\.0\.2	dha	8" "$out"
check_match "stats: store and feeder" "feeder	[0-9]+ sources rated" "$out"
check "stats --json is JSON" "ok" "$(ctl stats --json | json_ok)"

# manual changes: recorded with who, when and why
start_server || exit 1
ctl --who alice-ops add bl.example 203.0.113.50 --code auth --expires 2h --why "ticket 4711"
ctl --who bob-ops allow bl.example 127.1.50.2 --why "our monitoring host"
check "allow punches a hole in a feeder listing" "NXDOMAIN" "$(status "$(rev4 127.1.50.2).bl.example" A)"
ctl --who bob-ops unallow bl.example 127.1.50.2 --why "monitoring moved"
check "unallow removes the hole (the feeder listing is gone with it)" "NXDOMAIN" "$(status "$(rev4 127.1.50.2).bl.example" A)"
ctl unallow bl.example 127.1.50.3 2>/dev/null; check "unallow of a non-allow entry: exit 1" "1" "$?"
ctl --who carol-ops delist bl.example 127.1.20.1 --why "customer fixed the script"
check "delist: gone from DNS at once" "NXDOMAIN" "$(status "$(rev4 127.1.20.1).bl.example" A)"
out=$(ctl history)
check_match "history: who, what, why" "alice-ops	add	bl\.example	203\.0\.113\.50	127\.0\.0\.4	until .*	ticket 4711" "$out"
check_match "history: the allow" "bob-ops	allow	bl\.example	127\.1\.50\.2	our monitoring host" "$out"
check_match "history: the delist" "carol-ops	delist	bl\.example	127\.1\.20\.1	customer fixed the script" "$out"
check "history ENTRY: only that entry's changes" "2" "$(ctl history 127.1.50.2 | wc -l)"
check "history --json is JSON" "ok" "$(ctl history --json | json_ok)"
ctl history 192.0.2.77 >/dev/null; check "history of an untouched entry: exit 1" "1" "$?"
before=$(ctl history | wc -l)
ctl add bl.example not-an-ip --why x 2>/dev/null; check "bad input: exit 2" "2" "$?"
check "bad input: nothing recorded" "$before" "$(ctl history | wc -l)"
stop_server
finish
