#!/usr/bin/env bash
# pyright (type-checking the firmware against micropython-esp32-stubs) runs on Node.js.
# Without a `node` on PATH the pyright wheel would try to download one, which these
# machines cannot: install Debian's nodejs when node is missing. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
command -v node >/dev/null 2>&1 && exit 0
ensure_debian_packages install-node nodejs
require_binaries install-node node
