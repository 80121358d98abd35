#!/usr/bin/env bash
# Both daemons expose Prometheus text metrics over HTTP (--metrics ADDR:PORT) with the counts that
# the traffic they saw implies.
. "$(dirname "$0")/lib.sh"
MPORT=$(free_port)
start_server --metrics "127.0.0.1:$MPORT" || exit 1
for i in 1 2 3; do q 2.0.0.127.bl.example A >/dev/null; done
for i in 1 2; do status 1.0.0.127.bl.example A >/dev/null; done
status www.example.org A >/dev/null
q test.dbl.example TXT +tcp >/dev/null
m=$(curl -s "http://127.0.0.1:$MPORT/metrics")
check_match "queries by zone, type, rcode" 'dnsbl_queries_total\{zone="bl.example",type="A",rcode="NOERROR"\} 3' "$m"
check_match "NXDOMAIN counted" 'dnsbl_queries_total\{zone="bl.example",type="A",rcode="NXDOMAIN"\} 2' "$m"
check_match "out of zone: REFUSED with an empty zone label" 'dnsbl_queries_total\{zone="",type="A",rcode="REFUSED"\} 1' "$m"
check_match "TCP queries counted too" 'dnsbl_queries_total\{zone="dbl.example",type="TXT",rcode="NOERROR"\} 1' "$m"
check_match "latency histogram counts every UDP query (and the startup probe)" 'dnsbl_answer_latency_seconds_count 7' "$m"
check_match "listings by zone and reason" 'dnsbl_listings\{zone="bl.example",reason="dha"\} 0' "$m"
check_match "LMDB size" 'dnsbl_lmdb_used_bytes [0-9]+' "$m"
check "not /metrics: 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")"

FPORT=$(free_port)
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --replay --metrics "127.0.0.1:$FPORT" \
    "$ROOT/tests/corpus/mail.log" 2>"$T/feeder.log" &
FEEDER=$!; PIDS+=("$FEEDER")
for _ in $(seq 50); do
    f=$(curl -s "http://127.0.0.1:$FPORT/metrics")
    [[ "$f" =~ feeder_lines_total\ 5734 ]] && break
    sleep 0.2
done
check_match "feeder: lines read" 'feeder_lines_total 5734' "$f"
mx1=$(grep -c ' mx1 postfix/smtpd\[[0-9]*\]: connect from' "$ROOT/tests/corpus/mail.log")
check_match "feeder: events by type and MTA host" "feeder_events_total\\{type=\"connect\",host=\"mx1\"\\} $mx1" "$f"
check_match "feeder: listing updates by zone and rule" 'feeder_listing_updates_total\{zone="bl.example",rule="dha"\} [1-9]' "$f"
check_match "feeder: commits and their latency" 'feeder_commit_seconds_count [1-9]' "$f"
check_match "feeder: commit interval" 'feeder_commit_interval_seconds 0.100' "$f"
check_match "feeder: sources in memory" 'feeder_sources\{kind="ip"\} [1-9]' "$f"
sleep 0.3
m=$(curl -s "http://127.0.0.1:$MPORT/metrics")
check_match "server: the feeder's listings show up by reason" 'dnsbl_listings\{zone="bl.example",reason="dha"\} 8' "$m"
kill "$FEEDER"; wait "$FEEDER"
stop_server
finish
