"""Mosquitto 2.x files written from the reader registry: password file, ACL, config.

* password file: ``user:$7$<iterations>$<salt b64>$<PBKDF2-SHA512 b64>`` lines, the
  format ``mosquitto_passwd`` writes (tested against it);
* ACL by user name, least privilege: a reader may publish only its own ``scan``,
  ``status`` and ``report`` and read only its own ``ack`` and ``cmd``; a gateway relays
  its site's readers (writes ``<site>/+/scan``, ``<site>/+/status`` and
  ``<site>/+/report``, reads ``<site>/+/ack`` and ``<site>/+/cmd``) and writes its own
  ``lot``, ``evidence``, ``sighting`` and ``health``, nothing on another site; the
  platform account reads every scan, status and report and writes every ack and cmd;
* ``mosquitto.conf`` with ``use_username_as_clientid true`` under **each** listener
  (set globally, Mosquitto 2.0 ignores it and a device could borrow another's id).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

from reemploi.protocol.gateway_msgs import GATEWAY_KINDS, gateway_topic
from reemploi.protocol.wire import TOPIC_ROOT, topic

__all__ = [
    "BROKER_SECRET_FILES",
    "COMPOSE_LAYOUT",
    "PLATFORM_READS",
    "BrokerLayout",
    "MqttAccount",
    "acl_text",
    "gateway_acl_lines",
    "hash_password",
    "mosquitto_conf",
    "password_file_text",
    "verify_password_line",
]

# What the platform account reads: readers' scan, status and report, gateways' messages
# (ingest subscribes to scan, status, report, lot and evidence; sightings and health are
# for the platform).
PLATFORM_READS = ("scan", "status", "report", *GATEWAY_KINDS)

PBKDF2_ITERATIONS = 1000
SALT_BYTES = 12


@dataclass(frozen=True)
class MqttAccount:
    username: str
    password_hash: str  # "$7$…" line part
    role: str  # "reader", "gateway" or "platform"
    site: str | None = None  # readers and gateways


def hash_password(
    password: str, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None
) -> str:
    """The ``$7$`` hash Mosquitto 2 reads: PBKDF2-HMAC-SHA512, 64-byte output."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password_line(line: str, username: str, password: str) -> bool:
    user, _, encoded = line.strip().partition(":")
    parts = encoded.split("$")
    if user != username or len(parts) != 5 or parts[1] != "7":
        return False
    salt = base64.b64decode(parts[3])
    return hash_password(password, int(parts[2]), salt) == encoded


def password_file_text(accounts: Iterable[MqttAccount]) -> str:
    return "".join(f"{a.username}:{a.password_hash}\n" for a in accounts)


def acl_text(accounts: Iterable[MqttAccount]) -> str:
    lines = ["# Écrit par reemploi-provision — ne pas modifier à la main.", ""]
    for account in accounts:
        lines.append(f"user {account.username}")
        if account.role == "platform":
            lines += [f"topic read {TOPIC_ROOT}/+/+/{kind}" for kind in PLATFORM_READS]
            lines += [
                f"topic write {TOPIC_ROOT}/+/+/ack",
                f"topic write {TOPIC_ROOT}/+/+/cmd",
            ]
        elif account.role == "gateway":
            lines += gateway_acl_lines(account.site or "", account.username)
        else:
            site = account.site or ""
            lines += [
                f"topic write {topic(site, account.username, 'scan')}",
                f"topic write {topic(site, account.username, 'status')}",
                f"topic write {topic(site, account.username, 'report')}",
                f"topic read {topic(site, account.username, 'ack')}",
                f"topic read {topic(site, account.username, 'cmd')}",
            ]
        lines.append("")
    return "\n".join(lines)


def gateway_acl_lines(site: str, gateway: str) -> list[str]:
    """A gateway's rights: relay its site's readers both ways, publish its own messages."""
    wildcard = f"{TOPIC_ROOT}/{site}/+"
    topic(site, gateway, "scan")  # validates both ids like every other topic
    return [
        f"topic write {wildcard}/scan",
        f"topic write {wildcard}/status",
        f"topic write {wildcard}/report",
        *(f"topic write {gateway_topic(site, gateway, kind)}" for kind in GATEWAY_KINDS),
        f"topic read {wildcard}/ack",
        f"topic read {wildcard}/cmd",
    ]


@dataclass(frozen=True)
class BrokerLayout:
    """Where the broker finds its files and which ports it listens on."""

    folder: str  # absolute folder holding passwd, acl, ca.crt, server.crt, server.key, crl.pem
    plain_port: int | None = 1883
    plain_bind: str = "127.0.0.1"
    tls_port: int | None = 8883
    tls_bind: str = "0.0.0.0"
    require_client_certificate: bool = True
    pid_file: str | None = None
    persistence_folder: str | None = None


def mosquitto_conf(layout: BrokerLayout) -> str:
    folder = layout.folder.rstrip("/")
    lines = [
        "# Écrit par reemploi-provision — ne pas modifier à la main.",
        "# Generated by reemploi-provision — do not edit by hand.",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {folder}/passwd",
        f"acl_file {folder}/acl",
        "set_tcp_nodelay true",
        "max_queued_messages 10000",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
    ]
    if layout.pid_file:
        lines.append(f"pid_file {layout.pid_file}")
    if layout.persistence_folder:
        lines += [
            "persistence true",
            f"persistence_location {layout.persistence_folder.rstrip('/')}/",
        ]
    else:
        lines.append("persistence false")
    if layout.plain_port is not None:
        lines += [
            "",
            "# Plateforme et tests, boucle locale seulement / platform and tests, loopback only",
            f"listener {layout.plain_port} {layout.plain_bind}",
            "use_username_as_clientid true",
        ]
    if layout.tls_port is not None:
        lines += [
            "",
            "# Lecteurs, TLS / readers, TLS",
            f"listener {layout.tls_port} {layout.tls_bind}",
            "use_username_as_clientid true",
            f"cafile {folder}/ca.crt",
            f"certfile {folder}/server.crt",
            f"keyfile {folder}/server.key",
            f"crlfile {folder}/crl.pem",
            "tls_version tlsv1.2",
        ]
        if layout.require_client_certificate:
            lines.append("require_certificate true")
    return "\n".join(lines) + "\n"


# What the broker folder holds and ``mosquitto.conf`` names (all written by provisioning).
BROKER_SECRET_FILES = ("passwd", "acl", "ca.crt", "server.crt", "server.key", "crl.pem")

# The ``mosquitto`` service of ``docker-compose.yml``: the state's ``broker/`` folder is
# mounted read-only on /mosquitto/secrets, a volume on /mosquitto/data; inside the
# compose network the platform uses 1883 (not published), readers and gateways 8883.
COMPOSE_LAYOUT = BrokerLayout(
    folder="/mosquitto/secrets",
    plain_port=1883,
    plain_bind="0.0.0.0",
    tls_port=8883,
    tls_bind="0.0.0.0",
    persistence_folder="/mosquitto/data",
)
