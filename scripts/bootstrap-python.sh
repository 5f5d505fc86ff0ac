#!/usr/bin/env bash
# Creates the project's virtualenv with Python >= 3.11, installing Debian's python3-venv
# when the interpreter cannot create one (fresh Debian 12 machines).
set -euo pipefail
venv="${1:-.venv}"
if [ -x "$venv/bin/python" ]; then exit 0; fi
py="$(command -v python3 || true)"
if [ -z "$py" ] || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "Python 3.11 ou plus récent est requis (python3 introuvable ou trop ancien)." >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
    py="$(command -v python3)"
  else
    exit 1
  fi
fi
if ! "$py" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$py" -m venv "$venv"
  else
    echo "Impossible de créer l'environnement virtuel : installez python3-venv (apt-get install python3-venv)." >&2
    exit 1
  fi
fi
