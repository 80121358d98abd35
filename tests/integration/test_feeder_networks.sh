#!/usr/bin/env bash
# Networks (issue 9, rule 4): every IPv4 address also counts toward its /24 and every IPv6 /64 toward
# its /48. A harvest or password guessing spread so thin that no address crosses its own threshold
# lists the network as one CIDR entry, once its members together cross the rule's network-threshold
# and at least network-members distinct members contributed. Allow entries inside the network keep
# the network from being listed as a whole. Lines are the corpus's shapes (Postfix smtpd rejects and
# disconnects, Dovecot auth failures) with addresses and times rewritten.
. "$(dirname "$0")/lib.sh"
now=$(date -u +%s)

# gen SCENARIO: the log lines of one scenario on stdout, spread over the 7 minutes before now.
gen() {
    python3 - "$1" "$now" <<'PY'
import ipaddress, sys
scenario, now = sys.argv[1], int(sys.argv[2])
out, pid = [], [10000]
def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.000000+00:00')
def session(t, ip, unknown, valid):
    """One smtpd session: `unknown` RCPTs rejected as unknown users, `valid` accepted, then the disconnect."""
    pid[0] += 1
    for i in range(unknown):
        out.append((t, f"{iso(t)} mx1 postfix/smtpd[{pid[0]}]: NOQUEUE: reject: RCPT from unknown[{ip}]: 550 5.1.1 "
                       f"<nobody{i}@example.jp>: Recipient address rejected: User unknown in local recipient table; "
                       f"from=<> to=<nobody{i}@example.jp> proto=ESMTP helo=<client.example.net>"))
    out.append((t, f"{iso(t)} mx1 postfix/smtpd[{pid[0]}]: disconnect from unknown[{ip}] ehlo=1 mail=1 "
                   f"rcpt={valid}/{unknown + valid} quit=1 commands={3 + valid}/{3 + unknown + valid}"))
def authfail(t, ip, user):
    out.append((t, f"{iso(t)} mx1 dovecot: imap-login: Disconnected: Connection closed (auth failed, 1 attempts "
                   f"in 2 secs): user=<{user}>, method=PLAIN, rip={ip}, lip=127.0.0.1, session=<s{t}{user}>"))
def spread(i, n):
    return now - 420 + (420 * i) // max(n, 1)   # 7 minutes: the checks may run 3 minutes later
def harvest(addrs, per, extra_valid=0):
    # each address one session of `per` unknown RCPTs; the first extra_valid addresses add one valid RCPT
    for i, ip in enumerate(addrs):
        session(spread(i, len(addrs)), ip, per, 1 if i < extra_valid else 0)
v4 = [f"198.51.100.{i}" for i in range(1, 255)]
if scenario == "harvest4":
    harvest(v4, 9, extra_valid=4)
elif scenario == "harvest4-heavy":      # the same, and one member over its own threshold
    harvest(v4, 9, extra_valid=4)
    session(now - 30, "198.51.100.200", 12, 0)
elif scenario == "harvest6":
    net = ipaddress.ip_network("2001:db8:5::/48")
    addrs = [str(ipaddress.ip_address(int(net.network_address) + (i << 64) + 0x25)) for i in range(1, 201)]
    harvest(addrs, 9)
elif scenario == "auth4":               # 50 failures from 10 addresses, a user name each (no account-ips)
    for i in range(50):
        authfail(spread(i, 50), f"203.0.113.{10 + i % 10}", f"guess{i}")
elif scenario == "auth4-49":
    for i in range(49):
        authfail(spread(i, 49), f"203.0.113.{10 + i % 10}", f"guess{i}")
elif scenario.startswith("abnormal4"):  # 60 (or 49) connections from 10 addresses that hang up after CONNECT
    for i in range(60 if scenario == "abnormal4" else 49):
        t, ip = spread(i, 60), f"203.0.113.{30 + i % 10}"
        pid[0] += 1
        for text in ("connect from unknown[%s]", "lost connection after CONNECT from unknown[%s]",
                     "disconnect from unknown[%s] commands=0/0"):
            out.append((t, f"{iso(t)} mx1 postfix/smtpd[{pid[0]}]: " + text % ip))
elif scenario == "busy":                # 10 busy senders of one /24; late on, 6 of them mistype 9 RCPTs each
    for i in range(10):
        for s in range(10):
            session(now - 540 + 30 * s + i, f"198.18.9.{20 + i}", 0, 10)
    for i in range(6):
        session(now - 60 + i, f"198.18.9.{20 + i}", 9, 0)
elif scenario == "four-members":        # 52 unknown from 4 addresses: each listed, the network not
    harvest([f"192.0.2.{i}" for i in (11, 22, 33, 44)], 13)
elif scenario == "clean":               # 30 legitimate senders: a typo now and then, many good RCPTs
    for i in range(30):
        ip = f"198.18.7.{100 + i}"
        for s in range(10):
            session(spread(i * 10 + s, 300), ip, 1 if s < 2 else 0, 5)
out.sort(key=lambda x: x[0])
print("\n".join(line for _, line in out))
PY
}

