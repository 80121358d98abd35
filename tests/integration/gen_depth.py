#!/usr/bin/env python3
"""gen_depth.py SCENARIO BASE > log: sessions for the issue 9 rules, built from the corpus's own lines
(tests/corpus/mail.log) with their client address, time, queue ID and counters rewritten, the way
gen_shifted.py reuses them. Forms the corpus does not hold are Postfix 3.7's texts (smtpd.c,
postscreen_early.c, postscreen_smtpd.c, smtpd_check.c) in the corpus's envelope; each says so.

SCENARIO:
  dha-count  198.51.100.1 diluted harvest: 10 sessions of 19 unknown + 20 valid RCPTs (190 unknown,
                          49 %), every other unknown a reject_unverified_recipient failure
             198.51.100.2 near miss: 49 unknown among 169 RCPTs
             198.51.100.3 harvest through recipient verification only: 12 "undeliverable address"
             198.51.100.4 clean: 30 normal sessions
  abnormal   see the comments in abnormal()
  slow       rule 3, slow and low over six hours: see slow()
  outbound   rule 5, per-account send limits: see outbound()
BASE: unix time of the first line."""
import os
import re
import sys
from datetime import datetime, timezone

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "mail.log")
LINES = open(CORPUS).read().splitlines()
ENVELOPE = "2026-11-22T15:04:35.000000+00:00 mx1 "


def shape(pattern):
    """The first corpus line matching pattern, without its time stamp."""
    rx = re.compile(pattern)
    for l in LINES:
        if rx.search(l):
            return l.split(" ", 1)[1]
    raise SystemExit("corpus has no line like " + pattern)


def postfix37(text):
    """A Postfix 3.7 line the corpus does not hold, in the corpus's envelope."""
    return ENVELOPE.split(" ", 1)[1] + text


ADDR = re.compile(r"127\.[13]\.\d+\.\d+")     # the corpus's clients, not its 127.0.0.1 server
QID = re.compile(r"\b[0-9A-F]{10,11}\b")
out = []


def emit(t, line, ip, qid=None, port=None):
    stamp = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds")
    line = ADDR.sub(ip, line)
    if qid:
        line = QID.sub(qid, line)
    if port is not None:    # the client's port, not the server's "[127.0.0.1]:25"
        line = re.sub(r"(\[" + re.escape(ip) + r"\]):\d+", r"\1:%d" % port, line)
    out.append(stamp + " " + line)


CONNECT = shape(r"smtpd\[\d+\]: connect from unknown\[127\.1\.20\.3\]")
UNKNOWN = shape(r"smtpd\[\d+\]: [0-9A-F]+: reject: RCPT from unknown\[127\.1\.20\.3\]: 550 .*User unknown")
DHA_DISCONNECT = shape(r"disconnect from unknown\[127\.1\.20\.3\] ehlo=1 mail=1 rcpt=1/21")
CLIENT = shape(r"smtpd\[\d+\]: 0F5B110C502: client=unknown\[127\.1\.10\.4\]")
QUEUED = shape(r"qmgr\[\d+\]: 0F5B110C502: from=")
REMOVED = shape(r"qmgr\[\d+\]: 0F5B110C502: removed")
CLEAN_DISCONNECT = shape(r"disconnect from unknown\[127\.1\.10\.4\] ehlo=1 mail=1 rcpt=1 data=1 quit=1")
# smtpd_check.c: reject_unverified_recipient's hard failure, with Dovecot LMTP's reply
UNDELIVERABLE = UNKNOWN.replace(
    "Recipient address rejected: User unknown in local recipient table",
    "Recipient address rejected: undeliverable address: host 127.0.0.1[private/dovecot-lmtp] said: "
    "550 5.1.1 <u28499@example.jp> User doesn't exist: u28499@example.jp (in reply to RCPT TO command)")


def counters(line, text):
    """The disconnect line with its command counters replaced."""
    return line[:line.index("] ") + 2] + text


