#!/usr/bin/env bash
# Installe les outils Debian des tests de provisioning (rendu PDF et lecture des QR).
# Installs the Debian tools the provisioning tests use: pdftoppm (poppler-utils) to
# render label PDFs, zbarimg (zbar-tools) to decode every QR code back. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
ensure_debian_packages install-provisioning-tools poppler-utils zbar-tools
require_binaries install-provisioning-tools pdftoppm zbarimg
