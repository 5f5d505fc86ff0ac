#!/usr/bin/env bash
# Installe Chromium (Debian) pour les tests Playwright de l'application web.
# Installs Debian's Chromium for the Playwright browser tests of the web app, idempotently.
# Playwright drives it with executable_path=/usr/bin/chromium: never run `playwright install`
# (it downloads its own browser, and these machines only reach the package registries).
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
ensure_debian_packages install-browser chromium fonts-dejavu-core
require_binaries install-browser chromium
