#!/usr/bin/env bash
# End to end with a real Postfix: a private Postfix instance (postscreen on port 25 in front of smtpd,
# smtpd alone on port 2525, SMTP AUTH through a private Dovecot) and dnsbl-server run inside a network
# namespace of their own; Postfix logs into a file (postlogd) that the feeder follows. Clients on
# 127.0.0.x inside the namespace harvest addresses, send mass mail, guess passwords and ring the bell
# and run (connect to postscreen and hang up, or talk before the banner); the test
# checks that they are listed within a second, refused on their next attempt (450 with the reason by
# smtpd, 550 by postscreen), accepted again once the listing expired, and that a clean client is
# accepted throughout. The Postfix and Dovecot configuration is in tests/integration/postfix/.
#
# Needs root (network namespace, /etc/netns, apt-get). Installs postfix, swaks and dovecot-core if
# missing, without starting a mail system on the host. Runs in about two minutes: the listings in
# the test's copy of the zones expire after 60 s, and the test waits for that.
. "$(dirname "$0")/lib.sh"
HERE="$ROOT/tests/integration/postfix"
NS="dnsbltest-$$"
PF="$T/postfix"            # config (etc), queue (spool), data
. "$ROOT/tests/integration/mta.sh"
START=$(date +%s)
trap 'pf_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM

needs_root "network namespace, /etc/netns, apt-get"
mta_namespace
install_packages || die "apt-get install postfix swaks dovecot-core" "$(tail -5 "$T/apt.log" 2>/dev/null)"
getent passwd postfix >/dev/null && getent passwd dovecot >/dev/null && getent passwd dovenull >/dev/null ||
    die "the postfix, dovecot and dovenull users exist (made by the packages)"

