#!/usr/bin/env bash
# Time comes from the wall clock, not from whatever a line claims: a line dated in the future (a host
# with a wrong clock, an RFC 3164 host whose time zone is hours ahead) is counted at the clock's time,
# logged once per host and counted in a metric; nothing the feeder derives from event time (windows,
# expiry, serial, sweep) runs ahead of the clock + max-skew. Old lines still count in their own minute.
. "$(dirname "$0")/lib.sh"
ctl() { "$BIN/dnsblctl" --db "$1" --zones "$ROOT/zones" "${@:2}"; }
now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000+00:00; }
sasl() {    # sasl TIME HOST IP: one SMTP AUTH failure, as Postfix logs it
    echo "$(iso "$1") $2 postfix/smtpd[4$RANDOM]: warning: unknown[$3]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice"
}
serial() { ctl "$1" --json stats | python3 -c 'import json,sys; print({z["zone"]: z["serial"] for z in json.load(sys.stdin)["zones"]}["bl.example"])'; }
until_of() { ctl "$1" show "$2" | sed -n 's/.*127\.0\.0\.4\tauth\tuntil \([^\t]*\)\t.*/\1/p' | head -1; }
epoch() { [ -n "$1" ] && date -u -d "$1" +%s || echo 0; }

# 1. One line from a host whose clock says 2099, then eleven real failures from the same address.
{
    sasl 4070908800 mxbad 192.0.2.77            # 2099-01-01
    sasl 4070908860 mxbad 192.0.2.78
    for i in $(seq 11); do sasl $((now - 60 + i)) mx1 192.0.2.77; done
} >"$T/future.log"
"$BIN/dnsbl-feeder" --db "$T/db1" --zones "$ROOT/zones" --once "$T/future.log" 2>"$T/feeder1.log"
check "feeder exits 0" "0" "$?"
check "the address is listed: its real failures after the future line count (12 >= 10)" "0" \
      "$(ctl "$T/db1" show 192.0.2.77 >/dev/null 2>&1; echo $?)"
u=$(epoch "$(until_of "$T/db1" 192.0.2.77)")
check "the listing ends about an hour from now, not in 2099" "1" \
      "$([ "$u" -gt $((now + 3000)) ] && [ "$u" -le $((now + 3600 + 300 + 120)) ] && echo 1)"
s=$(serial "$T/db1")
check "the zone serial follows the clock (no jump towards 2099)" "1" \
      "$([ "$s" -ge $((now - 5)) ] && [ "$s" -le $((now + 600)) ] && echo 1)"
check "the skewed host is logged once, with its offset" "1" "$(grep -c 'host mxbad: events dated .*h..m..s ahead of the clock' "$T/feeder1.log")"
check "the honest host is not logged" "0" "$(grep -c 'host mx1:' "$T/feeder1.log")"
# minutes of the counter rings, the offending event behind each offence, the accounts' failure times
"$BIN/dnsbl-feeder" --db "$T/db1" --dump >"$T/dump1.txt"
minute=$(grep -oE '[@,][0-9]{8}\b' "$T/dump1.txt" | tr -d '@,' | sort -n | tail -1)
event=$(grep -oE '(/[0-9]{10} |/[0-9]{10}$|@[0-9]{10}\b)' "$T/dump1.txt" | tr -d '/@ ' | sort -n | tail -1)
check "no counter minute in the stored state is beyond the clock + max-skew" "1" \
      "$([ -n "$minute" ] && [ "$minute" -le $(((now + 600) / 60)) ] && echo 1)"
check "no event time in the stored state is beyond the clock + max-skew" "1" \
      "$([ -n "$event" ] && [ "$event" -le $((now + 600)) ] && echo 1)"

# 2. Dropping the allowance to 0 changes nothing for lines dated now; a line 2 minutes ahead is
#    trusted with the default 300 s and moved with --max-skew 60.
sasl $((now + 120)) mx2 192.0.2.90 >"$T/ahead.log"
"$BIN/dnsbl-feeder" --db "$T/db2" --zones "$ROOT/zones" --once "$T/ahead.log" 2>"$T/feeder2.log"
check "an event 2 minutes ahead is trusted under the default max-skew" "0" "$(grep -c 'ahead of the clock' "$T/feeder2.log")"
"$BIN/dnsbl-feeder" --db "$T/db3" --zones "$ROOT/zones" --once --max-skew 60 "$T/ahead.log" 2>"$T/feeder3.log"
check "... and moved to the clock under --max-skew 60" "1" "$(grep -c 'host mx2: events dated 0h0[12]m' "$T/feeder3.log")"
"$BIN/dnsbl-feeder" --db "$T/db3" --zones "$ROOT/zones" --once --max-skew -1 "$T/ahead.log" 2>"$T/bad.log"
check "--max-skew -1 is refused" "2" "$?"

# 3. RFC 3164 (local time, no zone): a host whose time zone is 9 h ahead.
{
    for i in $(seq 12); do
        echo "$(TZ=UTC date -d "@$((now + 9 * 3600 + i))" '+%b %e %H:%M:%S') mxjp dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=198.51.100.33, lip=127.0.0.1, session=<abc$i>"
    done
} >"$T/tz.log"
TZ=UTC "$BIN/dnsbl-feeder" --db "$T/db4" --zones "$ROOT/zones" --once "$T/tz.log" 2>"$T/feeder4.log"
u=$(epoch "$(until_of "$T/db4" 198.51.100.33)")
check "the RFC 3164 host 9h ahead: listed, until about an hour from now (not 10 h)" "1" \
      "$([ "$u" -gt $((now + 3000)) ] && [ "$u" -le $((now + 3600 + 300 + 120)) ] && echo 1)"
check "... and its skew is logged as 9 h" "1" "$(grep -c 'host mxjp: events dated [89]h' "$T/feeder4.log")"

# 4. A backlog (lines 40 minutes old) still counts in its own minute.
for i in $(seq 12); do sasl $((now - 2400 + i)) mx1 203.0.113.50; done >"$T/old.log"
"$BIN/dnsbl-feeder" --db "$T/db5" --zones "$ROOT/zones" --once "$T/old.log" 2>"$T/feeder5.log"
u=$(epoch "$(until_of "$T/db5" 203.0.113.50)")
check "old lines list until their own time + 1 h (about 20 minutes from now)" "1" \
      "$([ "$u" -ge $((now - 2400 + 3600)) ] && [ "$u" -le $((now - 2400 + 3600 + 120)) ] && echo 1)"
check "old lines are not skew" "0" "$(grep -c 'ahead of the clock' "$T/feeder5.log")"

# 5. The metric, in the following mode.
MPORT=$(free_port)
"$BIN/dnsbl-feeder" --db "$T/db6" --zones "$ROOT/zones" --metrics "127.0.0.1:$MPORT" "$T/future.log" 2>"$T/feeder6.log" &
PIDS+=($!)
m=""
for _ in $(seq 50); do
    m=$(curl -s --max-time 1 "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^feeder_events_skewed_total \([0-9]*\)$/\1/p')
    [ "${m:-0}" -ge 2 ] && break
    sleep 0.1
done
check "feeder_events_skewed_total counts both future lines" "2" "$m"
finish
