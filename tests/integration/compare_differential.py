#!/usr/bin/env python3
"""compare_differential.py - asks every server the same questions and reports the differences.

  compare_differential.py QUERIES DATADIR PRIMARY_PORT KNOT_PORT [RBLDNSD_PORT]

QUERIES: "NAME CLASS" lines (gen_differential.py). Every name is asked for A and TXT over UDP on
127.0.0.1 of each port; an answer is (rcode, the set of A addresses, the set of TXT texts), so
NXDOMAIN and NODATA (NOERROR, no answer) differ. The primary is the reference. A difference is
either one of README's documented ones, named below and recognised by the data it concerns, or a
failure. Prints one line per failure (at most 40), then "queries N failures N" and a count per
named exception; exit 0 when there is no failure.
"""
import ipaddress
import random
import socket
import struct
import sys

queries_file, datadir = sys.argv[1], sys.argv[2]
ports = {"primary": int(sys.argv[3]), "knot": int(sys.argv[4])}
if len(sys.argv) > 5:
    ports["rbldnsd"] = int(sys.argv[5])


def wire_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"


def skip_name(m, pos):
    while True:
        n = m[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n


def ask(sock, port, name, qtype):
    qid = random.randrange(65536)
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + wire_name(name) + struct.pack(">HH", qtype, 1)
    for _ in range(3):
        sock.sendto(msg, ("127.0.0.1", port))
        try:
            while True:
                m = sock.recv(65535)
                if struct.unpack(">H", m[:2])[0] == qid:
                    return parse(m)
        except socket.timeout:
            continue
    return ("TIMEOUT", frozenset(), frozenset())


def parse(m):
    flags, qd, an = struct.unpack(">H", m[2:4])[0], *struct.unpack(">HH", m[4:8])
    rcode = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(flags & 15, str(flags & 15))
    pos = 12
    for _ in range(qd):
        pos = skip_name(m, pos) + 4
    addrs, texts = set(), set()
    for _ in range(an):
        pos = skip_name(m, pos)
        typ, _cls, _ttl, rdlen = struct.unpack(">HHIH", m[pos:pos + 10])
        rd = m[pos + 10:pos + 10 + rdlen]
        pos += 10 + rdlen
        if typ == 1:
            addrs.add(socket.inet_ntoa(rd))
        elif typ == 16:
            t, i = b"", 0
            while i < len(rd):
                t += rd[i + 1:i + 1 + rd[i]]
                i += 1 + rd[i]
            texts.add(t.decode("utf-8", "replace"))
    return (rcode, frozenset(addrs), frozenset(texts))


# ---- the data, to recognise the documented differences ----
def read_entries(path):
    out = []
    for line in open(path):
        e = line.split()[0] if line.strip() else ""
        if e and not e.startswith(":"):
            out.append(e)
    return out


ip_listed, ip_allowed, dom = [], [], {}
for f in ("bl.data",):
    for e in read_entries("%s/%s" % (datadir, f)):
        (ip_allowed if e.startswith("!") else ip_listed).append(ipaddress.ip_network(e.lstrip("!")))
for e in read_entries("%s/dbl.data" % datadir):
    if e.startswith("!"):
        dom[e[1:]] = "allow"
    elif e.startswith("."):
        dom[e[1:]] = "name+subs"
    elif e.startswith("*."):
        dom[e[2:]] = "subs"
    else:
        dom[e] = "name"


def address_of(name):
    """The address a bl.example name stands for, or None (partial names)."""
    labels = name[:-len(".bl.example")].split(".")
    try:
        if len(labels) == 4:
            return ipaddress.IPv4Address(".".join(reversed(labels)))
        if len(labels) == 32:
            h = "".join(reversed(labels))
            return ipaddress.IPv6Address(":".join(h[i:i + 4] for i in range(0, 32, 4)))
    except ValueError:
        pass
    return None


def covering(a, nets):
    return [n for n in nets if n.version == a.version and a in n]


# Named exceptions, each one documented in README. f(name, qtype, primary, other) -> bool.
def rbl_most_specific_only(name, qtype, p, o):
    """README (export): rbldnsd answers the most specific entry only; dnsbl-server answers the codes
    and texts of every covering listing."""
    if p[0] != "NOERROR" or o[0] != "NOERROR" or not o[1] | o[2]:
        return False
    ptexts = {piece for t in p[2] for piece in t.split("; ")}
    return o[1] <= p[1] and all(t in ptexts or t in p[2] for t in o[2])


def rbl_listing_inside_shorter_allow(name, qtype, p, o):
    """README (export): a listing inside a `!` network at a shorter prefix is answered as listed by
    rbldnsd (dnsbl-server: not listed)."""
    a = address_of(name) if name.endswith(".bl.example") else None
    if a is None or p[0] != "NXDOMAIN" or o[0] != "NOERROR":
        return False
    allows = covering(a, ip_allowed)
    return any(l.prefixlen > min(x.prefixlen for x in allows) for l in covering(a, ip_listed)) if allows else False


def rbl_empty_non_terminal(name, qtype, p, o):
    """README (What it answers) and spamhaus/rbldnsd#17: rbldnsd answers NXDOMAIN for a name above
    a listing, which exists (RFC 8020: NODATA)."""
    return p[0] == "NOERROR" and not p[1] | p[2] and o[0] == "NXDOMAIN"


def knot_wildcard_answers_partial_names(name, qtype, p, o):
    """README (Zone transfers, limitations): a listed network travels as a wildcard, which on a
    secondary also answers names with fewer labels than an address below the network's own name;
    the server answers such a partial name NODATA (it exists, and is no address). Recognised by a
    partial name the primary answers NODATA below a live listed network's name."""
    if not name.endswith(".bl.example") or p[0] != "NOERROR" or p[1] | p[2] or o[0] != "NOERROR":
        return False
    labels = name[:-len(".bl.example")].split(".")
    for version, bits, full in ((4, 8, 4), (6, 4, 32)):
        if len(labels) >= full:
            continue
        try:
            if version == 4:
                octets = [int(l) for l in reversed(labels)]
                if any(x > 255 or str(x) != l for x, l in zip(octets, reversed(labels))):
                    continue
                prefix = ipaddress.ip_network("%s/%d" % (".".join(map(str, octets + [0] * (4 - len(octets)))), 8 * len(octets)))
            else:
                h = "".join(reversed(labels)).ljust(32, "0")
                prefix = ipaddress.ip_network("%s/%d" % (":".join(h[i:i + 4] for i in range(0, 32, 4)), 4 * len(labels)))
        except ValueError:
            continue
        if any(n.version == prefix.version and n.prefixlen < prefix.prefixlen and prefix.subnet_of(n)
               for n in ip_listed):
            return True
    return False


EXCEPTIONS = {
    "rbldnsd": [rbl_most_specific_only, rbl_listing_inside_shorter_allow, rbl_empty_non_terminal],
    "knot": [knot_wildcard_answers_partial_names],
}

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
random.seed(1)
names = [l.split() for l in open(queries_file) if l.strip()]
failures, counts, asked = [], {}, 0
for name, cls in names:
    for qtype, tname in ((1, "A"), (16, "TXT")):
        p = ask(sock, ports["primary"], name, qtype)
        asked += 1
        for other in [s for s in ports if s != "primary"]:
            o = ask(sock, ports[other], name, qtype)
            if o == p:
                continue
            why = next((f.__name__ for f in EXCEPTIONS[other] if f(name, qtype, p, o)), None)
            if why:
                counts[why] = counts.get(why, 0) + 1
            else:
                failures.append("%s %s %s (%s): primary %s %s %s, %s %s %s %s" % (
                    other, name, tname, cls, p[0], sorted(p[1]), sorted(p[2]), other, o[0], sorted(o[1]), sorted(o[2])))
for f in failures[:40]:
    print("DIFF " + f)
print("queries %d failures %d" % (asked, len(failures)))
for k in sorted(counts):
    print("exception %s %d" % (k, counts[k]))
sys.exit(1 if failures else 0)
