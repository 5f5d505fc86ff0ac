#!/usr/bin/env bash
# Install KiCad 9 (kicad-cli) from bookworm-backports, idempotently.
# Bookworm's main archive only has KiCad 6, which has no kicad-cli.
set -euo pipefail

want_major=9

have_kicad9() {
    command -v kicad-cli >/dev/null 2>&1 || return 1
    local version
    version="$(HOME="${TMPDIR:-/tmp}" kicad-cli version 2>/dev/null || true)"
    [[ "${version%%.*}" == "$want_major" ]]
}

if have_kicad9; then
    echo "kicad-cli $(HOME="${TMPDIR:-/tmp}" kicad-cli version) already installed"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    echo "install-kicad.sh: needs root (apt-get)" >&2
    exit 1
fi

sources=/etc/apt/sources.list.d/bookworm-backports.sources
if [[ ! -f "$sources" ]]; then
    # Use the same Debian mirror as the machine's existing sources.
    # deb822 stanzas: take the URI of the stanza whose Suites include "bookworm".
    mirror="$(awk '
        function flush() { if (suites ~ /(^| )bookworm( |$)/ && uri != "") { print uri; found = 1; exit } uri = ""; suites = "" }
        /^[[:space:]]*$/ { flush(); next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { suites = $0; sub(/^Suites:[[:space:]]*/, "", suites) }
        END { if (!found) flush() }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
    if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
        mirror="$(awk '$1 == "deb" && $0 ~ /bookworm/ && $0 !~ /security/ {
            for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}
        }' /etc/apt/sources.list)"
    fi
    mirror="${mirror:-http://deb.debian.org/debian}"
    cat >"$sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    echo "added $sources (mirror $mirror)"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q -t bookworm-backports --no-install-recommends kicad

if ! have_kicad9; then
    echo "install-kicad.sh: kicad-cli $want_major not available after install" >&2
    exit 1
fi
echo "kicad-cli $(HOME="${TMPDIR:-/tmp}" kicad-cli version) installed"
