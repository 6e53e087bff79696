# Sourced by .ci/install-*.sh: the apt steps every lab installer shares.
# (Not named install-*.sh, so tests/lab/setup.sh does not run it on its own.)

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

# missing_packages PKG...: sets the array `missing` to the packages not installed yet.
missing_packages() {
    missing=()
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
}

# apt_install PKG...: install without recommends; on failure refresh the lists once and retry.
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q --no-install-recommends "$@"; then
        log "install failed; running apt-get update once and retrying"
        $SUDO apt-get update -q
        $SUDO apt-get install -y -q --no-install-recommends "$@"
    fi
}
