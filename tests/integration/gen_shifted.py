#!/usr/bin/env python3
"""gen_shifted.py COPIES < mail.log > big.log: the corpus repeated COPIES times, each copy an hour
later than the one before and with its own queue IDs, so that a restart test has a long, real log."""
import re, sys
from datetime import datetime, timedelta

copies = int(sys.argv[1])
lines = sys.stdin.read().splitlines()
qid = re.compile(r"\b([0-9A-F]{10,11})\b")
out = sys.stdout
for k in range(copies):
    shift = timedelta(hours=k)
    for l in lines:
        ts, rest = l.split(" ", 1)
        t = datetime.fromisoformat(ts) + shift
        rest = qid.sub(lambda m: m.group(1)[:-2] + "%02X" % (k % 256), rest) if k else rest
        out.write(t.isoformat(timespec="microseconds") + " " + rest + "\n")