# feed DB SCENARIO [ZONES]: one --once run of the feeder over the scenario's log.
feed() {
    gen "$2" >"$T/$2.log"
    "$BIN/dnsbl-feeder" --db "$T/$1" --zones "${3:-$ROOT/zones}" --once "$T/$2.log" 2>>"$T/feeder.log"
    check "feeder exits 0 ($2)" "0" "$?"
}
entries() { "$BIN/dnsblctl" --db "$T/$1" --zones "${2:-$ROOT/zones}" list bl.example 2>/dev/null; }
count_entries() { entries "$@" | grep -cE '^[0-9a-f:.]+(/[0-9]+)?[[:space:]]'; }

# 1. A harvest spread over one /24: 254 addresses x 9 unknown RCPTs, none over its own threshold.
feed h4 harvest4
l=$(entries h4)
check_match "the /24 is listed with the dha code" '198\.51\.100\.0/24[[:space:]].*127\.0\.0\.2' "$l"
check_match "its reason says network, counts, members and window" \
    'network 198\.51\.100\.0/24: unknown recipients 2286/2290 from 254 addresses in 10m; listed until 2' "$l"
check "one entry, no single address" "1" "$(count_entries h4)"

# 2. The same over 200 /64s of one IPv6 /48.
feed h6 harvest6
l=$(entries h6)
check_match "the IPv6 /48 is listed" '2001:db8:5::/48[[:space:]].*network 2001:db8:5::/48: unknown recipients 1800/1800 from 200 /64s in 10m' "$l"
check "one entry, no single /64" "1" "$(count_entries h6)"

# 3. Password guessing over a /24: 50 failures from 10 addresses (5 each).
feed a4 auth4
l=$(entries a4)
check_match "the /24 is listed with the auth code" '203\.0\.113\.0/24[[:space:]].*127\.0\.0\.4.*network 203\.0\.113\.0/24: authentication failures 50 from 10 addresses in 10m' "$l"
check "one entry, no single address" "1" "$(count_entries a4)"
check_match "dnsblctl show: the network's own counters" '127\.0\.0\.4[[:space:]]auth.*'$'\n''.*auth: 50 failed logins in 10m' \
    "$("$BIN/dnsblctl" --db "$T/a4" --zones "$ROOT/zones" show 203.0.113.0/24 2>&1)"
top=$("$BIN/dnsblctl" --db "$T/a4" --zones "$ROOT/zones" --json top 2>/dev/null)
check "dnsblctl top: the network first, as kind network" "203.0.113.0/24 network 50" \
    "$(python3 -c 'import json,sys; s=json.load(sys.stdin)[0]; print(s["source"], s["kind"], s["events"])' <<<"$top" 2>&1)"

# 3b. Abnormal sessions over a /24: 60 connections that hang up, 6 from each of 10 addresses.
feed ab4 abnormal4
l=$(entries ab4)
check_match "the /24 is listed with the abnormal code" '203\.0\.113\.0/24[[:space:]].*127\.0\.0\.7.*network 203\.0\.113\.0/24: abnormal sessions 60 from 10 addresses in 10m' "$l"
check "one entry, no single address" "1" "$(count_entries ab4)"
feed ab49 abnormal4-49
check "49 abnormal sessions from 10 addresses: nothing listed" "0" "$(count_entries ab49)"

