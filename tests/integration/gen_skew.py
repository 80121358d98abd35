#!/usr/bin/env python3
"""gen_skew.py SCENARIO BASE > log: attacks split across two MTAs (mxa, whose clock is 5 minutes ahead,
and mxb), and lines that arrive out of order, for issue 9's rule 6. The lines are the corpus's own
(tests/corpus/mail.log, through gen_depth.py's shapes) with host, client address, time, queue ID,
account and counters rewritten. Lines are written in the order given (the order of arrival), not
sorted by time.

Each /24 holds at most 5 clients, and fewer than the network rules' thresholds between them.
SCENARIO (BASE: unix time of mxb's first line):
  auth-a-first     198.51.100.10  5 SASL failures on mxa (+5 min), then 5 on mxb      listed (auth)
                   198.51.100.11  the same, interleaved line by line                    listed (auth)
                   198.51.100.12  5 on mxa (+5 min), then 4 on mxb                      not listed
                   198.51.100.13  5 on mxa, then 5 on mxb dated 20 minutes earlier      not listed
  auth-b-first     198.51.100.14  5 on mxb, then 5 on mxa (+5 min)                      listed (auth)
  dha              203.0.113.20   6 unknown RCPTs on mxa (+5 min), then 6 on mxb        listed (dha 12/12)
                   203.0.113.21   the same, the sessions' lines interleaved             listed (dha 12/12)
                   203.0.113.22   6 unknown + 7 valid on each host (46 %)               not listed
                   192.0.2.30     one host: 5 unknown in order, then a session whose    listed (dha)
                                  disconnect (rcpt=0/6) arrives before its 6 rejects
                   192.0.2.31     as .30 with 6 valid RCPTs in each session (48 %)      not listed
                   192.0.2.32     a clean session (2 valid RCPTs) ends while another    not listed
                                  logs its 12 unknown RCPTs; that one ends with
                                  rcpt=18/30 (40 %): its rejects are not judged before
                                  its own disconnect
  qmgr-first       198.51.100.40  20 bounces (from=<>) whose qmgr from= line comes     listed (backscatter)
                                  before the smtpd client= line of the same queue ID
                   198.51.100.41  the same with 19                                     not listed"""
import os
import re
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_depth as g   # noqa: E402  (the corpus's line shapes)

SKEW = 300      # mxa's clock is this far ahead of mxb's
SASL = g.shape(r"smtpd\[\d+\]: warning: unknown\[127\.1\.\d+\.\d+\]: SASL PLAIN authentication failed")
NULL_QUEUED = g.shape(r"qmgr\[\d+\]: [0-9A-F]+: from=<>, size=")
out = []


def emit(t, host, line, ip, qid=None, user=None):
    stamp = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds")
    line = g.ADDR.sub(ip, line)
    line = re.sub(r"^\S+ ", host + " ", line)
    if qid:
        line = g.QID.sub(qid, line)
    if user:
        line = re.sub(r"sasl_username=\S+", "sasl_username=" + user, line)
    out.append(stamp + " " + line)


def sasl(t, host, ip, n):
    """n SASL failures, 10 s apart, each a line: as (time, host, line, ip, None, user) tuples."""
    return [(t + 10 * i, host, SASL, ip, None, "u" + ip.replace(".", "-")) for i in range(n)]


def interleave(a, b):
    merged = []
    for i in range(max(len(a), len(b))):
        merged += a[i:i + 1] + b[i:i + 1]
    return merged


def put(lines):
    for l in lines:
        emit(*l)


def auth_a_first(base):
    a = base + SKEW
    put(sasl(a, "mxa", "198.51.100.10", 5) + sasl(base, "mxb", "198.51.100.10", 5))
    put(interleave(sasl(a + 5, "mxa", "198.51.100.11", 5), sasl(base + 5, "mxb", "198.51.100.11", 5)))
    put(sasl(a + 2, "mxa", "198.51.100.12", 5) + sasl(base + 2, "mxb", "198.51.100.12", 4))
    put(sasl(base + 3, "mxa", "198.51.100.13", 5) + sasl(base + 3 - 1200, "mxb", "198.51.100.13", 5))


def auth_b_first(base):
    put(sasl(base, "mxb", "198.51.100.14", 5) + sasl(base + SKEW, "mxa", "198.51.100.14", 5))


def session(t, host, ip, n, unknown, valid, disconnect_first=False):
    """One session: `unknown` rejects, then the disconnect with rcpt=valid/valid+unknown (or the
    disconnect first, as a relay that reorders lines delivers them)."""
    lines = [(t, host, g.CONNECT, ip, None, None)]
    rejects = []
    for i in range(unknown):
        line = re.sub(r"\bu\d+@", "u%d.%d@" % (n, i), g.UNKNOWN)
        rejects.append((t + 0.1 * (i + 1), host, line, ip, "%08X%03X" % (n, i), None))
    total = valid + unknown
    end = (t + 0.1 * (unknown + 2), host,
           g.counters(g.DHA_DISCONNECT, "ehlo=1 mail=1 rcpt=%d/%d quit=1 commands=%d/%d" %
                      (valid, total, valid + 3, total + 3)), ip, None, None)
    return lines + ([end] + rejects if disconnect_first else rejects + [end])


def dha(base):
    a = base + SKEW
    put(session(a, "mxa", "203.0.113.20", 1, 6, 0) + session(base, "mxb", "203.0.113.20", 2, 6, 0))
    put(interleave(session(a + 10, "mxa", "203.0.113.21", 3, 6, 0), session(base + 10, "mxb", "203.0.113.21", 4, 6, 0)))
    put(session(a + 20, "mxa", "203.0.113.22", 5, 6, 7) + session(base + 20, "mxb", "203.0.113.22", 6, 6, 7))
    put(session(base + 30, "mxb", "192.0.2.30", 7, 5, 0) +
        session(base + 40, "mxb", "192.0.2.30", 8, 6, 0, disconnect_first=True))
    put(session(base + 50, "mxb", "192.0.2.31", 9, 5, 6) +
        session(base + 60, "mxb", "192.0.2.31", 10, 6, 6, disconnect_first=True))
    # two sessions open at once: the clean one's disconnect falls among the other's rejects
    clean, harvest = session(base + 70, "mxb", "192.0.2.32", 11, 0, 2), session(base + 70, "mxb", "192.0.2.32", 12, 12, 18)
    put(harvest[:3] + clean + harvest[3:])


def qmgr_first(base):
    for ip, n in (("198.51.100.40", 20), ("198.51.100.41", 19)):
        for i in range(n):
            t, qid = base + 15 * i + (ip == "198.51.100.41"), "%s%09X" % ("AB" if n == 20 else "CD", i)
            put([(t, "mxb", g.CONNECT, ip, None, None),
                 (t + 0.2, "mxb", NULL_QUEUED, ip, qid, None),      # qmgr's line first ...
                 (t + 0.1, "mxb", g.CLIENT, ip, qid, None),         # ... then smtpd's, dated before it
                 (t + 0.3, "mxb", g.CLEAN_DISCONNECT, ip, None, None),
                 (t + 0.4, "mxb", g.REMOVED, ip, qid, None)])


if __name__ == "__main__":
    scenario, base = sys.argv[1], int(sys.argv[2])
    {"auth-a-first": auth_a_first, "auth-b-first": auth_b_first, "dha": dha, "qmgr-first": qmgr_first}[scenario](base)
    sys.stdout.write("\n".join(out) + "\n")
