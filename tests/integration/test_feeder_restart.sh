#!/usr/bin/env bash
# kill -9 at random moments while the feeder reads a large log; after restarts, every counter, queue
# entry and listing is identical to one uninterrupted run: no event lost, none counted twice.
. "$(dirname "$0")/lib.sh"
COPIES=${RESTART_COPIES:-40}
python3 "$ROOT/tests/integration/gen_shifted.py" "$COPIES" <"$ROOT/tests/corpus/mail.log" >"$T/big.log"
lines=$(wc -l <"$T/big.log")
echo "log of $lines lines"
feed() { "$BIN/dnsbl-feeder" --db "$1" --zones "$ROOT/zones" --once --commit-interval 20 "$T/big.log" 2>>"$T/feeder.log"; }
snapshot() {
    "$BIN/dnsbl-feeder" --db "$1" --dump
    for z in bl.example dbl.example acct.example; do "$BIN/dnsblctl" --db "$1" --zones "$ROOT/zones" list $z --all 2>/dev/null; done
}

t0=$(date +%s%N)
feed "$T/one"
check "uninterrupted run exits 0" "0" "$?"
span=$(( ($(date +%s%N) - t0) / 1000000 ))    # ms for the whole log: kills land inside it
echo "uninterrupted run: ${span} ms"
snapshot "$T/one" >"$T/one.txt"

# kill at random points until a run reaches the end by itself; start over (bounded) if that
# happened before three kills landed
for attempt in 1 2 3 4 5; do
    rm -rf "$T/many"
    kills=0
    for i in $(seq 80); do
        "$BIN/dnsbl-feeder" --db "$T/many" --zones "$ROOT/zones" --once --commit-interval 20 "$T/big.log" 2>>"$T/feeder.log" &
        pid=$!
        ms=$(( span / 25 + RANDOM % (span / (2 + kills) + 1) ))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        if kill -9 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            kills=$((kills + 1))
        else
            wait "$pid"; rc=$?
            [ "$rc" -eq 0 ] && break
        fi
    done
    [ "$kills" -ge 3 ] && break
done
echo "killed $kills times; then a run to the end"
check "the feeder was killed at least 3 times mid-log" "1" "$([ "$kills" -ge 3 ] && echo 1)"
feed "$T/many"   # and once more: adds nothing
snapshot "$T/many" >"$T/many.txt"
check "after kill -9 and restarts: identical counters, queue state and listings" \
      "$(md5sum <"$T/one.txt")" "$(md5sum <"$T/many.txt")"
[ "$FAIL" -gt 0 ] && diff "$T/one.txt" "$T/many.txt" | head -20
check "the state is not trivially empty" "1" "$([ "$(grep -c '^i ' "$T/one.txt")" -gt 50 ] && echo 1)"
finish
