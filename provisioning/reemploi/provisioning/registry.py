"""The installers' provisioning state: readers, platform account, CA, broker files.

Everything lives in one folder (``--state``), written atomically (temp file, then
rename) so an interrupted command leaves the previous state whole:

    registry.json            readers and accounts (hashes only, never a clear password)
    pki/ca.crt, pki/ca.key   the platform CA (keep ca.key offline in production)
    broker/                  passwd, acl, mosquitto.conf, ca.crt, server.crt/key, crl.pem
    bundles/<reader>/        config.json + certificates for one reader (given once)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reemploi.protocol.wire import valid_id

from .claim import claim_code_hash, claim_url, new_claim_code
from .mosquitto_files import (
    COMPOSE_LAYOUT,
    BrokerLayout,
    MqttAccount,
    acl_text,
    hash_password,
    mosquitto_conf,
    password_file_text,
)
from .pki import CertificateAuthority

__all__ = ["Enrolment", "ProvisioningError", "ProvisioningState", "ReaderRecord"]

REGISTRY_VERSION = 1
PLATFORM_USER = "reemploi-platform"


class ProvisioningError(Exception):
    """A request the state refuses (reader already exists, unknown reader …), in French."""


@dataclass
class ReaderRecord:
    device: str
    site: str
    state: str  # "active" or "revoked"
    created: str
    password_hash: str
    claim_code_sha256: str
    cert_serial: int
    cert_sha256: str
    revoked: str | None = None
    label: str = ""


@dataclass
class Enrolment:
    """What ``reader enroll`` hands to the installer, once."""

    record: ReaderRecord
    claim_code: str
    claim_url: str
    bundle_folder: Path


@dataclass
class Registry:
    version: int = REGISTRY_VERSION
    platform_url: str = "https://reemploi.example.org"
    broker_host: str = "localhost"
    broker_tls_port: int = 8883
    broker_plain_port: int = 1883
    platform_password_hash: str = ""
    readers: dict[str, ReaderRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["readers"] = {k: asdict(v) for k, v in sorted(self.readers.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registry:
        readers = {k: ReaderRecord(**v) for k, v in data.pop("readers", {}).items()}
        return cls(**data, readers=readers)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ProvisioningState:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.registry_path = folder / "registry.json"
        self.broker_folder = folder / "broker"

    # ------------------------------------------------------------ set-up

    def exists(self) -> bool:
        return self.registry_path.exists()

    def init(
        self,
        platform_url: str,
        broker_hosts: list[str],
        tls_port: int = 8883,
        plain_port: int = 1883,
    ) -> str:
        """Create the CA, the broker certificate and the platform account.

        Returns the platform account's password (shown once; also written to
        ``platform-credentials.json``, mode 600, for the server's settings).
        """
        if self.exists():
            raise ProvisioningError(f"{self.folder} est déjà initialisé")
        ca = CertificateAuthority.create()
        (self.folder / "pki").mkdir(parents=True, exist_ok=True)
        ca.save(self.folder / "pki/ca.crt", self.folder / "pki/ca.key")
        server = ca.issue_server(broker_hosts)
        _write_atomic(self.broker_folder / "server.crt", server.certificate_pem)
        _write_atomic(self.broker_folder / "server.key", server.key_pem, 0o640)
        password = secrets.token_urlsafe(24)
        registry = Registry(
            platform_url=platform_url,
            broker_host=broker_hosts[0],
            broker_tls_port=tls_port,
            broker_plain_port=plain_port,
            platform_password_hash=hash_password(password),
        )
        credentials = {"username": PLATFORM_USER, "password": password}
        _write_atomic(
            self.folder / "platform-credentials.json",
            json.dumps(credentials, indent=2).encode() + b"\n",
            0o600,
        )
        self._save(registry)
        self.write_broker_files(registry)
        return password

    def load(self) -> Registry:
        if not self.exists():
            raise ProvisioningError(
                f"{self.folder} n'est pas initialisé : lancez d'abord "
                "`reemploi-provision broker init`"
            )
        return Registry.from_json(json.loads(self.registry_path.read_text()))

    def _save(self, registry: Registry) -> None:
        text = json.dumps(registry.to_json(), indent=2, ensure_ascii=False) + "\n"
        _write_atomic(self.registry_path, text.encode(), 0o600)

    def ca(self) -> CertificateAuthority:
        return CertificateAuthority.load(self.folder / "pki/ca.crt", self.folder / "pki/ca.key")

    # ------------------------------------------------------------ broker files

    def accounts(self, registry: Registry) -> list[MqttAccount]:
        accounts = [MqttAccount(PLATFORM_USER, registry.platform_password_hash, "platform")]
        for record in registry.readers.values():
            if record.state == "active":
                accounts.append(
                    MqttAccount(record.device, record.password_hash, "reader", record.site)
                )
        return accounts

    def write_broker_files(
        self, registry: Registry | None = None, layout: BrokerLayout | None = None
    ) -> Path:
        """(Re)write passwd, acl, crl.pem, ca.crt and mosquitto.conf in ``broker/``."""
        registry = registry or self.load()
        ca = self.ca()
        folder = self.broker_folder
        layout = layout or BrokerLayout(
            folder=str(folder.resolve()),
            plain_port=registry.broker_plain_port,
            tls_port=registry.broker_tls_port,
        )
        accounts = self.accounts(registry)
        revoked = [r.cert_serial for r in registry.readers.values() if r.state == "revoked"]
        _write_atomic(folder / "passwd", password_file_text(accounts).encode(), 0o640)
        _write_atomic(folder / "acl", acl_text(accounts).encode(), 0o640)
        _write_atomic(folder / "crl.pem", ca.crl_pem(revoked))
        _write_atomic(folder / "ca.crt", ca.certificate_pem)
        _write_atomic(folder / "mosquitto.conf", mosquitto_conf(layout).encode())
        return folder

    def write_compose_conf(self, folder: Path) -> Path:
        """``mosquitto.conf`` for docker-compose's ``mosquitto`` service, in ``folder``
        (``deploy/mosquitto`` in the repository); the secrets it names are those of
        ``broker/``, which compose mounts from ``MOSQUITTO_SECRETS_DIR``."""
        self.load()  # refuses an uninitialised state
        path = folder / "mosquitto.conf"
        _write_atomic(path, mosquitto_conf(COMPOSE_LAYOUT).encode())
        return path

    # ------------------------------------------------------------ readers

    def enroll(self, device: str, site: str, label: str = "") -> Enrolment:
        registry = self.load()
        if not valid_id(device) or not valid_id(site):
            raise ProvisioningError(
                "identifiant de lecteur ou de site invalide : 1 à 40 caractères a-z 0-9 -"
            )
        if device == PLATFORM_USER:
            raise ProvisioningError(f"« {device} » est réservé au compte de la plateforme")
        if device in registry.readers:
            existing = registry.readers[device]
            raise ProvisioningError(
                f"le lecteur « {device} » existe déjà (état : {existing.state}, créé le "
                f"{existing.created}) ; un identifiant n'est jamais réutilisé"
            )
        ca = self.ca()
        password = secrets.token_urlsafe(24)
        code = new_claim_code()
        client = ca.issue_client(device)
        record = ReaderRecord(
            device=device,
            site=site,
            state="active",
            created=_now(),
            password_hash=hash_password(password),
            claim_code_sha256=claim_code_hash(code),
            cert_serial=client.serial,
            cert_sha256=client.fingerprint_sha256,
            label=label,
        )
        bundle = self.folder / "bundles" / device
        config = reader_config(registry, record, password)
        # Bundle first, registry last: a crash in between leaves no reader recorded.
        _write_atomic(bundle / "ca.crt", ca.certificate_pem)
        _write_atomic(bundle / "client.crt", client.certificate_pem)
        _write_atomic(bundle / "client.key", client.key_pem, 0o600)
        _write_atomic(bundle / "config.json", json.dumps(config, indent=2).encode() + b"\n", 0o600)
        registry.readers[device] = record
        self._save(registry)
        self.write_broker_files(registry)
        return Enrolment(record, code, claim_url(registry.platform_url, device, code), bundle)

    def revoke(self, device: str) -> ReaderRecord:
        registry = self.load()
        record = registry.readers.get(device)
        if record is None:
            raise ProvisioningError(f"lecteur « {device} » inconnu")
        if record.state == "revoked":
            raise ProvisioningError(f"le lecteur « {device} » est déjà révoqué ({record.revoked})")
        record.state = "revoked"
        record.revoked = _now()
        self._save(registry)
        self.write_broker_files(registry)
        return record


def reader_config(registry: Registry, record: ReaderRecord, password: str) -> dict[str, Any]:
    """The reader's ``config.json``, in the firmware's schema (``firmware/lib/reader/config.py``).

    Wi-Fi networks are left empty for the installer to fill in on site.
    """
    return {
        "site": record.site,
        "device": record.device,
        "broker": {
            "host": registry.broker_host,
            "port": registry.broker_tls_port,
            "user": record.device,
            "password": password,
            "tls": True,
            "cafile": "ca.crt",
            "certfile": "client.crt",
            "keyfile": "client.key",
            "keepalive_s": 60,
        },
        "wifi": [],
    }
