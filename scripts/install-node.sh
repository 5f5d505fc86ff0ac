#!/usr/bin/env bash
# pyright (type-checking the firmware against micropython-esp32-stubs) runs on Node.js.
# Without a `node` on PATH the pyright wheel would try to download one, which these
# machines cannot: install Debian's nodejs when node is missing. Idempotent.
set -euo pipefail
if command -v node >/dev/null 2>&1; then
    exit 0
fi
if [[ ${EUID} -ne 0 ]]; then
    echo "install-node: node introuvable ; lancez en root (apt-get install nodejs)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=900 nodejs
