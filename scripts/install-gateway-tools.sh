#!/usr/bin/env bash
# Installe les outils Debian des tests de la passerelle : gpsd (le vrai démon GPS, nourri
# par les tests avec des trames NMEA sur TCP ; aucun service système n'est démarré).
# Installs the Debian tools the gateway tests use: gpsd (the real GPS daemon, fed NMEA
# over TCP by the tests; no system service is started or enabled by this script).
# Idempotent: does nothing (and touches no network) when gpsd is already there.
set -euo pipefail

PACKAGES=(gpsd)
log() { printf 'install-gateway-tools: %s\n' "$*" >&2; }

missing=()
for package in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "${package}" 2>/dev/null || true)"
    [[ "${status}" == "installed" ]] || missing+=("${package}")
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
if ! apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
    log "apt-get update puis nouvel essai / then retrying"
    apt-get "${APT_WAIT[@]}" update -q || true
    apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi
command -v gpsd >/dev/null || [[ -x /usr/sbin/gpsd ]] || { log "gpsd missing after install"; exit 1; }
log "ok: ${PACKAGES[*]}"
