# mta.sh - what the tests with a real Postfix and Dovecot share (test_postfix.sh, test_policy_mta.sh):
# the namespace they run in, installing the packages without starting a mail system on the host,
# cleanup by PID, and editing the test's copy of a zone file. Sourced after lib.sh; the test sets NS
# (the namespace's name), PF (its Postfix directory) and, for dovecot-imapd, MTA_IMAP=1, then calls
# needs_root, mta_namespace, install_packages and mta_resolver, and sets trap 'pf_cleanup; cleanup' EXIT.
NETNS_ETC="/etc/netns/$NS"
C="$PF/etc"
Q="$PF/spool"
POLICY_RC=
NS_MADE=
NETNS_DIR_MADE=
DOVECOT_PIDS=()

say() { echo "-- $(date +%T) $*"; }
die() {
    fail "$1" "${2:-}"
    finish
    exit 1
}

# ---------------------------------------------------------------------------------------------------
# Cleanup: Postfix, Dovecot and our programs by PID, then the namespace and its /etc/netns directory.
pf_cleanup() {
    set +e
    if [ -n "$NS_MADE" ] && [ -f "$Q/pid/master.pid" ]; then
        local mpid
        mpid=$(tr -dc 0-9 <"$Q/pid/master.pid")
        timeout 20 ip netns exec "$NS" postfix -c "$C" stop >/dev/null 2>&1
        if [ -n "$mpid" ]; then
            for _ in $(seq 100); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$mpid" 2>/dev/null
        fi
    fi
    for pid in "${DOVECOT_PIDS[@]}" "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null && for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    if [ -n "$NS_MADE" ]; then
        # whatever is left in the namespace was started by this test (Postfix's children)
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        for _ in $(seq 50); do [ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break; sleep 0.1; done
        ip netns del "$NS" 2>/dev/null
    fi
    rm -rf "$NETNS_ETC"
    [ -n "$NETNS_DIR_MADE" ] && rmdir /etc/netns 2>/dev/null
    [ -n "$POLICY_RC" ] && rm -f "$POLICY_RC"
}

# ---------------------------------------------------------------------------------------------------
# Preconditions: the namespace, the packages.
nsx() { ip netns exec "$NS" "$@"; }
# mta_namespace: the test's network namespace, with its loopback up.
mta_namespace() {
    if ! ip netns add "$NS" 2>"$T/netns.err"; then
        die "ip netns add works here (needs root and CAP_SYS_ADMIN; in a container: --privileged)" "$(cat "$T/netns.err")"
    fi
    NS_MADE=1
    nsx ip link set lo up || die "ip link set lo up in the namespace"
}

install_packages() {
    local need=()
    [ -x /usr/sbin/postfix ] || need+=(postfix)
    command -v swaks >/dev/null || need+=(swaks)
    [ -x /usr/sbin/dovecot ] || need+=(dovecot-core)
    [ -z "${MTA_IMAP:-}" ] || [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
    [ ${#need[@]} -eq 0 ] && return 0
    say "installing ${need[*]} (no mail system is started on the host)"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    if [ ! -e /usr/sbin/policy-rc.d ]; then      # invoke-rc.d / deb-systemd-invoke: start nothing
        POLICY_RC=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=300 install -y -q
               --no-install-recommends)
    if ! "${apt[@]}" "${need[@]}" >"$T/apt.log" 2>&1; then
        say "apt-get install failed; apt-get update and again"
        timeout 300 apt-get update -q >>"$T/apt.log" 2>&1
        "${apt[@]}" "${need[@]}" >>"$T/apt.log" 2>&1 || { tail -20 "$T/apt.log"; return 1; }
    fi
    if [ -n "$POLICY_RC" ]; then rm -f "$POLICY_RC"; POLICY_RC=; fi
    # if the packages started the host's mail system after all, stop it again
    local pid
    if [ -d /run/systemd/system ]; then
        for s in postfix dovecot; do
            systemctl is-active --quiet "$s" 2>/dev/null && { say "stopping the host's $s"; systemctl stop "$s"; }
        done
    fi
    pid=$(cat /var/spool/postfix/pid/master.pid 2>/dev/null | tr -dc 0-9)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "stopping the host's postfix (pid $pid)"
        timeout 30 postfix stop >/dev/null 2>&1 || kill "$pid"
    fi
    pid=$(cat /run/dovecot/master.pid 2>/dev/null | tr -dc 0-9)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        say "stopping the host's dovecot (pid $pid)"
        kill "$pid"
    fi
    return 0
}

# zone_set FILE SECTION KEY VALUE: set (or add) KEY in [SECTION] of the test's copy of a zone file.
zone_set() {
    python3 - "$@" <<'EOF'
import re, sys
path, section, key, value = sys.argv[1:]
lines = open(path).read().split("\n")
out, cur, done, start = [], None, False, None
for i, line in enumerate(lines):
    m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
    if m:
        if cur == section and not done:
            out.insert(start, f"{key} = {value}"); done = True
        cur = m.group(1).strip()
        out.append(line)
        if cur == section:
            start = len(out)
        continue
    if cur == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
        out.append(f"{key} = {value}"); done = True
        continue
    out.append(line)
if not done:
    if start is None:
        out += ["", f"[{section}]"]; start = len(out)
    out.insert(start, f"{key} = {value}")
open(path, "w").write("\n".join(out))
EOF
}

# ---------------------------------------------------------------------------------------------------
# The namespace's resolver: dnsbl-server on 127.0.0.1:53 in the namespace, nothing else.
mta_resolver() {
    [ -d /etc/netns ] || NETNS_DIR_MADE=1
    mkdir -p "$NETNS_ETC"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' >"$NETNS_ETC/resolv.conf"
    printf '127.0.0.1\tlocalhost mx.test.example\n' >"$NETNS_ETC/hosts"
}