# ---------------------------------------------------------------------------------------------------
# The zones: the repository's, with listings that expire after 60 s (instead of 1 h), a dha window of
# one minute (so that, as with the shipped 10m window and 1h expiry, the window is no longer than the
# listing: see wait_minute_start), and the domain volume rule at 5 messages instead of 300.
ZONES="$T/zones"
mkdir -p "$ZONES"
cp "$ROOT"/zones/*.conf "$ZONES/"
for rule in dha backscatter auth volume compromised abnormal; do
    zone_set "$ZONES/bl.example.conf" "rule $rule" expire 60s
    zone_set "$ZONES/bl.example.conf" "rule $rule" max-expire 60s
done
zone_set "$ZONES/bl.example.conf" "rule dha" window 1m
for rule in backscatter volume; do
    zone_set "$ZONES/dbl.example.conf" "rule $rule" expire 60s
    zone_set "$ZONES/dbl.example.conf" "rule $rule" max-expire 60s
done
zone_set "$ZONES/dbl.example.conf" "rule volume" threshold 5
for rule in auth compromised; do
    zone_set "$ZONES/acct.example.conf" "rule $rule" expire 60s
    zone_set "$ZONES/acct.example.conf" "rule $rule" max-expire 60s
done
"$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" list bl.example >/dev/null 2>"$T/zones.err" ||
    die "the test's copy of the zones loads" "$(cat "$T/zones.err")"

# The namespace's resolver: dnsbl-server on 127.0.0.1:53 in the namespace, nothing else.
mta_resolver
check "the namespace has its own resolv.conf" "nameserver 127.0.0.1" "$(nsx grep -m1 nameserver /etc/resolv.conf)"

chmod 755 "$T"      # Postfix and Dovecot drop privileges; they need to reach their files in here
say "dnsbl-server in namespace $NS on 127.0.0.1:53"
nsx "$BIN/dnsbl-server" --db "$T/db" --zones "$ZONES" --listen 127.0.0.1:53 --foreground >>"$T/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
ok_dns=
for _ in $(seq 50); do
    nsx dig +time=1 +tries=1 @127.0.0.1 bl.example SOA >/dev/null 2>&1 && { ok_dns=1; break; }
    sleep 0.1
done
[ -n "$ok_dns" ] || die "dnsbl-server answers in the namespace" "$(tail -5 "$T/server.log")"
check "the namespace's resolver reaches dnsbl-server (test point 127.0.0.2)" "127.0.0.2" \
      "$(nsx dig +time=1 +tries=1 2.0.0.127.bl.example A +short)"

say "feeder following $T/maillog"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ZONES" "$T/maillog" >>"$T/feeder.log" 2>&1 &
FEEDER_PID=$!
PIDS+=("$FEEDER_PID")

# ---------------------------------------------------------------------------------------------------
# Dovecot (authentication only) and Postfix, inside the namespace.
mkdir -p "$C" "$Q" "$PF/data" "$T/dovecot/run" "$T/dovecot/state"
chown postfix "$PF/data"
for f in main.cf master.cf; do sed "s|@T@|$T|g" "$HERE/$f" >"$C/$f"; done
sed "s|@T@|$T|g" "$HERE/dovecot.conf" >"$T/dovecot/dovecot.conf"
printf 'carol@test.example:{PLAIN}right-horse-battery\n' >"$T/dovecot/passwd"
chmod 644 "$T/dovecot/passwd"
: >"$T/maillog"
say "postfix -c $C check / start"
nsx postfix -c "$C" check >"$T/postfix-start.log" 2>&1 || die "postfix check" "$(tail -5 "$T/postfix-start.log")"
# the auth socket lives in the queue's private/ directory, which postfix check has made
nsx dovecot -F -c "$T/dovecot/dovecot.conf" >>"$T/dovecot.log" 2>&1 &
DOVECOT_PIDS+=("$!")
timeout 60 ip netns exec "$NS" postfix -c "$C" start >>"$T/postfix-start.log" 2>&1 ||
    die "postfix start" "$(tail -5 "$T/postfix-start.log"; tail -5 "$T/maillog")"
listening() { nsx ss -Hlnt "sport = :$1" | grep -q .; }
up=
for _ in $(seq 100); do
    listening 25 && listening 2525 && [ -S "$Q/private/auth" ] && { up=1; break; }
    sleep 0.1
done
[ -n "$up" ] || die "postscreen on :25, smtpd on :2525 and Dovecot's auth socket are up" \
    "$(tail -5 "$T/maillog"; tail -5 "$T/dovecot.log")"
ok "Postfix (postscreen :25, smtpd :2525) and Dovecot run in the namespace"

# ---------------------------------------------------------------------------------------------------
# Helpers: SMTP sessions with swaks from a given source address, DNS polling inside the namespace.
swx() {     # swx SRC PORT [swaks options]: the session transcript
    local src=$1 port=$2
    shift 2
    nsx timeout 60 swaks --server 127.0.0.1 --port "$port" --local-interface "$src" \
        --helo "client-$src.example" --timeout 20 "$@" 2>&1
}
rcpt_reply() { awk '/^ -> RCPT TO/ { getline; sub(/^<[-*~]* */, ""); print; exit }'; }
# probe SRC PORT [SENDER]: the reply to RCPT TO:<alice@test.example> (then QUIT)
probe() {
    local out
    out=$(swx "$1" "$2" --from "${3:-someone@client.example}" --to alice@test.example --quit-after RCPT)
    echo "$out" >>"$T/sessions.log"
    echo "$out" | rcpt_reply
}
# deliver SRC PORT SENDER: a whole message; prints the reply to the end of DATA
deliver() {
    local out
    out=$(swx "$1" "$2" --from "$3" --to alice@test.example --header "Subject: test" --body "hello")
    echo "$out" >>"$T/sessions.log"
    echo "$out" | awk '/^ -> \./ { getline; sub(/^<[-*~]* */, ""); print; exit }'
}
# harvest SRC PORT N: one session with N RCPTs to unknown users
harvest() {
    local to i
    to=$(for i in $(seq "$3"); do printf 'nobody%02d@test.example,' "$i"; done)
    swx "$1" "$2" --from "list@harvest.example" --to "${to%,}" >>"$T/sessions.log"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
within() { awk -v d="$1" -v max="$2" 'BEGIN { exit !(d >= 0 && d <= max) }'; }
# wait_dns NAME WANT SECONDS: poll the A records (sorted, space separated) inside the namespace until
# they are WANT; prints the time they were, or nothing after SECONDS
wait_dns() {
    nsx bash -c 'end=$(( $(date +%s) + $3 ))
        while [ "$(date +%s)" -le "$end" ]; do
            a=$(dig +time=1 +tries=1 @127.0.0.1 "$1" A +short 2>/dev/null | sort | tr "\n" " ")
            [ "${a% }" = "$2" ] && { date +%s.%N; exit 0; }
            sleep 0.02
        done; exit 1' _ "$@"
}
# wait_gone NAME SECONDS: poll until NAME is NXDOMAIN; prints the time, or nothing
wait_gone() {
    nsx bash -c 'end=$(( $(date +%s) + $2 ))
        while [ "$(date +%s)" -le "$end" ]; do
            dig +time=1 +tries=1 @127.0.0.1 "$1" A 2>/dev/null | grep -q "status: NXDOMAIN" && { date +%s.%N; exit 0; }
            sleep 0.2
        done; exit 1' _ "$@"
}
txt() { nsx dig +time=1 +tries=1 @127.0.0.1 "$1" TXT +short; }
# The dha window is one minute in the test's zones: keep a session inside one minute.
wait_minute_start() {   # wait until the second of the minute is at most $1
    while [ "$(( 10#$(date +%S) ))" -gt "$1" ]; do sleep 0.5; done
}
R66=$(rev4 127.0.0.66).bl.example
R67=$(rev4 127.0.0.67).bl.example
R77=$(rev4 127.0.0.77).bl.example
R55=$(rev4 127.0.0.55).bl.example
R88=$(rev4 127.0.0.88).bl.example
SPAM=spam.example.dbl.example

# ---------------------------------------------------------------------------------------------------
say "the resolver path: the RFC 5782 test point 127.0.0.2 as a client"
r=$(probe 127.0.0.2 2525)
check_match "smtpd refuses the test point 127.0.0.2 (Postfix asks dnsbl-server)" \
    '^450 4\.7\.1 .*blocked using bl\.example' "$r"

say "a clean client, 127.0.0.10, through smtpd (:2525) and postscreen (:25)"
check_match "clean client: message accepted by smtpd" '^250 2\.0\.0 Ok: queued' "$(deliver 127.0.0.10 2525 friend@friend.example)"
check_match "clean client: message accepted through postscreen" '^250 2\.0\.0 Ok: queued' "$(deliver 127.0.0.10 25 friend@friend.example)"
check "nobody listed yet: 127.0.0.66" "" "$(nsx dig +time=1 +tries=1 "$R66" A +short)"

# --- (a) smtpd: reject_rbl_client, 450 with the reason ----------------------------------------------
say "(a) directory harvest from 127.0.0.66 into smtpd (:2525): 12 unknown recipients"
wait_minute_start 45
harvest 127.0.0.66 2525 12
t_end=$(now)
t_dns=$(wait_dns "$R66" 127.0.0.2 5)
if [ -n "$t_dns" ]; then
    d=$(elapsed "$t_end" "$t_dns")
    say "127.0.0.66 listed ${d}s after its session ended"
    within "$d" 1.0 && ok "harvester listed within 1 s of its session's end (${d}s)" ||
        fail "harvester listed within 1 s of its session's end" "took ${d}s"
else
    fail "harvester 127.0.0.66 listed (127.0.0.2)" "$(tail -3 "$T/feeder.log"; grep -c 'User unknown' "$T/maillog")"
fi
check_match "the TXT says why" '"unknown recipients 12/12 in 1m; listed until ' "$(txt "$R66")"
r=$(probe 127.0.0.66 2525)
check_match "harvester's next attempt at smtpd: 450" '^450 4\.7\.1 ' "$r"
check_match "... and the reply text carries the TXT reason" \
    'Client host \[127\.0\.0\.66\] blocked using bl\.example; unknown recipients 12/12 in 1m; listed until ' "$r"
check_match "clean client still accepted by smtpd" '^250 ' "$(probe 127.0.0.10 2525)"

# --- (b) postscreen -----------------------------------------------------------------------------------
say "(b) the listed 127.0.0.66 at postscreen (:25)"
r=$(probe 127.0.0.66 25)
check_match "postscreen refuses the listed client: 550 ... blocked using bl.example" \
    '^550 5\.7\.1 Service unavailable; client \[127\.0\.0\.66\] blocked using bl\.example' "$r"
check_match "postscreen logged the DNSBL rank" 'DNSBL rank 3 for \[127\.0\.0\.66\]' "$(cat "$T/maillog")"
check_match "clean client still accepted through postscreen" '^250 ' "$(probe 127.0.0.10 25)"

say "(b) directory harvest from 127.0.0.67 through postscreen (:25), which passes it (not listed yet)"
wait_minute_start 42
harvest 127.0.0.67 25 12
t_end=$(now)
t_dns=$(wait_dns "$R67" 127.0.0.2 5)
if [ -n "$t_dns" ]; then
    d=$(elapsed "$t_end" "$t_dns")
    within "$d" 1.0 && ok "harvester through postscreen listed within 1 s (${d}s)" ||
        fail "harvester through postscreen listed within 1 s" "took ${d}s"
else
    fail "harvester 127.0.0.67 listed"
fi
t_listed=$(now)
# postscreen remembers that 127.0.0.67 passed its DNSBL test (postscreen_dnsbl_min_ttl/max_ttl: 5 s
# here); meanwhile smtpd behind it, a new process per connection (max_use=1), refuses it itself
r=$(probe 127.0.0.67 25)
check_match "right after the listing: refused (450 by smtpd behind postscreen's cached pass, or 550 by postscreen)" \
    '^(450 4\.7\.1 .*Client host \[127\.0\.0\.67\] blocked using bl\.example; unknown recipients|550 5\.7\.1 Service unavailable; client \[127\.0\.0\.67\] blocked using bl\.example)' "$r"
say "   (${r:0:3}: $( [[ $r == 450* ]] && echo "postscreen's pass was still cached; smtpd refused" || echo "postscreen refused"))"
r=
for _ in $(seq 10); do
    r=$(probe 127.0.0.67 25)
    [[ $r == 550* ]] && break
    sleep 1
done
d=$(elapsed "$t_listed" "$(now)")
check_match "once postscreen's pass expired: postscreen's 550" \
    '^550 5\.7\.1 Service unavailable; client \[127\.0\.0\.67\] blocked using bl\.example' "$r"
within "$d" 9 && ok "postscreen saw the listing within postscreen_dnsbl_max_ttl (5s) + 4 s (${d}s)" ||
    fail "postscreen saw the listing within 9 s" "took ${d}s"

# --- abnormal sessions: ring the bell and run ------------------------------------------------------
# ring SRC N: N connections from SRC to postscreen (:25), each closed at once; every other one first
# talks before the banner (postscreen logs PREGREET). postscreen (greet action `ignore`) sees most of
# the hang-ups only at the end of its greet wait and hands the dead connection on to smtpd, which logs
# `lost connection after CONNECT`: the feeder counts each connection once, whoever logged it.
ring() {
    nsx timeout 60 python3 -c '
import socket, sys, time
src, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = socket.create_connection(("127.0.0.1", 25), timeout=5, source_address=(src, 0))
    if i % 2:
        s.sendall(b"EHLO bot.example\r\n")
        time.sleep(0.3)
    s.close()
    time.sleep(0.2)
' "$1" "$2"
}
say "abnormal sessions: 127.0.0.55 connects to postscreen (:25) 12 times and hangs up"
ring 127.0.0.55 12 || fail "the 12 connections from 127.0.0.55 were made"
t_end=$(now)
t_dns=$(wait_dns "$R55" 127.0.0.7 5)
if [ -n "$t_dns" ]; then
    d=$(elapsed "$t_end" "$t_dns")
    within "$d" 1.0 && ok "the client that hangs up listed 127.0.0.7 within 1 s of its last connection (${d}s)" ||
        fail "the client that hangs up listed within 1 s" "took ${d}s"
else
    fail "the client that hangs up, 127.0.0.55, listed (127.0.0.7)" \
         "$(grep -cE 'HANGUP|PREGREET' "$T/maillog") HANGUP/PREGREET lines logged; $(tail -2 "$T/feeder.log")"
fi
check_match "its TXT says why: at most 12 sessions (a pregreet handed on to smtpd is one, not two)" \
    '"abnormal sessions 1[0-2] in 10m \(mostly [a-z ]+; longest [0-9]+s\)' "$(txt "$R55")"
check_match "postscreen logged its pregreets" 'PREGREET [0-9]+ after [0-9.]+ from \[127\.0\.0\.55\]' "$(cat "$T/maillog")"
check_match "... and Postfix its hang-ups" \
    '(lost connection after CONNECT from unknown|HANGUP after [0-9.]+ from )\[127\.0\.0\.55\]' "$(cat "$T/maillog")"
# postscreen may trust the DNSBL pass of its earlier connections for postscreen_dnsbl_max_ttl (5 s)
r=
for _ in $(seq 10); do
    r=$(probe 127.0.0.55 25)
    [[ $r == 550* ]] && break
    sleep 1
done
check_match "postscreen refuses it now: 550 ... blocked using bl.example" \
    '^550 5\.7\.1 Service unavailable; client \[127\.0\.0\.55\] blocked using bl\.example' "$r"
check_match "postscreen logged the DNSBL rank for it" 'DNSBL rank 3 for \[127\.0\.0\.55\]' "$(cat "$T/maillog")"
check_match "clean client still delivers through postscreen" '^250 2\.0\.0 Ok: queued' \
    "$(deliver 127.0.0.10 25 friend@friend.example)"

# --- the domain zone: reject_rhsbl_sender ------------------------------------------------------------
say "mass mail from sender domain spam.example (client 127.0.0.88, :2525): 5 messages"
for i in 1 2 3 4 5; do
    r=$(deliver 127.0.0.88 2525 "offer$i@spam.example")
    [[ $r == 250* ]] || { fail "spam.example message $i accepted before the listing" "$r"; break; }
done
t_end=$(now)
t_dns=$(wait_dns "$SPAM" 127.0.1.5 5)
if [ -n "$t_dns" ]; then
    d=$(elapsed "$t_end" "$t_dns")
    within "$d" 1.0 && ok "sender domain listed in dbl.example within 1 s of the 5th message (${d}s)" ||
        fail "sender domain listed within 1 s" "took ${d}s"
else
    fail "spam.example listed in dbl.example (127.0.1.5)" "$(tail -3 "$T/feeder.log")"
fi
check_match "its TXT says why" '"mass volume 5 messages in 10m' "$(txt "$SPAM")"
r=$(probe 127.0.0.88 2525 "offer6@spam.example")
check_match "mail from spam.example now: 450 with the reason" \
    '^450 4\.7\.1 .*Sender address \[offer6@spam\.example\] blocked using dbl\.example; mass volume 5 messages' "$r"
check_match "the same client with another sender domain: accepted" '^250 ' "$(probe 127.0.0.88 2525 news@friend.example)"
check "the client itself is not listed (5 messages are not mass volume for an address)" "" \
      "$(nsx dig +time=1 +tries=1 "$R88" A +short)"

# --- SMTP AUTH password guessing --------------------------------------------------------------------
say "password guessing from 127.0.0.77 (SMTP AUTH at :2525): 10 wrong passwords"
fails=0
for i in $(seq 10); do
    out=$(swx 127.0.0.77 2525 --from carol@test.example --to alice@test.example \
              --auth PLAIN --auth-user carol@test.example --auth-password "guess$i")
    echo "$out" >>"$T/sessions.log"
    echo "$out" | grep -q '^<\*\* *535 ' && fails=$((fails + 1))
done
t_end=$(now)
check "10 AUTH attempts refused with 535" "10" "$fails"
t_dns=$(wait_dns "$R77" 127.0.0.4 5)
if [ -n "$t_dns" ]; then
    d=$(elapsed "$t_end" "$t_dns")
    within "$d" 1.0 && ok "password guesser listed 127.0.0.4 within 1 s (${d}s)" ||
        fail "password guesser listed within 1 s" "took ${d}s"
else
    fail "password guesser 127.0.0.77 listed (127.0.0.4)" "$(grep -c 'authentication failed' "$T/maillog") failures logged"
fi
check_match "its TXT says why" '"authentication failures 10 in 10m' "$(txt "$R77")"
r=$(probe 127.0.0.77 2525)
check_match "password guesser's next connection at smtpd: 450 with the reason" \
    '^450 4\.7\.1 .*Client host \[127\.0\.0\.77\] blocked using bl\.example; authentication failures 10' "$r"
check_match "... and at postscreen: 550" \
    '^550 5\.7\.1 Service unavailable; client \[127\.0\.0\.77\] blocked using bl\.example' "$(probe 127.0.0.77 25)"
ACCT=$(printf %s carol@test.example | sha256sum | cut -c1-32).acct.example
a=$(nsx dig +time=1 +tries=1 "$ACCT" A +short)
if grep -q 'authentication failed.*sasl_username=' "$T/maillog"; then
    check "the account carol@test.example listed in acct.example" "127.0.2.4" "$a"
else
    say "   (Postfix did not log sasl_username= with the failures: the account zone cannot see them)"
fi
check_match "clean client still accepted by smtpd" '^250 ' "$(probe 127.0.0.10 2525)"
check_match "clean client still accepted through postscreen" '^250 ' "$(probe 127.0.0.10 25)"

# --- expiry -------------------------------------------------------------------------------------------
say "waiting for the listings to expire (60 s after each one's last offending event)"
deadline=$(( $(date +%s) + 100 ))
for name in "$R66" "$R67" "$R55" "$SPAM" "$R77" "$ACCT"; do
    left=$(( deadline - $(date +%s) ))
    t=$(wait_gone "$name" $(( left > 1 ? left : 1 )))
    [ -n "$t" ] && ok "listing expired by itself: $name" || fail "listing expired within 100 s: $name"
done
say "the same clients again, no operator action"
check_match "127.0.0.66 accepted again by smtpd" '^250 ' "$(probe 127.0.0.66 2525)"
check_match "127.0.0.66 accepted again through postscreen" '^250 ' "$(probe 127.0.0.66 25)"
check_match "127.0.0.67 accepted again through postscreen" '^250 ' "$(probe 127.0.0.67 25)"
check_match "127.0.0.77 accepted again by smtpd" '^250 ' "$(probe 127.0.0.77 2525)"
check_match "127.0.0.77 accepted again through postscreen" '^250 ' "$(probe 127.0.0.77 25)"
check_match "127.0.0.55 accepted again through postscreen" '^250 ' "$(probe 127.0.0.55 25)"
check_match "mail from spam.example accepted again" '^250 ' "$(probe 127.0.0.88 2525 offer7@spam.example)"
check_match "clean client: message accepted at the end" '^250 2\.0\.0 Ok: queued' "$(deliver 127.0.0.10 2525 friend@friend.example)"
sleep 0.5
check "a clean session after the expiry does not list 127.0.0.66 again" "NXDOMAIN" \
    "$(nsx dig +time=1 +tries=1 "$R66" A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"

check "no Postfix fatal errors or panics" "" "$(grep -E 'fatal:|panic:' "$T/maillog" | head -3)"
if [ "$FAIL" -gt 0 ]; then
    echo "---- maillog: warnings"; grep -E 'warning|error|fatal' "$T/maillog" | tail -20
    echo "---- maillog (last 40 lines)"; tail -40 "$T/maillog"
    echo "---- SMTP sessions (last 30 lines)"; tail -30 "$T/sessions.log"
    echo "---- feeder.log"; tail -10 "$T/feeder.log"
    echo "---- dovecot.log"; tail -10 "$T/dovecot.log"
fi
kill "$FEEDER_PID"; wait "$FEEDER_PID"
check "the feeder stops cleanly" "0" "$?"
say "done in $(( $(date +%s) - START )) s"
finish
