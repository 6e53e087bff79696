#!/usr/bin/env bash
# Install what the Kerberos tests need (Debian 12), idempotently; tests/lab/setup.sh runs it.
#
# - krb5-user: kinit/klist/kvno against the lab KDC (also in install-samba.sh; listed so this
#   script stands alone).
# - libkrb5-dev: headers pip needs to build python-gssapi and python-krb5 (the `kerberos` extra:
#   pyspnego's Kerberos for WinRM, ldap3's SASL GSSAPI for LDAP).
# - faketime: runs hvlm with its clock 15 minutes ahead, so the lab KDC refuses it with a real
#   KRB_AP_ERR_SKEW (tests/collect/test_kerberos_lab.py); only that process's clock changes.
set -euo pipefail

PKGS=(krb5-user libkrb5-dev faketime)

log() { printf 'install-kerberos: %s\n' "$*" >&2; }

# shellcheck source=.ci/apt-lib.sh
. "$(dirname "$0")/apt-lib.sh"
missing_packages "${PKGS[@]}"
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    # krb5-user asks for a default realm: apt_install answers non-interactively.
    apt_install "${missing[@]}"
fi
