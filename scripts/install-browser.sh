#!/usr/bin/env bash
# Install Debian's Chromium for the Playwright browser tests of the web app, idempotently.
# Playwright drives it with executable_path=/usr/bin/chromium: never run `playwright install`
# (it downloads its own browser, and these machines only reach the package registries).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo '?')"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    echo "install-browser.sh: needs root (apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium installed: $(chromium --version 2>/dev/null || echo '?')"
