#!/usr/bin/env bash
# The Debian package (debian/): dpkg-buildpackage builds a .deb from the tracked tree, lintian finds no
# error in it, it installs (system user, store directory, conffiles, units neither enabled nor
# started), the installed programs run as the dnsbl user on the sample corpus and answer dig, and a
# purge removes all of it. Needs root (dpkg -i); installs debhelper, lintian and fakeroot if missing.
# Skipped when a dnsbl package is already installed (the test would purge it).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/packages.sh"
INSTALLED=

needs_root "dpkg -i, adduser"
if dpkg-query -W -f='${Status}' dnsbl 2>/dev/null | grep -q 'install ok'; then
    echo "  skip: a dnsbl package is installed on this machine; not touching it"; finish; exit 0
fi
pkg_cleanup() {
    [ -n "$INSTALLED" ] && dpkg --purge dnsbl >/dev/null 2>&1
    package_cleanup
}
trap 'pkg_cleanup; cleanup' EXIT

for p in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian fakeroot:fakeroot; do
    install_package "${p%%:*}" "${p#*:}" none || { fail "install ${p#*:}" "$(tail -5 "$T/apt.log")"; finish; exit 1; }
done

# ---- build from the tracked files only (what a clean clone holds) ----
src="$T/src/dnsbl"
mkdir -p "$src"
git -C "$ROOT" ls-files -z | tar -C "$ROOT" --null -T - -cf - | tar -C "$src" -xf -
(cd "$src" && timeout 1200 dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
check "dpkg-buildpackage -us -uc -b succeeds" "0" "$?" || true
deb=$(ls "$T"/src/dnsbl_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { fail "a .deb was built" "$(tail -30 "$T/build.log")"; finish; exit 1; }
ok "a .deb was built: $(basename "$deb")"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
holds() { grep -qxF "./$1" <<<"$contents" && echo yes || echo no; }
for f in usr/bin/dnsbl-server usr/bin/dnsbl-feeder usr/bin/dnsblctl etc/dnsbl/zones/bl.example.conf \
         etc/default/dnsbl-server lib/systemd/system/dnsbl-server.service lib/systemd/system/dnsbl-feeder.service \
         lib/systemd/system/dnsbl-expire.timer usr/lib/sysusers.d/dnsbl.conf; do
    check "the package holds /$f" "yes" "$(holds "$f")"
done
for page in man8/dnsbl-server.8 man8/dnsbl-feeder.8 man8/dnsblctl.8 man5/dnsbl-zone.conf.5; do
    [ -e "$ROOT/docs/man/$(basename "$page")" ] || continue
    check "the package holds the man page $page" "yes" "$(holds "usr/share/man/$page.gz")"
done
check "no program under a generic name (bin/feeder)" "no" "$(holds usr/bin/feeder)"
errors=$(lintian --tag-display-limit 0 "$T"/src/dnsbl_*.changes 2>&1 | grep '^E:')
check "lintian: no errors" "" "$errors"

# ---- install: user, store directory, conffiles; nothing started ----
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$deb" >"$T/install.log" 2>&1
check "the package installs" "0" "$?"
INSTALLED=1
check "the dnsbl system user exists" "dnsbl" "$(getent passwd dnsbl | cut -d: -f1)"
check "/var/lib/dnsbl belongs to it" "dnsbl:dnsbl 750" "$(stat -c '%U:%G %a' /var/lib/dnsbl 2>&1)"
check_match "the shipped zones are conffiles" "/etc/dnsbl/zones/bl\.example\.conf" \
    "$(dpkg-query -W -f='${Conffiles}' dnsbl)"
check "no dnsbl daemon was started" "" "$(pgrep -u dnsbl | tr '\n' ' ')"
if command -v systemctl >/dev/null; then
    check_match "dnsbl-server.service is not enabled" "disabled" "$(systemctl is-enabled dnsbl-server.service 2>&1)"
fi
for p in dnsbl-server dnsbl-feeder dnsblctl; do
    check_match "/usr/bin/$p --help works" "[Uu]sage" "$(/usr/bin/$p --help 2>&1)"
done

# ---- the installed programs, as the dnsbl user, on the sample corpus ----
runuser -u dnsbl -- /usr/bin/dnsbl-feeder --db /var/lib/dnsbl/db --zones /etc/dnsbl/zones --once --replay \
    "$ROOT/tests/corpus/mail.log" >"$T/feeder.log" 2>&1
check "dnsbl-feeder rates the corpus as the dnsbl user" "0" "$?"
PORT=$(free_port)
runuser -u dnsbl -- /usr/bin/dnsbl-server --db /var/lib/dnsbl/db --zones /etc/dnsbl/zones \
    --listen "127.0.0.1:$PORT" --foreground >"$T/server.log" 2>&1 &
PIDS+=("$!")
wait_answering "$PORT" || fail "the installed dnsbl-server answers" "$(cat "$T/server.log")"
check "the harvester of the corpus is listed (127.0.0.2)" "127.0.0.2" "$(q 1.20.1.127.bl.example A)"
check "the RFC 5782 test point answers" "127.0.0.2" "$(q 2.0.0.127.bl.example A)"
check_match "dnsblctl reads the store" "127\.1\.20\.1" \
    "$(runuser -u dnsbl -- /usr/bin/dnsblctl --db /var/lib/dnsbl/db --zones /etc/dnsbl/zones list bl.example 2>&1)"
kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null

# ---- purge: nothing left but the user ----
dpkg --purge dnsbl >"$T/purge.log" 2>&1
check "dpkg --purge succeeds" "0" "$?"
INSTALLED=
left=""
for f in /usr/bin/dnsbl-server /usr/bin/dnsbl-feeder /usr/bin/dnsblctl /etc/dnsbl /var/lib/dnsbl \
         /lib/systemd/system/dnsbl-server.service /etc/default/dnsbl-server; do
    [ -e "$f" ] && left="$left $f"
done
check "the purge leaves no file behind" "" "$left"
finish
