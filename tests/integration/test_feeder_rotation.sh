#!/usr/bin/env bash
# Files: every line once, whatever its name, and a lost line said so. One scenario per case of
# issue 8 (point 2), each over a realistic log from scripts/gen-log: the final store (feeder --dump and
# the listings) equals that of one uninterrupted --once run over the same lines, or the loss is
# reported in bytes (log and feeder_file_lost_bytes_total). No scenario counts a line twice.
. "$(dirname "$0")/lib.sh"
N=${ROTATION_LINES:-40000}
python3 "$ROOT/scripts/gen-log" --lines "$N" --seed 7 >"$T/all.log"
echo "log of $N lines"
part() { sed -n "$1,$2p" "$T/all.log"; }     # part FIRST LAST
q1=$((N / 4)); q2=$((N / 2)); q3=$((3 * N / 4))

snapshot() {
    "$BIN/dnsbl-feeder" --db "$1" --dump
    for z in bl.example dbl.example acct.example; do "$BIN/dnsblctl" --db "$1" --zones "$ROOT/zones" list $z --all 2>/dev/null; done
}
once() { "$BIN/dnsbl-feeder" --db "$1" --zones "$ROOT/zones" --once "${@:2}" 2>>"$T/once.log"; }
once "$T/ref" "$T/all.log"
snapshot "$T/ref" >"$T/ref.txt"
check "the reference store is not trivially empty" "1" "$([ "$(grep -c '^i ' "$T/ref.txt")" -gt 50 ] && echo 1)"
same_as_ref() {     # same_as_ref SCENARIO DB
    snapshot "$2" >"$T/$1.txt"
    if cmp -s "$T/ref.txt" "$T/$1.txt"; then ok "$1: the store equals one uninterrupted run"
    else fail "$1: the store equals one uninterrupted run" "$(diff "$T/ref.txt" "$T/$1.txt" | head -5)"; fi
}
lines_read() { sed -n 's/.* \([0-9]*\) lines: .*/\1/p' "$1" | tail -1; }

# A followed feeder with metrics; its log is $T/SCENARIO.log.
follow() {      # follow SCENARIO DB FILE...
    SC=$1 MPORT=$(free_port)
    # shellcheck disable=SC2086 # (ROTATION_GRACE="" runs the feeder from before --rotate-grace)
    "$BIN/dnsbl-feeder" --db "$2" --zones "$ROOT/zones" ${ROTATION_GRACE---rotate-grace 1} --commit-interval 20 \
        --metrics "127.0.0.1:$MPORT" "${@:3}" 2>>"$T/$SC.log" &
    FPID=$!
    PIDS+=("$FPID")
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$MPORT/metrics" >/dev/null && return 0; sleep 0.1; done
    fail "$SC: the feeder answers /metrics"
}
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v n="$1" 'index($1, n) == 1 { print $2 }' | head -1; }
wait_lines() {  # wait_lines N: until the feeder has read N lines (bounded)
    for _ in $(seq 150); do [ "$(metric feeder_lines_total)" = "$1" ] && return 0; sleep 0.1; done
    fail "$SC: the feeder reads $1 lines" "it read $(metric feeder_lines_total)"
}
stop_feeder() { kill "$FPID"; wait "$FPID"; check "$SC: the feeder stops cleanly" "0" "$?"; }

echo "== one file under five names"
mkdir -p "$T/dup/sub"
cp "$T/all.log" "$T/dup/mail.log"
ln "$T/dup/mail.log" "$T/dup/hard.log"
ln -s ../mail.log "$T/dup/sub/link.log"
(cd "$T/dup" && "$BIN/dnsbl-feeder" --db "$T/dup/db" --zones "$ROOT/zones" --once mail.log ./mail.log \
    "$T/dup/mail.log" hard.log sub/link.log 2>"$T/dup.log")
check "duplicates: every line read once" "$N" "$(lines_read "$T/dup.log")"
check "duplicates: the four other names are reported" "4" "$(grep -c 'the same file as mail.log' "$T/dup.log")"
same_as_ref duplicates "$T/dup/db"
(cd "$T/dup/sub" && "$BIN/dnsbl-feeder" --db "$T/dup/db" --zones "$ROOT/zones" --once ./link.log 2>"$T/dup2.log")
check "duplicates: a second --once under another spelling reads nothing" "0" "$(lines_read "$T/dup2.log")"
same_as_ref "duplicates, second run" "$T/dup/db"
cd "$T/dup" && follow duplicates-followed "$T/dup/db2" mail.log hard.log && cd - >/dev/null
wait_lines "$N"
check "duplicates: counted in feeder_file_duplicate_names_total" "0 1" \
    "$(metric 'feeder_file_duplicate_names_total{file="mail.log"}') $(metric 'feeder_file_duplicate_names_total{file="hard.log"}')"
