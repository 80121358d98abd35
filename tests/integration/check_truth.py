#!/usr/bin/env python3
"""check_truth.py DB ZONES BIN [--dns PORT]

Compares the listings in the store (dnsblctl list bl.example) with tests/corpus/truth.json:
every address must carry exactly its expected_codes_at_defaults, and nothing else may be listed.
With --dns, also asks dnsbl-server on 127.0.0.1:PORT for every address (A records over UDP).
Prints one line per mismatch and "N mismatches"; exits 1 if there are any."""
import json, os, socket, struct, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
truth = json.load(open(os.path.join(here, "..", "corpus", "truth.json")))["per_ip"]
db, zones, bindir = sys.argv[1:4]
dns_port = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--dns" else None

out = subprocess.run([os.path.join(bindir, "dnsblctl"), "--db", db, "--zones", zones, "list", "bl.example"],
                     capture_output=True, text=True, check=True).stdout
listed, current = {}, None
for line in out.splitlines():
    if not line.startswith("\t"):
        current = line.split("\t")[0]
        listed[current] = []
    else:
        listed[current].append(line.split("\t")[1])

def dns_codes(ip):
    name = ".".join(reversed(ip.split("."))) + ".bl.example"
    q = struct.pack(">HHHHHH", 0x5782, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, ("127.0.0.1", dns_port))
    r = s.recv(4096)
    an = struct.unpack(">H", r[6:8])[0]
    pos, codes = len(q), []
    for _ in range(an):
        pos += 2                                    # compressed owner name
        rtype, _, _, rdlen = struct.unpack(">HHIH", r[pos:pos + 10])
        pos += 10
        if rtype == 1:
            codes.append(socket.inet_ntoa(r[pos:pos + 4]))
        pos += rdlen
    return sorted(codes)

bad = 0
for ip, v in sorted(truth.items()):
    want = sorted(v["expected_codes_at_defaults"])
    got = sorted(listed.get(ip, []))
    if want != got:
        print(f"store: {ip} ({v['role']}): expected {want}, listed {got}")
        bad += 1
    if dns_port is not None and dns_codes(ip) != want:
        print(f"dns: {ip} ({v['role']}): expected {want}, answered {dns_codes(ip)}")
        bad += 1
for ip in sorted(set(listed) - set(truth)):
    print(f"store: {ip} listed but not in truth.json: {listed[ip]}")
    bad += 1
print(f"{bad} mismatches ({len(truth)} addresses)")
sys.exit(1 if bad else 0)
