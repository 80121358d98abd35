#!/usr/bin/env bash
# Guards: a queue ID whose `removed` line never comes (lost lines, a host that stopped logging) is
# dropped after two hours without a line for it, while a deferred message that qmgr keeps retrying
# keeps its entry and is counted once. (Such an entry once stayed in memory and in the store for a
# day; 300k of them held 124 MB.)
. "$(dirname "$0")/lib.sh"
base=$(( $(date +%s) - 4 * 3600 ))
stamp() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.000000+00:00; }
line() { echo "$(stamp $(($1 + base))) mx1 $2"; }
{
    line 0    "postfix/smtpd[100]: 3F1A2B3C4D: client=unknown[203.0.113.5]"
    line 1    "postfix/qmgr[101]: 3F1A2B3C4D: from=<a@lost.example>, size=100, nrcpt=1 (queue active)"
    line 2    "postfix/smtpd[100]: 5E6F7A8B9C: client=unknown[203.0.113.6]"
    line 3    "postfix/qmgr[101]: 5E6F7A8B9C: from=<b@deferred.example>, size=100, nrcpt=1 (queue active)"
    line 3500 "postfix/qmgr[101]: 5E6F7A8B9C: from=<b@deferred.example>, size=100, nrcpt=1 (queue active)"
} >"$T/mail.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/mail.log" 2>"$T/feeder.log"
check "feeder exits 0" "0" "$?"
check "a retry of a deferred message is not counted again" "1" \
      "$("$BIN/dnsbl-feeder" --db "$T/db" --dump | grep -c '^d deferred.example msgs@[0-9]*:[0-9]*=1 ')"
{
    line 7000 "postfix/qmgr[101]: 5E6F7A8B9C: from=<b@deferred.example>, size=100, nrcpt=1 (queue active)"
    line 7800 "postfix/smtpd[100]: warning: unknown[198.51.100.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
    line 10800 "postfix/smtpd[100]: warning: unknown[198.51.100.2]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
} >>"$T/mail.log"
"$BIN/dnsbl-feeder" --db "$T/db" --zones "$ROOT/zones" --once "$T/mail.log" 2>"$T/feeder.log"
check "feeder exits 0 on the rest of the log" "0" "$?"
"$BIN/dnsbl-feeder" --db "$T/db" --dump >"$T/dump.txt"
check "a queue ID without removed is dropped after idling (3 h later)" "0" "$(grep -c '^q mx1 3F1A2B3C4D ' "$T/dump.txt")"
check "a deferred message that is still retried keeps its entry" "1" "$(grep -c '^q mx1 5E6F7A8B9C ' "$T/dump.txt")"
check_match "the expiry is logged" "1 queue IDs dropped after 7200s without a line" "$(cat "$T/feeder.log")"
finish