def harvest_session(t, ip, n, unknown, valid, verify_every=0):
    """One session: connect, `unknown` rejects (every verify_every-th an undeliverable address),
    disconnect with rcpt=valid/valid+unknown."""
    emit(t, CONNECT, ip)
    for i in range(unknown):
        form = UNDELIVERABLE if verify_every and i % verify_every == 0 else UNKNOWN
        line = re.sub(r"\bu\d+@", "u%d.%d@" % (n, i), form)     # a new recipient each time
        emit(t + 0.01 * (i + 1), line, ip, qid="%08X%03X" % (n, i))
    total = valid + unknown
    emit(t + 0.5, counters(DHA_DISCONNECT, "ehlo=1 mail=1 rcpt=%d/%d quit=1 commands=%d/%d" %
                           (valid, total, valid + 3, total + 3)), ip)


def clean_session(t, ip, n):
    qid = "C%09X" % n
    emit(t, CONNECT, ip)
    emit(t + 0.1, CLIENT, ip, qid=qid)
    emit(t + 0.2, QUEUED, ip, qid=qid)
    emit(t + 0.3, CLEAN_DISCONNECT, ip)
    emit(t + 0.4, REMOVED, ip, qid=qid)


def dha_count(base):
    for s in range(10):     # 10 sessions in 5 minutes: 190 unknown of 390
        harvest_session(base + 30 * s, "198.51.100.1", 100 + s, 19, 20, verify_every=2)
    for s, unknown in enumerate((17, 16, 16)):  # 49 unknown of 169
        harvest_session(base + 40 * s + 7, "198.51.100.2", 200 + s, unknown, 40)
    harvest_session(base + 11, "198.51.100.3", 300, 12, 0, verify_every=1)
    for s in range(30):
        clean_session(base + 9 * s + 3, "198.51.100.4", 400 + s)


PS_CONNECT = shape(r"postscreen\[\d+\]: CONNECT from \[127\.1\.90\.1\]")
PS_PASS = shape(r"postscreen\[\d+\]: PASS OLD \[127\.1\.90\.3\]")
PS_HANGUP = shape(r"postscreen\[\d+\]: HANGUP after 0 from \[127\.1\.90\.1\]")
PS_DISCONNECT = shape(r"postscreen\[\d+\]: DISCONNECT \[127\.1\.90\.1\]")
PS_PREGREET = shape(r"postscreen\[\d+\]: PREGREET 10 after 0 from \[127\.1\.90\.2\]")
PS_HANGUP_LATE = shape(r"postscreen\[\d+\]: HANGUP after 1\.5 from \[127\.1\.90\.2\]")
ERRORS = shape(r"smtpd\[\d+\]: too many errors after UNKNOWN from unknown\[127\.1\.90\.3\]")
ERRORS_DISCONNECT = shape(r"smtpd\[\d+\]: disconnect from unknown\[127\.1\.90\.3\]")
CONNECT_90 = shape(r"smtpd\[\d+\]: connect from unknown\[127\.1\.90\.3\]")
SMTPD = CONNECT_90.split(": ", 1)[0] + ": "        # "mx1 postfix/smtpd[PID]: "
PS = PS_CONNECT.split(": ", 1)[0] + ": "
# Postfix 3.7 texts the corpus does not hold (smtpd.c, postscreen_smtpd.c)
LOST = SMTPD + "lost connection after %s from unknown[127.1.90.3]"
TIMEOUT = SMTPD + "timeout after %s from unknown[127.1.90.3]"
PIPELINING = SMTPD + "improper command pipelining after CONNECT from unknown[127.1.90.3]: EHLO bot\\r\\nMAIL FROM:<a@b.example>\\r\\n"
PS_FORMS = {
    "non-smtp": PS + "NON-SMTP COMMAND from [127.1.90.1]:40000 CONNECT CONNECT www.example.org:443 HTTP/1.1",
    "time-limit": PS + "COMMAND TIME LIMIT from [127.1.90.1]:40000",
    "count-limit": PS + "COMMAND COUNT LIMIT from [127.1.90.1]:40000",
    "bare-newline": PS + "BARE NEWLINE from [127.1.90.1]:40000",
    "pipelining": PS + "COMMAND PIPELINING from [127.1.90.1]:40000 after EHLO: MAIL FROM:<a@b.example>\\r\\n",
}