stop_feeder
same_as_ref "duplicates, followed" "$T/dup/db2"

echo "== truncated to a smaller size while followed"
L=$T/trunc.log
part 1 "$q2" >"$L"
follow truncated "$T/trunc" "$L"
wait_lines "$q2"
truncate -s "$(part 1 "$q1" | wc -c)" "$L"      # cut at a line boundary: these lines were counted
sleep 0.2
part $((q2 + 1)) "$N" >>"$L"
wait_lines "$N"
stop_feeder
check_match "truncated: the cut is logged" "cut to" "$(cat "$T/truncated.log")"
same_as_ref truncated "$T/trunc"

echo "== a symlink pointed back at a file already read"
mkdir -p "$T/sym"
part 1 "$q1" >"$T/sym/a.log"
ln -s a.log "$T/sym/mail.log"
follow symlink-back "$T/sym/db" "$T/sym/mail.log"
wait_lines "$q1"
part $((q1 + 1)) "$q2" >"$T/sym/b.log"
ln -sfn b.log "$T/sym/mail.log"
wait_lines "$q2"
sleep 1.3                                       # a.log is let go after the grace
ln -sfn a.log "$T/sym/mail.log"                 # back at a file already read: nothing again ...
sleep 0.3
part $((q2 + 1)) "$N" >>"$T/sym/a.log"          # ... but what is appended to it
wait_lines "$N"
stop_feeder
same_as_ref symlink-back "$T/sym/db"

echo "== rename and create while the writer goes on in the old file until its HUP"
L=$T/hup.log
part 1 "$q1" >"$L"
follow rename-hup "$T/hup" "$L"
wait_lines "$q1"
mv "$L" "$L.1"; : >"$L"                         # logrotate's create
sleep 0.3
part $((q1 + 1)) "$q3" >>"$L.1"                 # rsyslog has not had its HUP yet
wait_lines "$q3"
part $((q3 + 1)) "$N" >>"$L"                    # now it writes to the new file
wait_lines "$N"
sleep 1.2                                       # the grace (1 s) after the last write to the old file
stop_feeder
check_match "rename: the renamed file is let go after the grace" "let go of the renamed" "$(cat "$T/rename-hup.log")"
same_as_ref rename-hup "$T/hup"

echo "== a restart while a renamed file still gets late writes"
L=$T/hup2.log
part 1 "$q1" >"$L"
follow restart-hup "$T/hup2" "$L"
wait_lines "$q1"
mv "$L" "$L.1"; : >"$L"
sleep 0.3
part $((q1 + 1)) "$q2" >>"$L.1"
wait_lines "$q2"
sleep 0.3                                       # committed
kill -9 "$FPID"; wait "$FPID" 2>/dev/null
part $((q2 + 1)) "$q3" >>"$L.1"                 # more late writes while the feeder is down
part $((q3 + 1)) "$N" >>"$L"                    # then the HUP: the new file
: >"$T/once.log"
once "$T/hup2" "$L"
check "restart in the grace: the renamed file's late writes, then the new file" "$((N - q2))" "$(lines_read "$T/once.log")"
same_as_ref restart-hup "$T/hup2"

echo "== late writes to a symlink's old target"
mkdir -p "$T/late"
part 1 "$q1" >"$T/late/a.log"
ln -s a.log "$T/late/mail.log"
follow symlink-late "$T/late/db" "$T/late/mail.log"
wait_lines "$q1"
: >"$T/late/b.log"
ln -sfn b.log "$T/late/mail.log"
sleep 0.3
part $((q1 + 1)) "$q3" >>"$T/late/a.log"        # a writer that still has the old target open
wait_lines "$q3"
part $((q3 + 1)) "$N" >>"$T/late/b.log"
wait_lines "$N"
stop_feeder
same_as_ref symlink-late "$T/late/db"

echo "== copytruncate while the feeder lags"
L=$T/ct.log
part 1 "$q1" >"$L"
follow copytruncate "$T/ct" "$L"
wait_lines "$q1"
kill -STOP "$FPID"                              # lagging: the feeder reads nothing for a while
part $((q1 + 1)) "$q2" >>"$L"
cp "$L" "$L.1"; : >"$L"
part $((q2 + 1)) "$N" >>"$L"
kill -CONT "$FPID"
wait_lines "$N"
check "copytruncate: nothing lost (the copy is finished first)" "0" "$(metric feeder_file_lost_bytes_total)"
stop_feeder
same_as_ref copytruncate "$T/ct"

