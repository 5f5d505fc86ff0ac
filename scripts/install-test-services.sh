#!/usr/bin/env bash
# Installe les services réels dont la suite de tests a besoin (Debian 12, root).
# Installs the real services the test suite needs (Debian 12, run as root).
#
# - Idempotent and fast when everything is already there (no network at all then).
# - Never starts, enables or stops a system service: the tests start their own
#   throwaway instances on 127.0.0.1 free ports (see tests/support/services.py).
# - Only the Debian, PyPI and npm registries are assumed reachable.
#
# Usage: sudo scripts/install-test-services.sh
#   REEMPLOI_EXTRA_APT_PACKAGES="pkg1 pkg2"  add Debian packages to the list.
set -euo pipefail

# Debian packages the tests use. Keep one per line so diffs stay readable.
PACKAGES=(
    mosquitto
    mosquitto-clients
    postgresql
    influxdb        # Debian's 1.6.7: 1.x HTTP API only (/write, /query)
    openssl
)
# Hooks for later additions (not installed yet):
#   chromium        # browser tests with Playwright (executable_path=/usr/bin/chromium)
#                   # append it here; ~500 MB, never run `playwright install`.
#   KiCad 9         # handled by a separate helper script (bookworm-backports source,
#                   # `apt-get install -t bookworm-backports --no-install-recommends kicad`).
# Extra packages can also be passed without editing this file:
read -r -a EXTRA_PACKAGES <<<"${REEMPLOI_EXTRA_APT_PACKAGES:-}"
PACKAGES+=("${EXTRA_PACKAGES[@]}")

log() { printf 'install-test-services: %s\n' "$*" >&2; }

if [[ ${EUID} -ne 0 ]]; then
    log "doit être lancé en root / must run as root (apt-get install)"
    exit 1
fi

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

has_candidate() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
    [[ -n "${candidate}" && "${candidate}" != "(none)" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
    if ! is_installed "${package}"; then
        missing+=("${package}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "déjà installé / already installed: ${PACKAGES[*]}"
    exit 0
fi
log "à installer / to install: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=l
# Other jobs (another install script) may hold the dpkg lock: wait instead of failing.
APT_WAIT=(-o DPkg::Lock::Timeout=900)

# Package scripts must not start services. Docker images usually ship a
# policy-rc.d that says "101: action forbidden"; when it is absent, put a
# temporary one in place and remove it afterwards. An existing one is left alone.
POLICY_RC=/usr/sbin/policy-rc.d
if [[ ! -e "${POLICY_RC}" ]]; then
    printf '#!/bin/sh\n# temporary, from install-test-services.sh\nexit 101\n' >"${POLICY_RC}"
    chmod 0755 "${POLICY_RC}"
    trap 'rm -f "${POLICY_RC}"' EXIT
fi

# `apt-get update` once, only when needed: no index yet, an index older than a
# day, or a missing package without an install candidate. Unreachable third-party
# sources only produce warnings; the Debian archive is what matters.
lists_dir=/var/lib/apt/lists
need_update=0
if ! compgen -G "${lists_dir}/*_Packages*" >/dev/null; then
    need_update=1
elif [[ -n "$(find "${lists_dir}" -maxdepth 1 -name '*_Packages*' -mmin +1440 -print -quit)" ]]; then
    need_update=1
else
    for package in "${missing[@]}"; do
        if ! has_candidate "${package}"; then
            need_update=1
            break
        fi
    done
fi
if [[ ${need_update} -eq 1 ]]; then
    log "apt-get update"
    if ! apt-get "${APT_WAIT[@]}" update -q; then
        log "apt-get update a échoué en partie / partly failed; trying the install anyway"
    fi
fi

apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"

# Sanity check: every package is now installed, and the binaries the tests call exist.
for package in "${PACKAGES[@]}"; do
    if ! is_installed "${package}"; then
        log "échec / failed: ${package} is still not installed"
        exit 1
    fi
done
for binary in mosquitto mosquitto_pub influxd openssl; do
    command -v "${binary}" >/dev/null || { log "missing binary after install: ${binary}"; exit 1; }
done
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    || { log "missing binary after install: /usr/lib/postgresql/*/bin/initdb"; exit 1; }
log "ok: ${PACKAGES[*]}"