class Sessions:
    """Connections of one client: each through postscreen, on a port of its own."""

    def __init__(self, ip, port):
        self.ip, self.port = ip, port

    def ps(self, t, *lines):
        """A connection that ends in postscreen: CONNECT, the lines, DISCONNECT."""
        self.port += 1
        emit(t, PS_CONNECT, self.ip, port=self.port)
        for i, l in enumerate(lines):
            emit(t + 0.1 * (i + 1), l, self.ip, port=self.port)
        emit(t + 0.1 * (len(lines) + 1), PS_DISCONNECT, self.ip, port=self.port)

    def smtpd(self, t, lines, disconnect, hold=1.0, ps_lines=()):
        """A connection postscreen hands to smtpd (after ps_lines, which its ignore actions allow)."""
        self.port += 1
        emit(t, PS_CONNECT, self.ip, port=self.port)
        for i, l in enumerate(ps_lines):
            emit(t + 0.01 * (i + 1), l, self.ip, port=self.port)
        if not ps_lines:    # (after a failed test that an "ignore" action lets pass, no PASS line)
            emit(t + 0.05, PS_PASS, self.ip, port=self.port)
        emit(t + 0.06, CONNECT_90, self.ip)
        for i, l in enumerate(lines):
            emit(t + 0.06 + hold * (i + 1) / (len(lines) + 1), l, self.ip)
        emit(t + 0.07 + hold, counters(ERRORS_DISCONNECT, disconnect), self.ip)


def abnormal(base):
    # 203.0.113.1 rings the bell and runs: 12 connections in 8 minutes, one of every kind (the
    # smtpd ones handed on by postscreen), each logged the way Postfix does
    a = Sessions("203.0.113.1", 41000)
    t = base
    a.smtpd(t, [LOST % "CONNECT"], "commands=0/0")
    a.smtpd(t + 40, [LOST % "AUTH"], "ehlo=1 auth=0/1 commands=1/2")
    a.smtpd(t + 80, [TIMEOUT % "RCPT"], "ehlo=1 mail=1 rcpt=0/1 commands=2/3", hold=45.0)
    a.smtpd(t + 140, [ERRORS], "ehlo=1 unknown=0/20 commands=1/21")
    a.smtpd(t + 180, [PIPELINING], "ehlo=1 quit=1 commands=2")
    a.ps(t + 220, PS_PREGREET, PS_HANGUP_LATE)
    a.ps(t + 250, PS_HANGUP)
    for i, form in enumerate(sorted(PS_FORMS)):
        a.ps(t + 280 + 30 * i, PS_FORMS[form])
    # 203.0.113.2, the near miss: 9 connections, each logged twice (PREGREET then HANGUP; improper
    # pipelining then a lost connection; postscreen's PREGREET, handed on, then smtpd's lost connection)
    b = Sessions("203.0.113.2", 42000)
    for i in range(3):
        b.ps(t + 60 * i + 5, PS_PREGREET, PS_HANGUP_LATE)
        b.smtpd(t + 60 * i + 25, [PIPELINING, LOST % "EHLO"], "ehlo=1 commands=1")
        b.smtpd(t + 60 * i + 45, [LOST % "EHLO"], "ehlo=1 commands=1", ps_lines=[PS_PREGREET])
    # 203.0.113.3, clean: 30 sessions that deliver a message; 12 of them drop the connection after
    # it instead of sending QUIT, which is no abnormal session
    for s in range(30):
        if s % 5 < 2:
            emit(base + 15 * s + 1, CONNECT, "203.0.113.3")
            emit(base + 15 * s + 1.1, CLIENT, "203.0.113.3", qid="D%09X" % s)
            emit(base + 15 * s + 1.2, QUEUED, "203.0.113.3", qid="D%09X" % s)
            emit(base + 15 * s + 1.3, LOST % "END-OF-MESSAGE", "203.0.113.3")
            emit(base + 15 * s + 1.4, counters(ERRORS_DISCONNECT, "ehlo=1 mail=1 rcpt=1 data=1 commands=4"),
                 "203.0.113.3")
        else:
            clean_session(base + 15 * s + 1, "203.0.113.3", 500 + s)


