#!/usr/bin/env python3
"""latency-probe.py - event-to-answer latency of feeder + dnsbl-server (used by scripts/bench-latency).

For each iteration: a new client address fails SMTP AUTH `--burst` times (Postfix 3.7 lines, as in
tests/corpus/mail.log, time stamped now), written to the file the feeder follows (--file) or sent
to its syslog UDP port (--syslog PORT, RFC 3164 with <PRI>), one write()/datagram per line. From
the moment the last line has been written, the DNS name of the address in bl.example is queried over
UDP every --poll-ms until the answer holds 127.0.0.4. Prints one latency per line (ms) to --out and
a summary to stdout.

--background RATE also feeds RATE lines/s of ordinary traffic (the lines of --background-log with
their time stamps replaced by now), from a separate process, so that the feeder is busy and commits
every commit interval as it would on a live MX.
"""
import argparse
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time
from datetime import datetime, timezone

CODE = bytes((127, 0, 0, 4))


def ts3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def ts3164():
    return time.strftime("%b %e %H:%M:%S", time.localtime())


class Sink:
    """Where log lines go: appended to a file, or sent as syslog datagrams."""

    def __init__(self, path=None, port=None):
        self.fd = self.sock = None
        if path:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addr = ("127.0.0.1", port)

    def line(self, host, text):
        """text: 'postfix/smtpd[123]: ...' without time stamp and host."""
        if self.fd is not None:
            os.write(self.fd, ("%s %s %s\n" % (ts3339(), host, text)).encode())
        else:
            self.sock.sendto(("<22>%s %s %s" % (ts3164(), host, text)).encode(), self.addr)


def dns_query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes((len(label),)) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def skip_name(buf, off):
    while True:
        n = buf[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += n + 1


def answer_has(buf, qid, want):
    """rcode, and whether an A record with `want` is among the answers."""
    if len(buf) < 12:
        return -1, False
    rid, flags, qd, an = struct.unpack(">HHHH", buf[:8])
    if rid != qid:
        return -1, False
    off = 12
    for _ in range(qd):
        off = skip_name(buf, off) + 4
    for _ in range(an):
        off = skip_name(buf, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", buf[off:off + 10])
        off += 10
        if rtype == 1 and buf[off:off + rdlen] == want:
            return flags & 15, True
        off += rdlen
    return flags & 15, False


class Resolver:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.connect(("127.0.0.1", port))
        self.s.setblocking(False)
        self.qid = random.randrange(65536)

    def ask(self, name, wait):
        """One query; (rcode, listed) or None if no answer within `wait` seconds."""
        self.qid = (self.qid + 1) & 0xFFFF
        try:
            while True:     # drop late answers to earlier queries
                self.s.recv(4096)
        except BlockingIOError:
            pass
        self.s.send(dns_query(self.qid, name))
        end = time.perf_counter() + wait
        while True:
            left = end - time.perf_counter()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            try:
                buf = self.s.recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            rc, listed = answer_has(buf, self.qid, CODE)
            if rc >= 0:
                return rc, listed


def rev_name(ip, zone):
    return ".".join(reversed(ip.split("."))) + "." + zone


def background(args):
    sink = Sink(args.file, args.syslog)
    lines = []
    with open(args.background_log) as f:
        for i, line in enumerate(f):
            if i >= 200000:
                break
            host, text = line.rstrip("\n").split(" ", 2)[1:]
            lines.append((host, text))
    period = 1.0 / args.background
    nxt = time.perf_counter()
    i = 0
    while True:
        host, text = lines[i % len(lines)]
        sink.line(host, text)
        i += 1
        nxt += period
        d = nxt - time.perf_counter()
        if d > 0:
            time.sleep(d)
        elif d < -1:
            nxt = time.perf_counter()


def pct(xs, p):
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", help="log file the feeder follows")
    ap.add_argument("--syslog", type=int, help="feeder's syslog UDP port on 127.0.0.1")
    ap.add_argument("--dns-port", type=int, required=True)
    ap.add_argument("--zone", default="bl.example")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--burst", type=int, default=10, help="failures per address (the rule's threshold)")
    ap.add_argument("--net", default="10.201", help="first two octets of the new addresses")
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one listing")
    ap.add_argument("--gap-ms", default="20:250", help="random pause between iterations, MIN:MAX ms")
    ap.add_argument("--background", type=float, default=0, help="lines/s of ordinary traffic")
    ap.add_argument("--background-log", help="where the ordinary traffic comes from (RFC 3339 log)")
    ap.add_argument("--background-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="write the latencies (ms), one a line")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    if bool(args.file) == bool(args.syslog):
        ap.error("give one of --file and --syslog")
    if args.background_child:
        background(args)
        return 0
    random.seed(args.seed)
    gmin, gmax = (float(x) / 1000 for x in args.gap_ms.split(":"))
    sink = Sink(args.file, args.syslog)
    res = Resolver(args.dns_port)
    bg = None
    if args.background > 0:
        cmd = [sys.executable, os.path.abspath(__file__), "--background-child", "--dns-port", "0",
               "--background", str(args.background), "--background-log", args.background_log]
        cmd += ["--file", args.file] if args.file else ["--syslog", str(args.syslog)]
        bg = subprocess.Popen(cmd)
        time.sleep(1.0)     # the feeder is in its steady rhythm of commits
    lat, failed = [], 0
    poll = args.poll_ms / 1000.0
    try:
        for it in range(-1, args.iterations):       # -1: a warm-up, not counted
            n = it + 1
            ip = "%s.%d.%d" % (args.net, n // 250, n % 250 + 1)
            name = rev_name(ip, args.zone)
            r = res.ask(name, 1.0)
            if r is None:
                sys.exit("latency-probe: no answer from the DNS server on port %d" % args.dns_port)
            if r[1]:
                sys.exit("latency-probe: %s is listed before its burst: not a fresh store?" % ip)
            user = "probe%d" % random.randrange(10 ** 9)
            pid = random.randrange(2000, 60000)
            for _ in range(args.burst):
                sink.line("mx1", "postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: "
                          "(reason unavailable), sasl_username=%s" % (pid, ip, user))
            t0 = time.perf_counter()        # just after the last line was written
            got = None
            while True:
                now = time.perf_counter()
                if now - t0 > args.timeout:
                    break
                r = res.ask(name, poll)
                if r is not None and r[1]:
                    got = time.perf_counter() - t0
                    break
                d = poll - (time.perf_counter() - now)
                if d > 0:
                    time.sleep(d)
            if it >= 0:
                if got is None:
                    failed += 1
                else:
                    lat.append(got * 1000.0)
            elif got is None:
                sys.exit("latency-probe: the warm-up address %s was not listed within %.0f s" % (ip, args.timeout))
            time.sleep(random.uniform(gmin, gmax))
    finally:
        if bg:
            bg.terminate()
            bg.wait()
    if args.out:
        with open(args.out, "w") as f:
            f.write("".join("%.3f\n" % x for x in lat))
    s = sorted(lat)
    print("%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f" % (
        args.label, len(s), failed, pct(s, 0), pct(s, 50), pct(s, 90), pct(s, 99), pct(s, 100),
        sum(s) / len(s) if s else float("nan")))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
