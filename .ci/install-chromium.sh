#!/usr/bin/env bash
# Install the headless browser the HTML report tests use (Debian 12), idempotently.
#
# Why each package:
# - chromium: Debian's own build. The tests drive it through playwright with
#   executable_path=/usr/bin/chromium; `playwright install` downloads a browser and does not work
#   on a closed network, so it is never used.
# - chromium-driver: /usr/bin/chromedriver, for anyone driving the same browser with Selenium.
# - fonts-liberation2, fonts-dejavu-core: metric-compatible Arial/Times/Courier and a wide Unicode
#   font, so screenshots and layout tests (long names, right-to-left text) render real glyphs.
# --no-install-recommends keeps the install small. A quick no-op when everything is installed.
set -euo pipefail

PKGS=(chromium chromium-driver fonts-liberation2 fonts-dejavu-core)

log() { printf 'install-chromium: %s\n' "$*" >&2; }

# shellcheck source=.ci/apt-lib.sh
. "$(dirname "$0")/apt-lib.sh"
missing_packages "${PKGS[@]}"

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt_install "${missing[@]}"
fi

test -x /usr/bin/chromium && test -x /usr/bin/chromedriver
log "ok ($(/usr/bin/chromium --version 2>/dev/null || echo 'chromium ?'))"
