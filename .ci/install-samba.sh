#!/usr/bin/env bash
# Install the Samba AD DC test lab's system packages (Debian 12), idempotently.
#
# Why each step:
# - --no-install-recommends keeps the install at ~38 packages / 16 MB (8-10 s).
# - A policy-rc.d that exits 101 stops apt from starting smbd/nmbd/samba with Debian's stock
#   /etc/samba/smb.conf while installing; it is removed afterwards (also on failure).
# - The lab DCs bind 127.0.0.2 / 127.0.0.3 only, so any stock samba/smbd/nmbd/winbind daemon that is
#   running (e.g. from an earlier install on this machine) is stopped: a wildcard listener on 53, 88,
#   389, 445... would take the lab's ports.
# - With --gssapi (or HVLM_LAB_GSSAPI=1) it also installs libkrb5-dev, which `pip install gssapi`
#   needs to build (plus a C compiler, present on the python machine): ldap3 GSSAPI binds.
# Quick no-op (well under a second) when everything is already installed and nothing stock runs.
set -euo pipefail

PKGS=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind
      krb5-user ldb-tools bind9-dnsutils attr)
if [ "${1:-}" = "--gssapi" ] || [ "${HVLM_LAB_GSSAPI:-0}" = 1 ]; then
    PKGS+=(libkrb5-dev)
fi
STOCK_UNITS=(samba-ad-dc smbd nmbd winbind samba)

log() { printf 'install-samba: %s\n' "$*" >&2; }

# shellcheck source=.ci/apt-lib.sh
. "$(dirname "$0")/apt-lib.sh"
missing_packages "${PKGS[@]}"

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    policy=/usr/sbin/policy-rc.d
    had_policy=0
    if [ -e "$policy" ]; then
        had_policy=1
        $SUDO cp -p "$policy" "$policy.hvlm-save"
    fi
    restore_policy() {
        if [ "$had_policy" = 1 ]; then
            $SUDO mv -f "$policy.hvlm-save" "$policy"
        else
            $SUDO rm -f "$policy"
        fi
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    # krb5-user asks for a default realm: apt_install answers non-interactively.
    apt_install "${missing[@]}"
    restore_policy
    trap - EXIT
fi

# Stop and disable stock daemons, if any run (systemd may be absent in containers).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for u in "${STOCK_UNITS[@]}"; do
        if systemctl is-active --quiet "$u" 2>/dev/null; then
            log "stopping stock service $u"
            $SUDO systemctl stop "$u" || true
        fi
        if systemctl is-enabled --quiet "$u" 2>/dev/null; then
            $SUDO systemctl disable "$u" >/dev/null 2>&1 || true
        fi
    done
fi
# Any daemon still running from the stock config. A lab DC rewrites its process title, so tell
# them apart by open files: a stock daemon logs/locks under /var/{lib,cache,log}/samba, a lab DC
# keeps everything under its own lab folder. Children die with their parent.
is_stock() {
    local fd target
    for fd in /proc/"$1"/fd/*; do
        target=$(readlink "$fd" 2>/dev/null || true)
        case "$target" in
            /var/lib/samba/*|/var/cache/samba/*|/var/log/samba/*|/run/samba/*.pid) return 0 ;;
        esac
    done
    return 1
}
for name in samba smbd nmbd winbindd; do
    for pid in $(pgrep -x "$name" 2>/dev/null || true); do
        if is_stock "$pid"; then
            log "stopping stock $name (pid $pid)"
            $SUDO kill -TERM "$pid" 2>/dev/null || true
        fi
    done
done

# Final check: nothing but a lab DC may listen on the lab addresses' Samba ports.
for ip in 127.0.0.2 127.0.0.3; do
    if command -v ss >/dev/null 2>&1; then
        busy=$(ss -Hltn "( sport = :389 or sport = :88 or sport = :445 or sport = :53 )" 2>/dev/null \
            | awk -v ip="$ip" '$4 ~ "^(0\\.0\\.0\\.0|\\*|\\[::\\]|" ip "):" {print $4}' || true)
        if [ -n "$busy" ]; then
            log "note: ports already bound that a lab DC on $ip needs: $(echo "$busy" | tr '\n' ' ')"
        fi
    fi
done

command -v samba >/dev/null && command -v samba-tool >/dev/null && command -v ldbmodify >/dev/null
log "ok ($(samba --version 2>/dev/null || echo 'samba ?'))"
