#!/usr/bin/env bash
# The policy endpoints with the real MTAs: a private Postfix (smtpd on 2525, SMTP AUTH through an
# authentication-only Dovecot), a private IMAP Dovecot asking dnsbl-server's Dovecot policy endpoint
# (auth_policy_server_url), and dnsbl-server with --policy-postfix / --policy-dovecot / --geoip, all
# inside a network namespace of their own; the feeder follows Postfix's log and the IMAP Dovecot's
# (relayed into the same file in syslog form). A test GeoIP file puts 127.0.0.21 in JP, .22 in US,
# .23 in BR, .24 and .25 in DE and US. The test proves:
#  - IMAP password guessing from 127.0.0.77 is listed by the feeder, after which 127.0.0.77 is
#    refused at IMAP even with the right password while another address logs in as the same
#    account; after the listing's expiry (60 s in the test's zones) 127.0.0.77 logs in again;
#  - Dovecot fails open: with dnsbl-server down, logins work (and Postfix submits: default_action);
#  - a SASL account that submits from four countries is listed as compromised and then refused at
#    submission (RCPT) with the reason, while another account submits;
#  - a domestic-only account (dnsblctl domestic) is refused from abroad at submission and at IMAP,
#    and accepted from home.
# Configuration in tests/integration/policy_mta/. Needs root (network namespace, /etc/netns,
# apt-get); installs postfix, swaks and dovecot-core/-imapd if missing without starting a mail
# system on the host. About two minutes.
. "$(dirname "$0")/lib.sh"
HERE="$ROOT/tests/integration/policy_mta"
NS="dnsblpol-$$"
PF="$T/postfix"
MTA_IMAP=1
. "$ROOT/tests/integration/mta.sh"
START=$(date +%s)
IMAP=1143; PPORT=10040; DPORT=10041
KEY=test-key-$$-$RANDOM
trap 'pf_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM

needs_root "network namespace, /etc/netns, apt-get"
mta_namespace
install_packages || die "apt-get install postfix swaks dovecot-core dovecot-imapd" "$(tail -5 "$T/apt.log" 2>/dev/null)"
getent passwd postfix >/dev/null && getent passwd dovecot >/dev/null && getent passwd dovenull >/dev/null ||
    die "the postfix, dovecot and dovenull users exist (made by the packages)"
perl -MMaxMind::DB::Writer::Tree -e1 2>/dev/null || die "libmaxmind-db-writer-perl is installed (scripts/install-deps)"

