#!/usr/bin/env bash
# Fields a client controls cannot name another address or hide a line: failed IMAP logins whose
# usernames imitate Dovecot's own fields ("rip=8.8.8.8", "x,rip=9.9.9.9>", ...) list the address they
# came from and never the one they name, and mail from a quoted sender with a '>' in its local part
# ("x>y"@spam.example) is counted. The real feeder reads the log; dnsbl-server answers.
. "$(dirname "$0")/lib.sh"
LOG="$T/hostile.log"
ATTACKER=203.0.113.50

python3 - "$LOG" "$ATTACKER" <<'PY'
import sys
path, attacker = sys.argv[1], sys.argv[2]
out = []
def stamp(s):
    return "2026-11-22T15:%02d:%02d.000000+00:00" % (s // 60, s % 60)
users = ["rip=8.8.8.8"] * 12 + ["x,rip=9.9.9.9>"] * 12 + [
    "a>, rip=8.8.4.4, lip=1.1.1.1, session=<x", "x>, method=PLAIN, rip=8.8.4.4, lip=8.8.4.4, mpid=1, session=<y",
    "unknown[8.8.4.4]: SASL LOGIN authentication failed", "(auth failed, 9 attempts in 1 secs)"]
for i, u in enumerate(users):   # one failure per line, a few seconds apart
    svc = "imap-login" if i % 2 == 0 else "pop3-login"
    out.append("%s mx1 dovecot: %s: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): "
               "user=<%s>, method=PLAIN, rip=%s, lip=127.0.0.1, session=<V2Cty95gf5d/AVAC>"
               % (stamp(i * 5), svc, u, attacker))
for i in range(320):            # 320 messages from "x>y"@spam.example (the domain volume rule is 300)
    qid = "%011X" % (0xA0000000 + i)
    t = stamp(i // 2)
    client = "198.51.100.%d" % (i % 200 + 1)
    out.append("%s mx1 postfix/smtpd[1]: %s: client=unknown[%s]" % (t, qid, client))
    out.append('%s mx1 postfix/qmgr[2]: %s: from=<"x>y"@spam.example>, size=2048, nrcpt=1 (queue active)' % (t, qid))
    out.append("%s mx1 postfix/qmgr[2]: %s: removed" % (t, qid))
open(path, "w").write("\n".join(out) + "\n")
PY

"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once --replay "$LOG" 2>>"$T/feeder.log"
check "feeder --once exits 0" "0" "$?"
start_server || exit 1

check "8.8.8.8, named by a username, is not listed" "NXDOMAIN" "$(status "$(rev4 8.8.8.8).bl.example" A)"
check "9.9.9.9, named by a username, is not listed" "NXDOMAIN" "$(status "$(rev4 9.9.9.9).bl.example" A)"
check "8.8.4.4, named by a username, is not listed" "NXDOMAIN" "$(status "$(rev4 8.8.4.4).bl.example" A)"
check "the address the failures came from is listed for auth" "127.0.0.4" "$(q "$(rev4 $ATTACKER).bl.example" A)"
check_match "its TXT counts all 28 failures" "authentication failures 28 in" "$(q "$(rev4 $ATTACKER).bl.example" TXT)"
acct() { printf %s "$1" | sha256sum | cut -c1-32; }
check "the account is the whole username \"rip=8.8.8.8\"" "127.0.2.4" "$(q "$(acct 'rip=8.8.8.8').acct.example" A)"
check "the account is the whole username \"x,rip=9.9.9.9>\"" "127.0.2.4" \
      "$(q "$(acct 'x,rip=9.9.9.9>').acct.example" A)"
check "no account \"x\" was made up from it" "NXDOMAIN" "$(status "$(acct x).acct.example" A)"
check "mail from \"x>y\"@spam.example is counted: the domain is listed for volume" "127.0.1.5" \
      "$(q spam.example.dbl.example A)"
stop_server

finish
