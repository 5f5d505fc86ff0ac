#!/usr/bin/env bash
# Installe les outils des tests de séries temporelles (Debian 12, root), idempotent.
# Installs what the time-series tests need (Debian 12, run as root), idempotently:
#   influxdb          Debian's 1.6.7: the 1.x HTTP API (/write, /query InfluxQL)
#   victoria-metrics  accepts the 2.x write API (/api/v2/write) from influxdb-client,
#                     so the v2 wire path is tested against a real server
# Never starts a system service: the tests start their own instances on free ports.
set -euo pipefail

PACKAGES=(influxdb victoria-metrics)

log() { printf 'install-timeseries-tools: %s\n' "$*" >&2; }

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
    is_installed "${package}" || missing+=("${package}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    log "déjà installé / already installed: ${PACKAGES[*]}"
    exit 0
fi
if [[ ${EUID} -ne 0 ]]; then
    log "doit être lancé en root / must run as root to install: ${missing[*]}"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT_WAIT=(-o DPkg::Lock::Timeout=900)
# Package scripts must not start services (same guard as install-test-services.sh).
POLICY_RC=/usr/sbin/policy-rc.d
if [[ ! -e "${POLICY_RC}" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"${POLICY_RC}"
    chmod 0755 "${POLICY_RC}"
    trap 'rm -f "${POLICY_RC}"' EXIT
fi
candidate="$(apt-cache policy "${missing[0]}" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
if [[ -z "${candidate}" || "${candidate}" == "(none)" ]]; then
    apt-get "${APT_WAIT[@]}" update -q || log "apt-get update a échoué en partie / partly failed"
fi
apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"

for binary in influxd victoria-metrics; do
    command -v "${binary}" >/dev/null || { log "binaire absent / missing binary: ${binary}"; exit 1; }
done
log "ok: ${PACKAGES[*]}"
