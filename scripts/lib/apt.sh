# shellcheck shell=bash
# Shared by scripts/install-*.sh: install Debian packages idempotently, as root, without
# starting any system service (the tests start their own instances on free ports).
#
#   source "$(dirname "$0")/lib/apt.sh"
#   ensure_debian_packages install-foo pkg1 pkg2      # no network when all are there
#   require_binaries install-foo bin1 bin2            # fail loudly if one is missing

apt_log() { printf '%s: %s\n' "$1" "$2" >&2; }

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

ensure_debian_packages() {
    local name="$1"
    shift
    local missing=() package
    for package in "$@"; do
        is_installed "${package}" || missing+=("${package}")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        apt_log "${name}" "déjà installé / already installed: $*"
        return 0
    fi
    if [[ ${EUID} -ne 0 ]]; then
        apt_log "${name}" "doit être lancé en root / must run as root to install: ${missing[*]}"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    local wait=(-o DPkg::Lock::Timeout=900)
    local keep=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    # Package scripts must not start services while we install.
    local policy=/usr/sbin/policy-rc.d guard=0
    if [[ ! -e "${policy}" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"${policy}"
        chmod 0755 "${policy}"
        guard=1
    fi
    local status=0
    if ! apt-get "${wait[@]}" install -y -q --no-install-recommends "${keep[@]}" "${missing[@]}"; then
        apt_log "${name}" "apt-get update puis nouvel essai / then retrying"
        apt-get "${wait[@]}" update -q || apt_log "${name}" "apt-get update a échoué en partie"
        apt-get "${wait[@]}" install -y -q --no-install-recommends "${keep[@]}" "${missing[@]}" \
            || status=$?
    fi
    [[ ${guard} -eq 0 ]] || rm -f "${policy}"
    return "${status}"
}

require_binaries() {
    local name="$1" binary
    shift
    for binary in "$@"; do
        command -v "${binary}" >/dev/null || [[ -x "/usr/sbin/${binary}" ]] || {
            apt_log "${name}" "binaire absent après installation / missing binary: ${binary}"
            return 1
        }
    done
    apt_log "${name}" "ok: $*"
}
