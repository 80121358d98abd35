#!/usr/bin/env bash
# Following files like tail -F: a file that appears later, partial last lines, rotation by rename and
# by copytruncate; nothing lost, and listings reach dnsbl-server while the feeder runs.
. "$(dirname "$0")/lib.sh"
CORPUS="$ROOT/tests/corpus"
LOG="$T/mail.log"
total=$(wc -l <"$CORPUS/mail.log")

start_server || exit 1
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --replay "$LOG" 2>"$T/feeder.log" &
FEEDER=$!
PIDS+=("$FEEDER")
sleep 0.3
# lines fed so far, as the feeder's state shows them: wait (bounded) until it has caught up
caught_up() {   # caught_up PATTERN: the dump mentions it
    for _ in $(seq 50); do "$BIN/dnsbl-feeder" --db "$T/db" --dump 2>/dev/null | grep -q "$1" && return 0; sleep 0.1; done
    return 1
}
part() { sed -n "$1,$2p" "$CORPUS/mail.log"; }

part 1 1000 >>"$LOG"                       # the file appears after the feeder started
line=$(part 1001 1001)
printf '%s' "${line:0:40}" >>"$LOG"         # half a line ...
sleep 0.3
printf '%s\n' "${line:40}" >>"$LOG"         # ... and the rest
part 1002 2500 >>"$LOG"
sleep 0.5
mv "$LOG" "$LOG.1"                          # rotation by rename; the writer goes on in a new file
part 2501 4000 >>"$LOG"
sleep 0.5
cp "$LOG" "$LOG.1"; : >"$LOG"               # copytruncate
sleep 0.3
part 4001 "$total" >>"$LOG"
caught_up '^i 127.3.90.3' || true
sleep 0.5

check "listed while following: a DHA source" "127.0.0.2" "$(q "$(rev4 127.1.20.1).bl.example" A)"
kill "$FEEDER"; wait "$FEEDER"
check "the feeder stops cleanly on SIGTERM" "0" "$?"
check "every line read exactly once across the rotations" "1" "$(grep -c " $total lines:" "$T/feeder.log")"
check_match "rename noticed" "following a new file" "$(cat "$T/feeder.log")"
check_match "truncation noticed" "truncated" "$(cat "$T/feeder.log")"
out=$(python3 "$ROOT/tests/integration/check_truth.py" "$T/db" "$ROOT/zones" "$BIN"); rc=$?
check "followed through rotations: listings match truth.json" "0" "$rc"
[ $rc -ne 0 ] && echo "$out" | head

# restart on the same file: resumes at the stored position, reads nothing twice
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --replay --once "$LOG" 2>"$T/again.log"
check "restart resumes at the stored offset" "1" "$(grep -c ' 0 lines:' "$T/again.log")"
part 1 10 >>"$LOG"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --replay --once "$LOG" 2>"$T/again.log"
check "and reads only what was appended since" "1" "$(grep -c ' 10 lines:' "$T/again.log")"
stop_server
finish
