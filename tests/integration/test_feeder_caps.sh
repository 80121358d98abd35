#!/usr/bin/env bash
# More sources and queue IDs than the caps (--max-sources, --max-queue): the least recently seen are
# dropped from memory and from the store, counted in the metrics and logged; a dropped source that is
# listed stays listed.
. "$(dirname "$0")/lib.sh"
base=$(( $(date +%s) - 1800 ))     # half an hour ago: live listings, no clock skew
stamp() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000+00:00; }

# one address with 12 authentication failures first (listed), then 300 IPv4 and 100 IPv6 sources with
# one failure each, a second apart: the first ones are the least recently seen
{
    for i in $(seq 12); do
        echo "$(stamp "$base") mx1 postfix/smtpd[100]: warning: unknown[192.0.2.99]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
    done
    for i in $(seq 400); do
        if [ "$i" -le 300 ]; then ip="198.51.$((i / 256)).$((i % 256))"; else ip="2001:db8:$i::1"; fi
        echo "$(stamp $((base + i))) mx1 postfix/smtpd[100]: warning: unknown[$ip]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
    done
} >"$T/sources.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once --max-sources 100 "$T/sources.log" 2>"$T/feeder.log"
check "feeder --max-sources 100 exits 0" "0" "$?"
"$BIN/dnsbl-feeder" --db "$T/db" --dump >"$T/dump.txt"
kept=$(grep -c '^[in] ' "$T/dump.txt")    # addresses and the networks they count toward
check "no more sources stored than the cap" "1" "$([ "$kept" -le 100 ] && [ "$kept" -ge 80 ] && echo 1)"
evicted=$(sed -n 's/.*dropped the least recently seen: \([0-9]*\) sources.*/\1/p' "$T/feeder.log")
# 401 addresses + 103 networks (3 IPv4 /24s, 100 IPv6 /48s): all share the cap
check "evictions logged and counted: kept + evicted = all 504 sources" "504" "$((kept + ${evicted:-0}))"
check "the most recently seen source is kept" "1" "$(grep -c '^i 2001:db8:400::/64 ' "$T/dump.txt")"
check "the least recently seen sources are gone" "0" "$(grep -c '^i 198\.51\.0\.1/32 \|^i 192\.0\.2\.99/32 ' "$T/dump.txt")"
check "an evicted source keeps its listing" "1" \
      "$("$BIN/dnsblctl" --db "$T/db" --zones "$ROOT/zones" list bl.example --all 2>/dev/null | grep -c '^192\.0\.2\.99')"

# queue IDs whose message never ends (no `removed`): at most --max-queue of them stay
{
    for i in $(seq 300); do
        printf '%s mx1 postfix/smtpd[100]: %010X: client=unknown[203.0.113.%d]\n' "$(stamp $((base + i)))" "$i" $((i % 200))
    done
} >"$T/queue.log"
"$BIN/dnsbl-feeder" --db "$T/dbq" --zones "$ROOT/zones" --once --max-queue 50 "$T/queue.log" 2>"$T/feeder-q.log"
check "feeder --max-queue 50 exits 0" "0" "$?"
"$BIN/dnsbl-feeder" --db "$T/dbq" --dump >"$T/dumpq.txt"
qkept=$(grep -c '^q ' "$T/dumpq.txt")
check "no more queue IDs stored than the cap" "1" "$([ "$qkept" -le 50 ] && [ "$qkept" -ge 40 ] && echo 1)"
check "the newest queue ID is kept" "1" "$(grep -c '^q mx1 000000012C ' "$T/dumpq.txt")"
check "the oldest queue ID is gone" "0" "$(grep -c '^q mx1 0000000001 ' "$T/dumpq.txt")"

# the metrics count the evictions
PORT_M=$(free_port)
"$BIN/dnsbl-feeder" --db "$T/dbm" --zones "$ROOT/zones" --max-sources 100 --metrics "127.0.0.1:$PORT_M" \
    "$T/sources.log" 2>"$T/feeder-m.log" &
FEEDER=$!; PIDS+=("$FEEDER")
m=
for _ in $(seq 50); do
    m=$(curl -s "http://127.0.0.1:$PORT_M/metrics")
    [[ "$m" =~ feeder_lines_total\ 412 ]] && [[ "$m" =~ feeder_commits_total\{result=\"ok\"\}\ [1-9] ]] && break
    sleep 0.2
done
sleep 0.5
m=$(curl -s "http://127.0.0.1:$PORT_M/metrics")
ev=$(sed -n 's/^feeder_evicted_total{kind="source"} \([0-9]*\)$/\1/p' <<<"$m")
ips=$(sed -n 's/^feeder_sources{kind="ip"} \([0-9]*\)$/\1/p' <<<"$m")
nets=$(sed -n 's/^feeder_sources{kind="network"} \([0-9]*\)$/\1/p' <<<"$m")
check "metrics: sources in memory + evicted = all 504" "504" "$(( ${ev:-0} + ${ips:-0} + ${nets:-0} ))"
check "metrics: evictions happened" "1" "$([ "${ev:-0}" -ge 301 ] && echo 1)"
check_match "metrics: queue evictions and expiries exported" 'feeder_evicted_total\{kind="queue"\} 0' "$m"
check_match "metrics: queue expiries exported" 'feeder_queue_expired_total 0' "$m"
check_match "metrics: no listing lost for lack of memory (exported)" 'feeder_listings_lost_total 0' "$m"
kill "$FEEDER"; wait "$FEEDER" 2>/dev/null

# at the caps, kill -9 and restarts drop the same records as one uninterrupted run: the eviction order
# depends only on the state (last-seen time, then key hash under the store's secret hash key, so both
# stores start as copies of one empty store)
python3 "$ROOT/tests/integration/gen_shifted.py" 10 <"$ROOT/tests/corpus/mail.log" >"$T/big.log"
: >"$T/empty.log"
"$BIN/dnsbl-feeder" --db "$T/one" --zones "$ROOT/zones" --once "$T/empty.log" 2>>"$T/feeder-k.log"
cp -a "$T/one" "$T/many"
feed() { "$BIN/dnsbl-feeder" --db "$1" --zones "$ROOT/zones" --once --commit-interval 20 --max-sources 40 --max-queue 30 \
             "$T/big.log" 2>>"$T/feeder-k.log"; }
t0=$(date +%s%N)
feed "$T/one"
span=$(( ($(date +%s%N) - t0) / 1000000 ))
kills=0
for i in $(seq 40); do
    "$BIN/dnsbl-feeder" --db "$T/many" --zones "$ROOT/zones" --once --commit-interval 20 --max-sources 40 --max-queue 30 \
        "$T/big.log" 2>>"$T/feeder-k.log" &
    pid=$!
    ms=$(( span / 20 + RANDOM % (span / 4 + 1) ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; kills=$((kills + 1)); else wait "$pid"; break; fi
done
feed "$T/many"
echo "killed $kills times"
check "evictions happened in that run" "1" "$(grep -c 'at the caps, dropped' "$T/feeder-k.log" | awk '{ print ($1 > 0) }')"
check "at the caps, after kill -9 and restarts: the same state as one uninterrupted run" \
      "$("$BIN/dnsbl-feeder" --db "$T/one" --dump | md5sum)" "$("$BIN/dnsbl-feeder" --db "$T/many" --dump | md5sum)"
finish
