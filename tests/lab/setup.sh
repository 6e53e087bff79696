#!/usr/bin/env bash
# Prepare a fresh Debian machine for the test suite: the lab peers (Samba AD DC, Chromium, ...)
# from Debian's packages through .ci/install-*.sh, and hvlm with its test extras.
# Needs root (or sudo) for apt-get. Safe to run again: every installer is idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
if compgen -G ".ci/install-*.sh" > /dev/null; then
  $SUDO apt-get update -qq
  for script in .ci/install-*.sh; do
    echo "== $script"
    # HVLM_LAB_GSSAPI=1: also libkrb5-dev, so pip can build python-gssapi for the Kerberos bind tests
    $SUDO env DEBIAN_FRONTEND=noninteractive HVLM_LAB_GSSAPI=1 bash "$script"
  done
fi
echo "== pip install -e '.[test,kerberos]'"
python3 -m pip install -q -e '.[test,kerberos]'
