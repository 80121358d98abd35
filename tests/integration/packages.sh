# packages.sh - install_package COMMAND PACKAGE DAEMON: makes COMMAND available to a test by
# installing Debian's PACKAGE when it is missing, and leaves no service of the package running: a
# policy-rc.d keeps invoke-rc.d from starting one, systemd's unit (if any) is stopped and disabled,
# and any DAEMON process that the installation started anyway is stopped by its PID. Sourced by
# tests after lib.sh; they chain package_cleanup into their EXIT trap.

PACKAGE_POLICY_RC=

package_cleanup() {
    [ -n "$PACKAGE_POLICY_RC" ] && rm -f "$PACKAGE_POLICY_RC"
    PACKAGE_POLICY_RC=
    return 0
}

install_package() {
    local cmd=$1 pkg=$2 daemon=$3 before pid
    command -v "$cmd" >/dev/null && return 0
    [ "$(id -u)" -eq 0 ] || return 1
    echo "  ..   installing $pkg for this test (no service is left running)"
    before=" $(pgrep -x "$daemon" | tr '\n' ' ') "
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        PACKAGE_POLICY_RC=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$PACKAGE_POLICY_RC"
        chmod 755 "$PACKAGE_POLICY_RC"
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=300 install -y -q
               --no-install-recommends "$pkg")
    if ! "${apt[@]}" >>"$T/apt.log" 2>&1; then
        timeout 300 apt-get -o DPkg::Lock::Timeout=300 update -q >>"$T/apt.log" 2>&1
        "${apt[@]}" >>"$T/apt.log" 2>&1
    fi
    package_cleanup
    if command -v systemctl >/dev/null; then      # disable works without a running systemd too
        [ -d /run/systemd/system ] && systemctl stop "$pkg" >/dev/null 2>&1
        systemctl disable "$pkg" >/dev/null 2>&1
    fi
    for pid in $(pgrep -x "$daemon"); do
        case "$before" in *" $pid "*) ;; *) echo "  ..   stopping the $daemon the package started (pid $pid)"; kill "$pid" ;; esac
    done
    command -v "$cmd" >/dev/null
}
