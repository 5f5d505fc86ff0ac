#!/usr/bin/env bash
# Installe les outils Debian des tests de la passerelle : gpsd (le vrai démon GPS, nourri
# par les tests avec des trames NMEA sur TCP ; aucun service système n'est démarré).
# Installs the Debian tools the gateway tests use: gpsd. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
ensure_debian_packages install-gateway-tools gpsd
require_binaries install-gateway-tools gpsd
