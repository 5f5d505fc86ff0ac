"""What an enrolled device receives: the reader's ``config.json``, the gateway's TOML.

Both name the broker the state was initialised for (first ``--host``, TLS port) and hold
the device's clear password, which exists nowhere else (the registry keeps its hash).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

__all__ = ["GATEWAY_INSTALL_DIR", "gateway_toml", "reader_config"]

# Where the gateway's certificates live once installed (docker-compose mounts the
# bundle there too); ``gateway.toml`` itself goes to /etc/reemploi/gateway.toml, the
# path the systemd unit passes to ``--config``.
GATEWAY_INSTALL_DIR = "/etc/reemploi/gateway"


def reader_config(site: str, device: str, host: str, port: int, password: str) -> dict[str, Any]:
    """The reader's ``config.json``, in the firmware's schema (``firmware/lib/reader/config.py``).

    Wi-Fi networks are left empty for the installer to fill in on site.
    """
    return {
        "site": site,
        "device": device,
        "broker": {
            "host": host,
            "port": port,
            "user": device,
            "password": password,
            "tls": True,
            "cafile": "ca.crt",
            "certfile": "client.crt",
            "keyfile": "client.key",
            "keepalive_s": 60,
        },
        "wifi": [],
    }


def _toml_value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid TOML basic string (same escapes, \uXXXX for controls).
    return json.dumps(value, ensure_ascii=False)


def gateway_toml(
    *,
    site: str,
    gateway: str,
    mode: str,
    host: str,
    port: int,
    password: str,
    install_dir: str = GATEWAY_INSTALL_DIR,
    created: str = "",
) -> str:
    """The gateway's settings file, in ``reemploi.gateway.settings.GatewaySettings``'s
    names: its identity, the central broker, TLS with its client certificate.

    Local broker, outbox and BLE settings keep the gateway's defaults; the installer adds
    them (or ``REEMPLOI_GATEWAY_<NAME>`` variables, which win over the file).
    """
    folder = PurePosixPath(install_dir)
    values: list[tuple[str, str | int | bool]] = [
        ("site", site),
        ("gateway_id", gateway),
        ("mode", mode),
        ("central_host", host),
        ("central_port", port),
        ("central_username", gateway),
        ("central_password", password),
        ("central_tls", True),
        ("central_cafile", str(folder / "ca.crt")),
        ("central_certfile", str(folder / "client.crt")),
        ("central_keyfile", str(folder / "client.key")),
    ]
    header = [
        f"# Passerelle {gateway} — écrit par reemploi-provision {created}".rstrip(),
        f"# Gateway {gateway} — written by reemploi-provision.",
        "# Installation : ce fichier en /etc/reemploi/gateway.toml (0640, root:reemploi),",
        f"# ca.crt, client.crt et client.key dans {folder}/.",
        "# Le mot de passe n'existe qu'ici : effacez ce dossier du poste une fois copié.",
        "",
    ]
    body = [f"{name} = {_toml_value(value)}" for name, value in values]
    return "\n".join(header + body) + "\n"
