#!/usr/bin/env bash
# Prepare a fresh Debian machine for the test suite: the lab peers (Samba AD DC, Chromium, ...)
# from Debian's packages through .ci/install-*.sh, and hvlm with its test extras.
# Needs root (or sudo) for apt-get. Safe to run again: every installer is idempotent.
#
# python-krb5 and python-gssapi (the `kerberos` extra) have no binary wheels on PyPI for this
# platform: pip compiles them, which takes minutes on two cores. So they are built in the background
# as soon as libkrb5-dev is there (install-kerberos.sh runs first), while apt and pip install the rest,
# and installed from those wheels at the end. If that build fails, the last pip install builds them
# itself and says why.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
build_pid=""
start_kerberos_wheels() {
  if python3 -c "import krb5, gssapi" 2>/dev/null || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
    return 0
  fi
  echo "== building the krb5 and gssapi wheels in the background"
  python3 -m pip wheel -q --no-deps 'krb5>=0.5' 'gssapi>=1.8' -w "$WHEELS" >"$WHEELS/build.log" 2>&1 &
  build_pid=$!
}
if compgen -G ".ci/install-*.sh" > /dev/null; then
  $SUDO apt-get update -qq
  # install-kerberos.sh first: its libkrb5-dev lets the wheels build while the rest installs
  for script in $(ls .ci/install-kerberos.sh 2>/dev/null) $(ls .ci/install-*.sh | grep -v '/install-kerberos.sh$'); do
    echo "== $script"
    # HVLM_LAB_GSSAPI=1: also libkrb5-dev, so pip can build python-gssapi for the Kerberos bind tests
    $SUDO env DEBIAN_FRONTEND=noninteractive HVLM_LAB_GSSAPI=1 bash "$script"
    if [ "$script" = .ci/install-kerberos.sh ]; then start_kerberos_wheels; fi
  done
fi
echo "== pip install -e '.[test]'"
python3 -m pip install -q -e '.[test]'
if [ -n "$build_pid" ] && ! wait "$build_pid"; then
  echo "== the background wheel build failed (pip builds them now):" >&2
  tail -n 20 "$WHEELS/build.log" >&2 || true
fi
echo "== pip install -e '.[test,kerberos]'"
python3 -m pip install -q --find-links "$WHEELS" -e '.[test,kerberos]'
