#!/usr/bin/env python3
"""gen_differential.py - data and queries for test_differential.sh.

  gen_differential.py SEED OUTDIR

Writes, into OUTDIR:
  bl.data, dbl.data        rbldnsd-syntax data for `dnsblctl import` (bl.example: IPv4 and IPv6
                           networks of many prefix lengths, nested, with allow holes `!ENTRY`;
                           dbl.example: names, `.name` (name and subdomains), `*.name` (subdomains
                           only), allow entries), some entries with their own code and text
  bl.expiring, dbl.expiring  entries imported with a short --expires: listings (some inside or over
                           permanent ones) and allow holes, all expired when the queries run
  queries.txt              "NAME CLASS" per line: names inside, at the edge of and outside every entry,
                           names above entries (empty non-terminals), below them, and random ones;
                           CLASS tags what the name is, for the report

The shapes avoid what README documents as not expressible in plain zone data or in rbldnsd data
beyond the named exceptions of test_differential.sh: no IPv4 network whose reversed labels are all
single digits (first octets are >= 10), no IPv4-mapped IPv6 names, no names with more labels than an
address has, no domain allowed together with its subdomains under a listed wildcard, no `$` in texts.
"""
import ipaddress
import random
import sys

seed, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(seed)
CODES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
DCODES = ["127.0.1.3", "127.0.1.5", "127.0.1.10"]


def value(codes):
    """An entry's own value (a third of them), else the file's default."""
    r = rnd.random()
    if r < 0.2:
        return " :%s:reason %d" % (rnd.choice(codes), rnd.randrange(1000))
    if r < 0.33:
        return " :%s:" % rnd.choice(codes)
    return ""


def v4net():
    first = rnd.choice([10, 100, 198])
    a = ipaddress.IPv4Address((first << 24) | (rnd.randrange(3) << 16) | (rnd.randrange(4) << 8) | rnd.randrange(16))
    plen = rnd.choice([16, 20, 24, 24, 28, 30, 32, 32, 32])
    return ipaddress.ip_network("%s/%d" % (a, plen), strict=False)


def v6net():
    a = ipaddress.IPv6Address((0x20010db8 << 96) | (rnd.randrange(2) << 80) | (rnd.randrange(3) << 64) |
                              rnd.randrange(8))
    plen = rnd.choice([32, 48, 56, 64, 64, 64, 124, 128, 128])
    return ipaddress.ip_network("%s/%d" % (a, plen), strict=False)


def inside(net):
    return net.network_address + rnd.randrange(net.num_addresses)


LABELS1 = ["a", "b", "mail", "smtp"]
LABELS2 = ["x", "y", "spam"]
LABELS3 = ["example", "test2", "co"]


def dname(depth=None):
    depth = depth or rnd.choice([1, 2, 2, 3])
    parts = [rnd.choice(LABELS3)]
    if depth >= 2:
        parts.insert(0, rnd.choice(LABELS2))
    if depth >= 3:
        parts.insert(0, rnd.choice(LABELS1))
    return ".".join(parts)


nets, allows, names = [], [], []
bl, dbl = [":127.0.0.2:directory harvest: many RCPTs to unknown users"], []
for _ in range(120):
    n = v4net() if rnd.random() < 0.6 else v6net()
    nets.append(n)
    bl.append(str(n) + value(CODES))
for _ in range(30):                     # allow holes inside listed networks, at a longer prefix
    outer = rnd.choice(nets)
    plen = min(outer.max_prefixlen, outer.prefixlen + rnd.choice([4, 8, 16, 64]))
    hole = ipaddress.ip_network("%s/%d" % (inside(outer), plen), strict=False)
    allows.append(hole)
    bl.append("!" + str(hole))

seen = set()
for _ in range(90):
    name = dname()
    if name in seen:
        continue
    seen.add(name)
    form = rnd.choice(["", "", ".", "*."])
    names.append((form, name))
    dbl.append(form + name + value(DCODES))
for _ in range(12):                     # allowed names (the name alone)
    name = dname(3)
    if name in seen:
        continue
    seen.add(name)
    names.append(("!", name))
    dbl.append("!" + name)

exp_bl, exp_dbl = [], []
for _ in range(20):
    n = v4net() if rnd.random() < 0.6 else v6net()
    nets.append(n)
    exp_bl.append(str(n) + value(CODES))
for _ in range(8):
    outer = rnd.choice(nets)
    hole = ipaddress.ip_network("%s/%d" % (inside(outer), outer.max_prefixlen), strict=False)
    allows.append(hole)
    exp_bl.append("!" + str(hole))
for _ in range(15):
    name = dname()
    if name in seen:
        continue
    seen.add(name)
    form = rnd.choice(["", "."])
    names.append((form, name))
    exp_dbl.append(form + name + value(DCODES))

for fname, lines in (("bl.data", bl), ("dbl.data", dbl), ("bl.expiring", exp_bl), ("dbl.expiring", exp_dbl)):
    with open("%s/%s" % (out, fname), "w") as f:
        f.write("".join(l + "\n" for l in lines))


def rev(addr, labels=None):
    """The reversed name of an address, or of its first `labels` labels (octets or nibbles)."""
    if addr.version == 4:
        parts = str(addr).split(".")
    else:
        parts = list(addr.exploded.replace(":", ""))
    if labels is not None:
        parts = parts[:labels]
    return ".".join(reversed(parts))


queries = []


def q(name, cls):
    queries.append("%s %s" % (name, cls))


for n in nets + allows:
    zone = "bl.example"
    full = 4 if n.version == 4 else 32
    bits = 8 if n.version == 4 else 4
    for _ in range(3):
        q("%s.%s" % (rev(inside(n)), zone), "inside")
    q("%s.%s" % (rev(n.network_address), zone), "first")
    q("%s.%s" % (rev(n.broadcast_address), zone), "last")
    if int(n.broadcast_address) + 1 < 2 ** n.max_prefixlen:
        q("%s.%s" % (rev(n.broadcast_address + 1), zone), "after")
    if int(n.network_address) > 0:
        q("%s.%s" % (rev(n.network_address - 1), zone), "before")
    for labels in sorted({max(1, n.prefixlen // bits), rnd.randrange(1, full)}):
        q("%s.%s" % (rev(inside(n), labels), zone), "above")
for _ in range(300):
    a = inside(v4net()) if rnd.random() < 0.6 else inside(v6net())
    q("%s.bl.example" % rev(a), "random")

for form, name in names:
    q("%s.dbl.example" % name, "name")
    q("%s.%s.dbl.example" % (rnd.choice(LABELS1 + ["q", "zz"]), name), "below")
    q("q.%s.%s.dbl.example" % (rnd.choice(LABELS1), name), "below2")
    parent = name.split(".", 1)[1] if "." in name else None
    if parent:
        q("%s.dbl.example" % parent, "parent")
for _ in range(200):
    q("%s.dbl.example" % dname(rnd.choice([1, 2, 3, 3])), "random")
for _ in range(100):
    q("q.%s.dbl.example" % dname(3), "random4")

seen_q = set()
with open("%s/queries.txt" % out, "w") as f:
    for line in queries:
        if line.split()[0] not in seen_q:
            seen_q.add(line.split()[0])
            f.write(line + "\n")