AUTH_FAIL = shape(r"imap-login: Disconnected: Connection closed \(auth failed, 1 attempts in 2 secs\): user=<bob>, .*rip=127\.1\.80\.1,")
SASL_CLIENT = shape(r"smtpd\[\d+\]: 74B9510C502: client=unknown\[127\.1\.61\.6\], sasl_method=PLAIN, sasl_username=dave")
SASL_QUEUED = shape(r"qmgr\[\d+\]: 74B9510C502: from=")
SASL_REMOVED = shape(r"qmgr\[\d+\]: 74B9510C502: removed")
RIP = re.compile(r"rip=[0-9a-f.:]+,")


def auth_failure(t, ip, user):
    """Dovecot's failed IMAP login of user from ip."""
    emit(t, re.sub(r"user=<[^>]*>", "user=<%s>" % user, RIP.sub("rip=%s," % ip, AUTH_FAIL)), ip)


def slow(base):
    """Rule 3: slow and low, over six hours; each attacker stays under every ten-minute threshold."""
    for s in range(36):     # every 10 minutes for 6 hours
        t = base + 600 * s
        harvest_session(t, "198.51.100.10", 1000 + s, 9, 0)           # 324 unknown in 6 h: listed
        if s < 11:
            harvest_session(t + 20, "198.51.100.11", 2000 + s, 9, 0)  # near miss: 99 unknown
        harvest_session(t + 40, "198.51.100.12", 3000 + s, 9, 30)     # near miss: 23 % of its RCPTs
        for i in range(9):                                            # 324 failures in 6 h: listed
            auth_failure(t + 60 + 5 * i, "198.51.100.20", "user%d" % (i + 9 * s))
    for i in range(29):                                               # near miss: 29 failures in 6 h
        auth_failure(base + 700 * i + 3, "198.51.100.21", "user%d" % i)
    # one account guessed once every 150 s for six hours, each time from another address (in 140
    # different /24s)
    for i in range(140):
        auth_failure(base + 150 * i + 7, "198.18.%d.%d" % (i % 256, 1 + i // 256), "carol")
    # near miss: an account failing 29 times from 9 addresses over six hours
    for i in range(29):
        auth_failure(base + 720 * i + 11, "192.0.2.%d" % (100 + i % 9), "dora")


def submission(t, ip, user, n, nrcpt, qmgr_first=False):
    """One authenticated submission of user from ip, with nrcpt recipients."""
    qid = "E%09X" % n
    lines = [(SASL_CLIENT.replace("sasl_username=dave", "sasl_username=" + user), 0.1),
             (re.sub(r"nrcpt=\d+", "nrcpt=%d" % nrcpt, SASL_QUEUED), 0.2 if not qmgr_first else 0.05)]
    emit(t, CONNECT, ip)
    for line, dt in lines:
        emit(t + dt, line, ip, qid=qid)
    emit(t + 0.3, CLEAN_DISCONNECT, ip)
    emit(t + 0.4, SASL_REMOVED, ip, qid=qid)


def outbound(base):
    """Rule 5: per-account send limits (200 messages or 500 recipients in 60 minutes)."""
    n = 0
    for i in range(200):        # dave: 200 messages in 50 minutes, every other one logged by qmgr first
        submission(base + 15 * i, "192.0.2.50", "dave", n, 1, qmgr_first=i % 2 == 1); n += 1
    for i in range(50):         # erin: 50 messages to 10 recipients each, 500 recipients
        submission(base + 60 * i + 1, "192.0.2.51", "erin", n, 10); n += 1
    for i in range(199):        # frank, near miss: 199 messages, 496 recipients
        submission(base + 18 * i + 2, "192.0.2.52", "frank", n, 2 if i < 150 else 4); n += 1
    for i in range(199):        # gina, near miss: 199 in 30 minutes, then 199 more an hour later
        submission(base + 9 * i + 3, "192.0.2.53", "gina", n, 1); n += 1
        submission(base + 3900 + 9 * i + 3, "192.0.2.53", "gina", n, 1); n += 1


if __name__ == "__main__":
    scenario, base = sys.argv[1], int(sys.argv[2])
    {"dha-count": dha_count, "abnormal": abnormal, "slow": slow, "outbound": outbound}[scenario](base)
    out.sort(key=lambda l: l.split(" ", 1)[0])
    sys.stdout.write("\n".join(out) + "\n")
