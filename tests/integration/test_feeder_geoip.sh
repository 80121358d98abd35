#!/usr/bin/env bash
# The country rule on the real corpus: the account dave logs in from six addresses per MTA. With a
# test GeoIP database that puts them in four or more countries, dave is listed in acct.example and
# his clients abroad in bl.example (127.0.0.6); with all of them at home, nothing is.
. "$(dirname "$0")/lib.sh"
CORPUS="$ROOT/tests/corpus"
DAVE=$(printf %s dave | sha256sum | cut -c1-32)

# abroad: JP, US, CN, BR, DE, JP on each host
perl "$ROOT/tests/make-mmdb.pl" "$T/world.mmdb" \
    127.1.61.1=JP 127.1.61.2=US 127.1.61.3=CN 127.1.61.4=BR 127.1.61.5=DE 127.1.61.6=JP \
    127.3.61.1=JP 127.3.61.2=US 127.3.61.3=CN 127.3.61.4=BR 127.3.61.5=DE 127.3.61.6=JP
check "a test GeoIP database is built with libmaxmind-db-writer-perl" "0" "$?"
"$BIN/dnsbl-feeder" --db "$T/world" --zones "$ROOT/zones" --geoip "$T/world.mmdb" --once --replay \
    "$CORPUS/mail.log" 2>"$T/feeder.log"
check "feeder with --geoip exits 0" "0" "$?"
ctl() { "$BIN/dnsblctl" --db "$1" --zones "$ROOT/zones" "${@:2}"; }
out=$(ctl "$T/world" show dave)
check_match "dave is listed as compromised in acct.example" "acct\.example.*listed" "$out"
check_match "... with the countries in the reason" "account dave logged in from [0-9]+ countries \((JP|US|CN|BR|DE) " "$out"
for ip in 127.1.61.2 127.1.61.3 127.1.61.4 127.1.61.5 127.3.61.2 127.3.61.5; do
    check "dave's client abroad $ip listed 127.0.0.6" "1" "$(ctl "$T/world" show "$ip" | grep -c '127.0.0.6')"
done
for ip in 127.1.61.1 127.1.61.6 127.3.61.1; do
    check "dave's client at home $ip not listed" "1" "$(ctl "$T/world" show "$ip" >/dev/null; echo $?)"
done
check "carol (one address per MTA) is not flagged as compromised" "0" "$(ctl "$T/world" show carol | grep -c 127.0.2.6)"
PORT=$(free_port)
"$BIN/dnsbl-server" --db "$T/world" --zones "$ROOT/zones" --listen "127.0.0.1:$PORT" --foreground 2>>"$T/server.log" &
SERVER_PID=$!; PIDS+=("$SERVER_PID")
wait_answering "$PORT"
check "over DNS: dave's account hash answers 127.0.2.6" "127.0.2.6" "$(q "$DAVE.acct.example" A)"
check "over DNS: a client abroad answers 127.0.0.6" "127.0.0.6" "$(q 2.61.1.127.bl.example A)"
stop_server

# all at home
perl "$ROOT/tests/make-mmdb.pl" "$T/home.mmdb" 127.1.61.0/24=JP 127.3.61.0/24=JP
"$BIN/dnsbl-feeder" --db "$T/home" --zones "$ROOT/zones" --geoip "$T/home.mmdb" --once --replay \
    "$CORPUS/mail.log" 2>>"$T/feeder.log"
check "all of dave's logins at home: dave not listed" "1" "$(ctl "$T/home" show dave >/dev/null; echo $?)"
check "all at home: none of his addresses listed" "0" "$(ctl "$T/home" list bl.example 2>/dev/null | grep -c '^127\.[13]\.61\.')"
out=$(python3 "$ROOT/tests/integration/check_truth.py" "$T/home" "$ROOT/zones" "$BIN"); rc=$?
check "all at home: everything else still matches truth.json" "0" "$rc"

# without --geoip the rule is off and the feeder says so
check_match "without --geoip the feeder says country rules are off" "country rules are off" \
    "$("$BIN/dnsbl-feeder" --db "$T/nogeo" --zones "$ROOT/zones" --once "$CORPUS/mail.log" 2>&1)"
finish
