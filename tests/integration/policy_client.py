#!/usr/bin/env python3
"""policy_client.py HOST:PORT|unix:PATH [--raw] [--timeout S] < requests

A Postfix policy client for tests: requests on stdin are blocks of name=value lines separated by an
empty line; all of them go over ONE connection, one after another (as smtpd reuses its connection),
and each reply is printed as one line (its action=... line), or CLOSED when the server closed the
connection before replying. --raw sends stdin's bytes exactly as they are, once, and prints whatever
comes back until the server closes (or the timeout)."""
import socket
import sys


def connect(target, timeout):
    if target.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(target[5:])
    else:
        host, port = target.rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    return s


def read_reply(s, buf):
    while b"\n\n" not in buf:
        data = s.recv(65536)
        if not data:
            return None, buf
        buf += data
    reply, rest = buf.split(b"\n\n", 1)
    return reply.decode("utf-8", "replace"), rest


def main():
    args = sys.argv[1:]
    raw = "--raw" in args
    timeout = 5.0
    if "--timeout" in args:
        timeout = float(args[args.index("--timeout") + 1])
    s = connect(args[0], timeout)
    data = sys.stdin.buffer.read()
    if raw:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            out += b"<TIMEOUT>"
        except OSError:
            out += b"<RESET>"
        sys.stdout.write(out.decode("utf-8", "replace").replace("\n", "|") + "\n")
        return
    blocks = [b for b in data.decode().split("\n\n") if b.strip()]
    buf = b""
    for block in blocks:
        s.sendall((block.strip("\n") + "\n\n").encode())
        reply, buf = read_reply(s, buf)
        print("CLOSED" if reply is None else reply.replace("\n", "|"))
        if reply is None:
            break


main()