# A feeder that has seen the file grow to S but fed only O < S of it, and is stopped there:
# the big part is 16 copies of the log, so that the feeder is caught in the middle of it.
lag_then_stop() {   # lag_then_stop FILE: returns with the feeder STOPped mid-file
    kill -STOP "$FPID"
    for _ in $(seq 16); do cat "$T/all.log"; done >>"$1"
    kill -CONT "$FPID"
    for _ in $(seq 300); do [ "$(metric feeder_lines_total)" -gt "$N" ] && break; sleep 0.01; done
    kill -STOP "$FPID"
}
lost_expected() {   # bytes of FILE after the first LINES lines
    echo $(( $(wc -c <"$1") - $(head -n "$2" "$1" | wc -c) ))
}

echo "== copytruncate while the feeder lags, and the copy is gone"
L=$T/ctl.log
cp "$T/all.log" "$L"
follow copytruncate-lost "$T/ctl" "$L"
wait_lines "$N"
lag_then_stop "$L"
cp "$L" "$T/ctl.before"
: >"$L"                                         # truncated; the copy went elsewhere (or nowhere)
part 101 200 >>"$L"                             # new lines: they start differently
kill -CONT "$FPID"
wait_lines_over() { for _ in $(seq 50); do [ "$(metric feeder_file_lost_bytes_total)" != 0 ] && return; sleep 0.1; done; }
wait_lines_over
sleep 0.3
lost_metric=$(metric feeder_file_lost_bytes_total)
stop_feeder
read_lines=$(lines_read "$T/copytruncate-lost.log")
want=$(lost_expected "$T/ctl.before" $((read_lines - 100)))
check_match "copytruncate, copy gone: the loss is logged in bytes" "truncated in place before bytes .*: $want bytes lost" \
    "$(cat "$T/copytruncate-lost.log")"
check "copytruncate, copy gone: the loss is counted in feeder_file_lost_bytes_total" "$want" "$lost_metric"
check "copytruncate, copy gone: some of it was lost, not all" "1" "$([ "$want" -gt 0 ] && [ "$read_lines" -gt $((N + 100)) ] && echo 1)"

echo "== a rotated file deleted while the feeder was down"
L=$T/del.log
cp "$T/all.log" "$L"
follow deleted "$T/del" "$L"
wait_lines "$N"
lag_then_stop "$L"
kill "$FPID"; kill -CONT "$FPID"; wait "$FPID"
read_lines=$(lines_read "$T/deleted.log")
want=$(lost_expected "$L" "$read_lines")
mv "$L" "$L.1"; part 101 200 >"$L"; rm "$L.1"   # rotated, then deleted, while down
: >"$T/once.log"
once "$T/del" "$L"
check_match "deleted while down: the loss is logged in bytes" "is gone: $want bytes lost" "$(cat "$T/once.log")"
check "deleted while down: some of it was lost, not all" "1" "$([ "$want" -gt 0 ] && echo 1)"

echo "== two rotations with delaycompress while the feeder was down"
L=$T/dc.log
part 1 "$q1" >"$L"
once "$T/dc" "$L"
part $((q1 + 1)) "$q2" >>"$L"                   # written after the feeder stopped
mv "$L" "$L.1"; part $((q2 + 1)) "$q3" >"$L"    # rotation 1 (delaycompress: .1 stays plain)
mv "$L.1" "$L.2"; gzip "$L.2"; mv "$L" "$L.1"; part $((q3 + 1)) "$N" >"$L"   # rotation 2
: >"$T/once.log"
once "$T/dc" "$L"
check "delaycompress: .2.gz, .1 and the new file read once" "$((N - q1))" "$(lines_read "$T/once.log")"
same_as_ref delaycompress "$T/dc"

echo "== compress without delaycompress while the feeder was down"
L=$T/cz.log
part 1 "$q1" >"$L"
printf 'Nov 20 00:00:00 old rotated file never read\n' | gzip >"$L.2.gz"    # older: not read
once "$T/cz" "$L"
part $((q1 + 1)) "$q2" >>"$L"
mv "$L" "$L.1"; gzip "$L.1"; part $((q2 + 1)) "$N" >"$L"
: >"$T/once.log"
once "$T/cz" "$L"
check "compress: .1.gz from its offset, then the new file" "$((N - q1))" "$(lines_read "$T/once.log")"
same_as_ref compress "$T/cz"

echo "== dateext while the feeder was down"
L=$T/de.log
part 1 "$q1" >"$L"
printf 'Nov 20 00:00:00 old rotated file never read\n' >"$L-20261101"
once "$T/de" "$L"
part $((q1 + 1)) "$q2" >>"$L"
mv "$L" "$L-20261123"; part $((q2 + 1)) "$q3" >"$L"
mv "$L" "$L-20261124"; gzip "$L-20261124"; part $((q3 + 1)) "$N" >"$L"
: >"$T/once.log"
once "$T/de" "$L"
check "dateext: the rotated files in date order, then the new file" "$((N - q1))" "$(lines_read "$T/once.log")"
same_as_ref dateext "$T/de"
finish
