#!/usr/bin/env bash
# Detaching, the pid file, privilege dropping and several worker threads.
. "$(dirname "$0")/lib.sh"
needs_root "--user nobody: dropping privileges"

PORT=$(free_port)
"$BIN/dnsbl-server" --db "$T/db" --zones "$ROOT/zones" --listen "127.0.0.1:$PORT" \
    --pidfile "$T/server.pid" --user nobody --threads 3 2>>"$T/server.log"
check "detaches and returns 0" "0" "$?"
wait_answering "$PORT"
pid=$(cat "$T/server.pid" 2>/dev/null)
PIDS+=("$pid")
check "pid file names a live process" "0" "$(kill -0 "$pid" 2>/dev/null; echo $?)"
check "runs as nobody after binding" "$(id -u nobody)" "$(awk '/^Uid:/{print $2}' /proc/"$pid"/status)"
check "three UDP and three TCP workers, the index thread and the main thread" "8" "$(ls /proc/"$pid"/task | wc -l)"
check "the index thread is named" "1" "$(cat /proc/"$pid"/task/*/comm | grep -c '^dnsbl-index$')"
"$BIN/dnsblctl" --db "$T/db" --zones "$ROOT/zones" add bl.example 192.0.2.55 --code auth
ok=0
for _ in $(seq 30); do   # SO_REUSEPORT spreads these over the three workers
    [ "$(q "$(rev4 192.0.2.55).bl.example" A)" = "127.0.0.4" ] && ok=$((ok + 1))
done
check "every worker sees a listing made after it started" "30" "$ok"
kill "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "stops on SIGTERM" "1" "$(kill -0 "$pid" 2>/dev/null; echo $?)"
out=$("$BIN/dnsbl-server" --user no-such-user-here --listen "127.0.0.1:$PORT" --db "$T/db" --zones "$ROOT/zones" --foreground 2>&1); rc=$?
check "unknown --user: exit 1 with a reason" "1:--user no-such-user-here: no such user" "$rc:$(echo "$out" | sed -n 's/.*\(--user.*\)/\1/p')"
finish
