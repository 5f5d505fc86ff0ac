"""The installers' provisioning state: readers, gateways, platform account, CA, broker files.

Everything lives in one folder (``--state``), written atomically (temp file, then
rename) so an interrupted command leaves the previous state whole:

    registry.json            readers, gateways, accounts (hashes only, never a password)
    pki/ca.crt, pki/ca.key   the platform CA (keep ca.key offline in production)
    broker/                  passwd, acl, mosquitto.conf, ca.crt, server.crt/key, crl.pem
    bundles/<reader>/        config.json + certificates for one reader (given once)
    bundles/<gateway>/       gateway.toml + certificates for one gateway (given once)

Readers and gateways share one id space: an id is an MQTT user name and a topic level,
and is never reused, even after revocation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reemploi.protocol.wire import valid_id

from .bundles import GATEWAY_INSTALL_DIR, gateway_toml, reader_config
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

__all__ = [
    "GATEWAY_MODES",
    "Enrolment",
    "GatewayEnrolment",
    "GatewayRecord",
    "ProvisioningError",
    "ProvisioningState",
    "ReaderRecord",
]

REGISTRY_VERSION = 1
PLATFORM_USER = "reemploi-platform"
GATEWAY_MODES = ("site", "vehicle")  # reemploi.protocol.gateway_msgs.MODES


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
    role: str = ""  # the platform's reader role (counter, dock…), when given


@dataclass
class GatewayRecord:
    device: str
    site: str
    mode: str  # "site" or "vehicle"
    state: str  # "active" or "revoked"
    created: str
    password_hash: str
    cert_serial: int
    cert_sha256: str
    revoked: str | None = None
    label: str = ""


@dataclass
class GatewayEnrolment:
    """What ``gateway enroll`` hands to the installer, once."""

    record: GatewayRecord
    bundle_folder: Path


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
    gateways: dict[str, GatewayRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["readers"] = {k: asdict(v) for k, v in sorted(self.readers.items())}
        data["gateways"] = {k: asdict(v) for k, v in sorted(self.gateways.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registry:
        readers = {k: ReaderRecord(**v) for k, v in data.pop("readers", {}).items()}
        gateways = {k: GatewayRecord(**v) for k, v in data.pop("gateways", {}).items()}
        return cls(**data, readers=readers, gateways=gateways)

    def record(self, device: str) -> ReaderRecord | GatewayRecord | None:
        return self.readers.get(device) or self.gateways.get(device)


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
        for gateway in registry.gateways.values():
            if gateway.state == "active":
                accounts.append(
                    MqttAccount(gateway.device, gateway.password_hash, "gateway", gateway.site)
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
        records: list[ReaderRecord | GatewayRecord] = [
            *registry.readers.values(),
            *registry.gateways.values(),
        ]
        revoked = [r.cert_serial for r in records if r.state == "revoked"]
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

    def check_new(self, registry: Registry, device: str, site: str, what: str) -> None:
        """Refuse a bad or already used id (``what``: « lecteur » or « passerelle »)."""
        if not valid_id(device) or not valid_id(site):
            raise ProvisioningError(
                f"identifiant de {what} ou de site invalide : 1 à 40 caractères a-z 0-9 -"
            )
        if device == PLATFORM_USER:
            raise ProvisioningError(f"« {device} » est réservé au compte de la plateforme")
        existing = registry.record(device)
        if existing is not None:
            kind = "lecteur" if device in registry.readers else "passerelle"
            raise ProvisioningError(
                f"l'identifiant « {device} » existe déjà ({kind}, état : {existing.state}, "
                f"créé le {existing.created}) ; un identifiant n'est jamais réutilisé"
            )

    def enroll(self, device: str, site: str, label: str = "", role: str = "") -> Enrolment:
        registry = self.load()
        self.check_new(registry, device, site, "lecteur")
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
            role=role,
        )
        bundle = self.folder / "bundles" / device
        config = reader_config(
            site, device, registry.broker_host, registry.broker_tls_port, password
        )
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
        self._revoke(registry, record, f"le lecteur « {device} » est déjà révoqué")
        return record

    # ------------------------------------------------------------ gateways

    def enroll_gateway(
        self,
        gateway: str,
        site: str,
        mode: str = "site",
        label: str = "",
        install_dir: str = GATEWAY_INSTALL_DIR,
    ) -> GatewayEnrolment:
        """A gateway's identity: password, client certificate, ACL, ``gateway.toml``."""
        registry = self.load()
        self.check_new(registry, gateway, site, "passerelle")
        if mode not in GATEWAY_MODES:
            raise ProvisioningError(f"mode « {mode} » inconnu : site ou vehicle")
        ca = self.ca()
        password = secrets.token_urlsafe(24)
        client = ca.issue_client(gateway)
        created = _now()
        record = GatewayRecord(
            device=gateway,
            site=site,
            mode=mode,
            state="active",
            created=created,
            password_hash=hash_password(password),
            cert_serial=client.serial,
            cert_sha256=client.fingerprint_sha256,
            label=label,
        )
        settings = gateway_toml(
            site=site,
            gateway=gateway,
            mode=mode,
            host=registry.broker_host,
            port=registry.broker_tls_port,
            password=password,
            install_dir=install_dir,
            created=created,
        )
        bundle = self.folder / "bundles" / gateway
        # Bundle first, registry last: a crash in between leaves no gateway recorded.
        _write_atomic(bundle / "ca.crt", ca.certificate_pem)
        _write_atomic(bundle / "client.crt", client.certificate_pem)
        _write_atomic(bundle / "client.key", client.key_pem, 0o600)
        _write_atomic(bundle / "gateway.toml", settings.encode(), 0o600)
        registry.gateways[gateway] = record
        self._save(registry)
        self.write_broker_files(registry)
        return GatewayEnrolment(record, bundle)

    def revoke_gateway(self, gateway: str) -> GatewayRecord:
        registry = self.load()
        record = registry.gateways.get(gateway)
        if record is None:
            raise ProvisioningError(f"passerelle « {gateway} » inconnue")
        self._revoke(registry, record, f"la passerelle « {gateway} » est déjà révoquée")
        return record

    # ------------------------------------------------------------ shared

    def _revoke(
        self, registry: Registry, record: ReaderRecord | GatewayRecord, already: str
    ) -> None:
        if record.state == "revoked":
            raise ProvisioningError(f"{already} ({record.revoked})")
        record.state = "revoked"
        record.revoked = _now()
        self._save(registry)
        self.write_broker_files(registry)

    def discard(self, device: str) -> bool:
        """Undo an enrolment that was never handed out (its platform registration
        failed): forget the record, delete its bundle, rewrite the broker files.

        Returns whether there was anything to undo. Never use it on a device that has
        been given its bundle: revoke it instead.
        """
        registry = self.load()
        found = registry.readers.pop(device, None) or registry.gateways.pop(device, None)
        if found is not None:
            self._save(registry)
            self.write_broker_files(registry)
        bundle = self.folder / "bundles" / device
        if bundle.is_dir():
            shutil.rmtree(bundle)
        return found is not None