# ---------------------------------------------------------------------------------------------------
# The zones: the repository's, with the auth and compromised listings expiring after 60 s, and the
# account zone's auth listing (an account under attack) left out of the IMAP decision
# (dovecot-codes = compromised): the guessed account keeps working from its owner's address.
ZONES="$T/zones"
mkdir -p "$ZONES"
cp "$ROOT"/zones/*.conf "$ZONES/"
for rule in auth compromised; do
    for z in bl.example acct.example; do
        zone_set "$ZONES/$z.conf" "rule $rule" expire 60s
        zone_set "$ZONES/$z.conf" "rule $rule" max-expire 60s
    done
done
zone_set "$ZONES/acct.example.conf" policy dovecot-codes compromised
"$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" stats >/dev/null 2>"$T/zones.err" ||
    die "the test's copy of the zones loads" "$(cat "$T/zones.err")"
GEO="$T/geo.mmdb"
perl "$ROOT/tests/make-mmdb.pl" "$GEO" 127.0.0.0/24=JP 127.0.0.22=US 127.0.0.23=BR 127.0.0.24=DE 127.0.0.25=US ||
    die "tests/make-mmdb.pl writes the test GeoIP file"

# ---------------------------------------------------------------------------------------------------
mta_resolver
chmod 755 "$T"
printf '%s\n' "X-API-Key: $KEY" >"$T/policy.key"
start_dnsbl() {
    nsx "$BIN/dnsbl-server" --db "$T/db" --zones "$ZONES" --listen 127.0.0.1:53 --foreground \
        --policy-postfix "127.0.0.1:$PPORT" --policy-dovecot "127.0.0.1:$DPORT" --policy-dovecot-key "$T/policy.key" \
        --geoip "$GEO" --pidfile "$T/server.pid" >>"$T/server.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do
        if nsx ss -Hlnt "sport = :$DPORT" | grep -q . && nsx ss -Hlnt "sport = :$PPORT" | grep -q . &&
           [ -s "$T/server.pid" ]; then
            SERVER_PID=$(tr -dc 0-9 <"$T/server.pid")      # the server itself, not the shell around it
            PIDS+=("$SERVER_PID")
            return 0
        fi
        sleep 0.1
    done
    return 1
}
say "dnsbl-server in namespace $NS: DNS on :53, Postfix policy on :$PPORT, Dovecot policy on :$DPORT"
start_dnsbl || die "dnsbl-server's policy endpoints listen" "$(tail -5 "$T/server.log")"

say "feeder following $T/maillog (with the GeoIP file)"
: >"$T/maillog"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ZONES" --geoip "$GEO" "$T/maillog" >>"$T/feeder.log" 2>&1 &
FEEDER_PID=$!
PIDS+=("$FEEDER_PID")

# Dovecot writes its own log file ("TIME imap-login: Info: Login: ..."); syslog would have written
# "TIME HOST dovecot: imap-login: Login: ...". This relay appends each new line of the IMAP Dovecot's
# log to the mail log in that form, as the feeder reads it in production.
: >"$T/dovecot-imap.log"
python3 - "$T/dovecot-imap.log" "$T/maillog" <<'PY' >>"$T/relay.log" 2>&1 &
import re, sys, time
src, dst = sys.argv[1:]
pat = re.compile(r"^(\S+) ([a-z0-9-]+)(\([^)]*\))?(?:<[^>]*>)*: (?:Info|Warning|Error): (.*)$")
with open(src) as f, open(dst, "a") as out:
    end = time.time() + 900                                 # bounded: the test takes minutes
    while time.time() < end:
        line = f.readline()
        if not line:
            time.sleep(0.02)
            continue
        m = pat.match(line.rstrip("\n"))
        if m:
            out.write(f"{m.group(1)}+00:00 mx dovecot: {m.group(2)}{m.group(3) or ''}: {m.group(4)}\n")
            out.flush()
PY
PIDS+=("$!")

# ---------------------------------------------------------------------------------------------------
mkdir -p "$C" "$Q" "$PF/data" "$T/dovecot-auth/run" "$T/dovecot-auth/state" "$T/dovecot-imap/run" \
    "$T/dovecot-imap/state" "$T/mail"
chown postfix "$PF/data"
chown 65534:65534 "$T/mail"
for f in main.cf master.cf; do sed -e "s|@T@|$T|g" -e "s|@PF@|$PPORT|g" "$HERE/$f" >"$C/$f"; done
sed "s|@T@|$T|g" "$HERE/dovecot-auth.conf" >"$T/dovecot-auth.conf"
sed -e "s|@T@|$T|g" -e "s|@IMAP@|$IMAP|g" -e "s|@DV@|$DPORT|g" -e "s|@KEY@|$KEY|g" -e "s|@NONCE@|nonce-$RANDOM$RANDOM|g" \
    "$HERE/dovecot-imap.conf" >"$T/dovecot-imap.conf"
for u in carol dave erin mallory; do printf '%s@test.example:{PLAIN}%s-right-horse\n' "$u" "$u"; done >"$T/passwd"
chmod 644 "$T/passwd"
say "postfix -c $C check / start; Dovecot (auth for Postfix) and Dovecot (IMAP on :$IMAP)"
nsx postfix -c "$C" check >"$T/postfix-start.log" 2>&1 || die "postfix check" "$(tail -5 "$T/postfix-start.log")"
nsx dovecot -F -c "$T/dovecot-auth.conf" >>"$T/dovecot-auth.log" 2>&1 &
DOVECOT_PIDS+=("$!")
nsx dovecot -F -c "$T/dovecot-imap.conf" >>"$T/dovecot-imap.stderr.log" 2>&1 &
DOVECOT_PIDS+=("$!")
timeout 60 ip netns exec "$NS" postfix -c "$C" start >>"$T/postfix-start.log" 2>&1 ||
    die "postfix start" "$(tail -5 "$T/postfix-start.log"; tail -5 "$T/maillog")"
listening() { nsx ss -Hlnt "sport = :$1" | grep -q .; }
up=
for _ in $(seq 100); do
    listening 2525 && listening "$IMAP" && [ -S "$Q/private/auth" ] && { up=1; break; }
    sleep 0.1
done
[ -n "$up" ] || die "smtpd on :2525, Dovecot IMAP on :$IMAP and the auth socket are up" \
    "$(tail -5 "$T/maillog"; tail -5 "$T/dovecot-imap.log" "$T/dovecot-imap.stderr.log")"
ok "Postfix (smtpd :2525), Dovecot (auth) and Dovecot (IMAP :$IMAP) run in the namespace"

# ---------------------------------------------------------------------------------------------------
# imap SRC USER PASSWORD: "OK" or the server's NO/BAD text (one connection, LOGIN, LOGOUT)
imap() {
    nsx python3 - "$IMAP" "$@" <<'PY'
import imaplib, socket, sys
port, src, user, pw = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
class Client(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection(("127.0.0.1", int(port)), timeout or 20, source_address=(src, 0))
try:
    c = Client("127.0.0.1", int(port), timeout=20)
    c.login(user, pw)
    print("OK")
    c.logout()
except imaplib.IMAP4.error as e:
    print("NO " + str(e))
except OSError as e:
    print("ERROR " + str(e))
PY
}
swx() {
    local src=$1
    shift
    nsx timeout 60 swaks --server 127.0.0.1 --port 2525 --local-interface "$src" \
        --helo "client-$src.example" --timeout 20 "$@" 2>&1
}
# submit SRC USER [--quit-after RCPT]: authenticated submission; the reply to RCPT, or to the DATA dot
submit() {
    local src=$1 user=$2 out
    shift 2
    out=$(swx "$src" --from "$user" --to alice@test.example --auth PLAIN --auth-user "$user" \
              --auth-password "${user%@*}-right-horse" --header "Subject: test" --body "hello" "$@")
    echo "$out" >>"$T/sessions.log"
    if [[ " $* " == *" RCPT "* ]] || ! echo "$out" | grep -q '^ -> \.$'; then
        echo "$out" | awk '/^ -> RCPT TO/ { getline; sub(/^<[-*~]* */, ""); print; exit }'
    else
        echo "$out" | awk '/^ -> \.$/ { getline; sub(/^<[-*~]* */, ""); print; exit }'
    fi
}
wait_dns() {   # wait_dns NAME WANT SECONDS: prints the time the A records were WANT, or nothing
    nsx bash -c 'end=$(( $(date +%s) + $3 ))
        while [ "$(date +%s)" -le "$end" ]; do
            a=$(dig +time=1 +tries=1 @127.0.0.1 "$1" A +short 2>/dev/null | sort | tr "\n" " ")
            [ "${a% }" = "$2" ] && { date +%s; exit 0; }
            sleep 0.05
        done; exit 1' _ "$@"
}
acct() { printf %s "$1" | sha256sum | cut -c1-32; }
R77=$(rev4 127.0.0.77).bl.example

