#!/usr/bin/env bash
# Differential test: dnsbl-server, a Knot secondary fed by it (IXFR/AXFR) and rbldnsd loaded from
# `dnsblctl export` answer a few thousand generated questions (gen_differential.py: IPv4 and IPv6
# networks of many prefix lengths, nested, with allow holes; domains, `.name` and `*.name`
# wildcards, allowed names; entries that have expired, which must be absent everywhere) alike:
# rcode (NXDOMAIN and NODATA apart), the A RRset and the TXT RRset of every name.
# compare_differential.py names the differences README documents; any other fails the test.
#
# Installs Debian's knot and rbldnsd packages when missing (no service left running). DIFF_SEED
# changes the generated data (default 1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/packages.sh"
. "$(dirname "$0")/knot.sh"
trap 'package_cleanup; [ -n "${KEEP_T:-}" ] && cp -r "$T" /tmp/diff-keep; cleanup' EXIT
KNOT_PID=
die() { fail "$1" "${2:-$(tail -5 "$T/knot.log" 2>/dev/null)}"; finish; exit 1; }

command -v knotd >/dev/null || needs_root "apt-get install knot"
install_package knotd knot knotd || die "knotd is installed (apt-get install knot)" "$(tail -5 "$T/apt.log" 2>/dev/null)"
RBL=1
install_package rbldnsd rbldnsd rbldnsd || RBL=0
[ "$(id -u)" -eq 0 ] || RBL=0       # rbldnsd chroots, which needs root
[ "$RBL" = 1 ] || echo "  ..   rbldnsd part skipped (not installed, or not root)"

mkdir -p "$T/data"
python3 "$(dirname "$0")/gen_differential.py" "${DIFF_SEED:-1}" "$T/data" || die "generator"
KPORT=$(free_port)
transfer_zones "$KPORT"
for z in bl dbl; do
    ctl import "$z.example" "$T/data/$z.data" >/dev/null 2>&1 || die "import $z.data"
done
start_server --threads 2 || exit 1     # two TCP workers: one long transfer does not hold up the other zone
start_knot "$KPORT" changes

# the secondary follows: first the permanent data, then entries that expire while it runs
wait_serial() {     # wait_serial ZONE: Knot has the primary's serial (at most 20 s)
    local want
    for _ in $(seq 80); do
        want=$(serial_of "$PORT" "$1")
        [ -n "$want" ] && [ "$want" = "$(serial_of "$KPORT" "$1")" ] && return 0
        sleep 0.25
    done
    return 1
}
wait_serial bl.example && wait_serial dbl.example || die "Knot loads both zones"
for z in bl dbl; do
    ctl import "$z.example" "$T/data/$z.expiring" --expires 2s >/dev/null 2>&1 || die "import $z.expiring"
done
wait_serial bl.example && wait_serial dbl.example || die "Knot takes the expiring entries"
sleep 2.5
ctl expire >/dev/null 2>&1      # the writer's part: raise the serials, so that Knot drops them too
wait_serial bl.example && wait_serial dbl.example || die "Knot follows the expiries"
check_match "Knot followed by IXFR" "IXFR" "$(cat "$T/knot.log")"

RPORT=0
if [ "$RBL" = 1 ]; then
    mkdir -p "$T/rbl"
    ctl export bl.example "$T/rbl/bl.rbl" 2>/dev/null && ctl export dbl.example "$T/rbl/dbl.rbl" 2>/dev/null ||
        die "export for rbldnsd"
    chmod 755 "$T/rbl"
    chmod 644 "$T"/rbl/*.rbl
    RPORT=$(free_port)
    rbldnsd -n -b "127.0.0.1/$RPORT" -r "$T/rbl" -w / -p "$T/rbl/rbldnsd.pid" \
        bl.example:combined:bl.rbl dbl.example:dnset:dbl.rbl >"$T/rbldnsd.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do
        dig +time=1 +tries=1 @127.0.0.1 -p "$RPORT" bl.example SOA +short | grep -q . && break
        sleep 0.1
    done
fi

n=$(wc -l <"$T/data/queries.txt")
echo "  ..   $n names, A and TXT each, on dnsbl-server, Knot$([ "$RBL" = 1 ] && echo " and rbldnsd")"
python3 "$(dirname "$0")/compare_differential.py" "$T/data/queries.txt" "$T/data" "$PORT" "$KPORT" \
    $([ "$RBL" = 1 ] && echo "$RPORT") >"$T/compare.txt" 2>&1
rc=$?
sed -n 's/^exception /  ..   documented difference: /p' "$T/compare.txt"
check "no difference beyond the documented ones ($(grep -o 'queries [0-9]* failures [0-9]*' "$T/compare.txt"))" \
    "0" "$rc$( [ $rc = 0 ] || { echo; grep -v '^exception' "$T/compare.txt" | head -40; })"
check "enough questions asked" "1" "$([ "$n" -ge 1000 ] && echo 1)"

kill "$KNOT_PID" 2>/dev/null
stop_server
finish
