#!/usr/bin/env bash
# Installe les outils Debian des tests de provisioning (rendu PDF et lecture des QR).
# Installs the Debian tools the provisioning tests use: pdftoppm (poppler-utils) to
# render label PDFs, zbarimg (zbar-tools) to decode every QR code back.
# Idempotent: does nothing (and touches no network) when both are already there.
set -euo pipefail

PACKAGES=(poppler-utils zbar-tools)
log() { printf 'install-provisioning-tools: %s\n' "$*" >&2; }

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
for binary in pdftoppm zbarimg; do
    command -v "${binary}" >/dev/null || { log "missing binary after install: ${binary}"; exit 1; }
done
log "ok: ${PACKAGES[*]}"