# --- IMAP password guessing ---------------------------------------------------------------------
say "a clean start: carol logs in over IMAP from 127.0.0.10, dave submits"
check "carol logs in (IMAP, policy server asked)" "OK" "$(imap 127.0.0.10 carol@test.example carol-right-horse)"
check_match "dave submits a message" '^250 2\.0\.0 Ok: queued' "$(submit 127.0.0.10 dave@test.example)"

say "IMAP password guessing from 127.0.0.77 against carol: 10 wrong passwords"
fails=0
for i in $(seq 10); do
    r=$(imap 127.0.0.77 carol@test.example "guess$i")
    [[ $r == NO* ]] && fails=$((fails + 1))
done
check "10 IMAP logins refused" "10" "$fails"
t_dns=$(wait_dns "$R77" 127.0.0.4 10)
[ -n "$t_dns" ] && ok "the feeder listed 127.0.0.77 for authentication failures (127.0.0.4)" ||
    fail "127.0.0.77 listed in bl.example" "$(tail -3 "$T/maillog"; tail -3 "$T/feeder.log")"
listed_at=$(date +%s)
r=$(imap 127.0.0.77 carol@test.example carol-right-horse)
check_match "127.0.0.77 is refused at IMAP even with the right password, and told why ([ALERT] msg)" \
    "^NO b'\\[ALERT\\] address 127\\.0\\.0\\.77 blocked by bl\\.example: authentication failures 1[0-9] in 10m.*\\(until 20[0-9-]+ [0-9:]+ UTC\\)'$" "$r"
check "another address logs in as carol" "OK" "$(imap 127.0.0.10 carol@test.example carol-right-horse)"
check "another account logs in" "OK" "$(imap 127.0.0.11 dave@test.example dave-right-horse)"

# --- fail open --------------------------------------------------------------------------------------
say "dnsbl-server down: Dovecot and Postfix fail open"
kill "$SERVER_PID"
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && die "dnsbl-server stops on SIGTERM"
check "with the policy server down, 127.0.0.77 logs in (Dovecot: auth_policy_reject_on_fail = no)" "OK" \
    "$(imap 127.0.0.77 carol@test.example carol-right-horse)"
check_match "Dovecot logged that it could not reach the policy server" 'policy' \
    "$(grep -iE 'policy' "$T/dovecot-imap.log" | tail -1)"
