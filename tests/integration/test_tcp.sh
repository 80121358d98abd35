#!/usr/bin/env bash
# TCP per RFC 7766: length framing, pipelining, idle timeout, connection cap.
. "$(dirname "$0")/lib.sh"

start_server --tcp-idle 1 --tcp-max 2 || exit 1

out=$(python3 - "$PORT" <<'PY'
import socket, struct, sys
def query(qid, name):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
msgs = [query(i, "2.0.0.127.bl.example" if i % 2 else "1.0.0.127.bl.example") for i in range(1, 11)]
s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))   # pipelined in one write
buf = b""
answers = []
while len(answers) < 10:
    chunk = s.recv(65535)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
        n = struct.unpack(">H", buf[:2])[0]
        answers.append(buf[2:2 + n]); buf = buf[2 + n:]
print(" ".join(f"{struct.unpack('>H', a[:2])[0]}:{a[3] & 15}" for a in answers))
PY
)
check "10 pipelined queries on one connection, 10 answers in order" \
      "1:0 2:3 3:0 4:3 5:0 6:3 7:0 8:3 9:0 10:3" "$out"

out=$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t = time.time()
data = s.recv(10)
print("closed" if data == b"" and time.time() - t < 4 else "open")
PY
)
check "idle connection closed after --tcp-idle" "closed" "$out"

out=$(python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(2)]
time.sleep(0.2)
third = socket.create_connection(("127.0.0.1", port), timeout=2)
try:
    print("refused" if third.recv(10) == b"" else "served")
except (ConnectionResetError, socket.timeout) as e:
    print("refused" if isinstance(e, ConnectionResetError) else "served")
PY
)
check "connection over --tcp-max is closed at once" "refused" "$out"
sleep 1.5
check "slots free again after the idle timeout" "127.0.0.2" "$(q 2.0.0.127.bl.example A +tcp)"

out=$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"\x00\x05hello")
print("closed" if s.recv(10) == b"" else "answered")
PY
)
check "a stream that is not DNS is closed" "closed" "$out"

stop_server
finish