# 4. Near misses.
feed a49 auth4-49
check "49 failures from 10 addresses: nothing listed" "0" "$(count_entries a49)"
feed m4 four-members
l=$(entries m4)
check "4 members over the network threshold: the 4 addresses are listed (their own rule) ..." "4" "$(count_entries m4)"
check_nomatch "... and the network is not" '192\.0\.2\.0/24' "$l"
feed clean clean
check "a clean /24 with 30 legitimate senders (60 unknown at 4 %): nothing listed" "0" "$(count_entries clean)"

feed busy busy
check "54 unknown RCPTs late in the window among 1,000 good ones of the same senders: nothing listed" "0" \
    "$(count_entries busy)"

# 5. A /24 holding an allowed address is never listed as a whole; a member over its own threshold is.
mkdir -p "$T/zones-allow"
cp "$ROOT"/zones/*.conf "$T/zones-allow/"
printf '\nnet = 198.51.100.77\n' >>"$T/zones-allow/bl.example.conf"
feed allowz harvest4-heavy "$T/zones-allow"
l=$(entries allowz "$T/zones-allow")
check_nomatch "zone-file [allow] inside the /24: the network is not listed" '198\.51\.100\.0/24' "$l"
check_match "... its offending member is" '198\.51\.100\.200[[:space:]].*127\.0\.0\.2[[:space:]]dha.*unknown recipients 21/21 in 10m' "$l"
"$BIN/dnsblctl" --db "$T/allowc" --zones "$ROOT/zones" allow bl.example 198.51.100.77 >/dev/null 2>&1
check "dnsblctl allow 198.51.100.77" "0" "$?"
feed allowc harvest4-heavy
l=$(entries allowc)
check_nomatch "store allow entry inside the /24: the network is not listed" '198\.51\.100\.0/24' "$l"
check_match "... its offending member is" '198\.51\.100\.200[[:space:]].*127\.0\.0\.2[[:space:]]dha.*unknown recipients 21/21 in 10m' "$l"

# 5b. Two IP zones rating networks of different sizes: each lists its own (bl2.example: /26s).
mkdir -p "$T/zones-two"
cp "$ROOT"/zones/*.conf "$T/zones-two/"
sed -e 's/bl\.example/bl2.example/g' -e 's/^network-v4 .*/network-v4 = 26/' "$ROOT/zones/bl.example.conf" \
    >"$T/zones-two/bl2.example.conf"
feed two harvest4 "$T/zones-two"
check "bl.example: the /24" "198.51.100.0/24" "$(entries two "$T/zones-two" | awk '/^[0-9]/ {print $1}' | tr '\n' ' ' | sed 's/ $//')"
l2=$("$BIN/dnsblctl" --db "$T/two" --zones "$T/zones-two" list bl2.example 2>/dev/null)
check "bl2.example: the four /26s" "198.51.100.0/26 198.51.100.128/26 198.51.100.192/26 198.51.100.64/26" \
    "$(awk '/^[0-9]/ {print $1}' <<<"$l2" | sort | tr '\n' ' ' | sed 's/ $//')"
check_match "... each with its own members" 'network 198\.51\.100\.64/26: unknown recipients [0-9]+/[0-9]+ from 64 addresses' "$l2"

# 6. A restart in the middle continues the network's counts and members (they are stored).
gen harvest4 >"$T/full.log"
half=$(($(wc -l <"$T/full.log") / 2))
head -n "$half" "$T/full.log" >"$T/part1.log"
tail -n +"$((half + 1))" "$T/full.log" >"$T/part2.log"
"$BIN/dnsbl-feeder" --db "$T/split" --zones "$ROOT/zones" --once "$T/part1.log" 2>>"$T/feeder.log"
check_match "half the harvest: listed from about half the members" \
    'network 198\.51\.100\.0/24: unknown recipients [0-9]+/[0-9]+ from 12[0-9] addresses' "$(entries split)"
"$BIN/dnsbl-feeder" --db "$T/split" --zones "$ROOT/zones" --once "$T/part2.log" 2>>"$T/feeder.log"
check_match "the rest after a restart: listed with all 254 members" \
    'network 198\.51\.100\.0/24: unknown recipients 2286/2290 from 254 addresses' "$(entries split)"

if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$T/feeder.log"; then
    fail "no sanitizer reports" "$(grep -E -A10 'ERROR: AddressSanitizer|runtime error:' "$T/feeder.log" | head -20)"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