check_match "with the policy server down, Postfix submits (default_action=DUNNO)" '^250 2\.0\.0 Ok: queued' \
    "$(submit 127.0.0.10 dave@test.example)"
start_dnsbl || die "dnsbl-server starts again" "$(tail -5 "$T/server.log")"
check_match "policy server back: 127.0.0.77 refused again" '^NO ' "$(imap 127.0.0.77 carol@test.example carol-right-horse)"

# --- compromised account at submission -------------------------------------------------------------
say "mallory submits from JP, US, BR and DE (127.0.0.21-24): the fourth country lists the account"
for src in 127.0.0.21 127.0.0.22 127.0.0.23 127.0.0.24; do
    r=$(submit "$src" mallory@test.example)
    [[ $r == 250* ]] || fail "mallory's message from $src accepted before the listing" "$r"
done
t=$(wait_dns "$(acct mallory@test.example).acct.example" 127.0.2.6 10)
[ -n "$t" ] && ok "mallory@test.example listed as compromised (127.0.2.6)" ||
    fail "mallory listed in acct.example" "$(tail -3 "$T/feeder.log")"
r=$(submit 127.0.0.21 mallory@test.example --quit-after RCPT)
check_match "mallory refused at submission (RCPT) from home, with the reason" \
    '^554 5\.7\.1 <alice@test\.example>: Recipient address rejected: account mallory@test\.example blocked by acct\.example: .*countries.*\(until 20[0-9-]+ [0-9:]+ UTC\)' "$r"
check_match "dave still submits from the same address" '^250 2\.0\.0 Ok: queued' "$(submit 127.0.0.21 dave@test.example)"
check_match "mallory refused at IMAP too (compromised)" '^NO ' "$(imap 127.0.0.21 mallory@test.example mallory-right-horse)"

# --- domestic-only ------------------------------------------------------------------------------------
say "erin is marked domestic-only (home JP)"
check_match "dnsblctl domestic" 'erin@test\.example domestic-only: JP' \
    "$("$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" domestic acct.example erin@test.example --why 'ticket 4711')"
r=$(submit 127.0.0.25 erin@test.example --quit-after RCPT)
check_match "erin from the US (127.0.0.25): refused at submission with the reason" \
    '^554 5\.7\.1 <alice@test\.example>: Recipient address rejected: account erin@test\.example is domestic-only \(JP\); 127\.0\.0\.25 is in US' "$r"
check_match "erin from home (127.0.0.21): accepted" '^250 2\.0\.0 Ok: queued' "$(submit 127.0.0.21 erin@test.example)"
check_match "erin from the US: refused at IMAP, with the reason" "^NO b'\\[ALERT\\] account erin@test\\.example is domestic-only \\(JP\\); 127\\.0\\.0\\.25 is in US" \
    "$(imap 127.0.0.25 erin@test.example erin-right-horse)"
check "dave from the US: IMAP login (not domestic-only)" "OK" "$(imap 127.0.0.25 dave@test.example dave-right-horse)"
check "erin from home: IMAP login" "OK" "$(imap 127.0.0.21 erin@test.example erin-right-horse)"
check_match "dnsblctl show erin tells support why" 'domestic-only: submissions and logins from outside JP are refused' \
    "$("$BIN/dnsblctl" --db "$T/db" --zones "$ZONES" show erin@test.example)"

# --- expiry -------------------------------------------------------------------------------------------
say "waiting for 127.0.0.77's listing to expire (60 s after its last failure)"
gone=
for _ in $(seq 90); do
    [ -z "$(nsx dig +time=1 +tries=1 @127.0.0.1 "$R77" A +short)" ] && { gone=1; break; }
    sleep 1
done
[ -n "$gone" ] && ok "127.0.0.77's listing expired by itself" || fail "127.0.0.77's listing expired within 90 s"
check "after the expiry 127.0.0.77 logs in again, no operator action" "OK" "$(imap 127.0.0.77 carol@test.example carol-right-horse)"

check "no Postfix fatal errors or panics" "" "$(grep -E 'fatal:|panic:' "$T/maillog" | head -3)"
if [ "$FAIL" -gt 0 ]; then
    echo "---- maillog (last 30 lines)"; tail -30 "$T/maillog"
    echo "---- dovecot-imap.log (last 20 lines)"; tail -20 "$T/dovecot-imap.log"
    echo "---- server.log"; tail -20 "$T/server.log"
    echo "---- feeder.log"; tail -10 "$T/feeder.log"
fi
kill "$FEEDER_PID"; wait "$FEEDER_PID"
check "the feeder stops cleanly" "0" "$?"
say "done in $(( $(date +%s) - START )) s"
finish
