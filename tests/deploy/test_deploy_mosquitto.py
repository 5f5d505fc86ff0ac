"""The Mosquitto configuration docker-compose.yml mounts, run by the real Mosquitto with
files written by provisioning: only the container paths and ports are moved to a temp
folder and free loopback ports. Readers need TLS with a client certificate and their
password; the platform account uses the internal plain listener; anonymous is refused."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from support.mqtt_probe import MqttProbe
from support.processes import (
    ServiceProcess,
    chown_tree,
    find_program,
    free_port,
    make_service_folder,
    port_accepts,
    running_as_root,
    system_user_exists,
)

from reemploi.protocol import wire
from reemploi.provisioning.mosquitto_files import (
    MqttAccount,
    acl_text,
    hash_password,
    password_file_text,
)
from reemploi.provisioning.pki import CertificateAuthority

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_PASSWORD = "plateforme-secret-de-test"
READER_PASSWORD = "lecteur-secret-de-test"


def _moved(conf: str, folder: Path, plain: int, tls: int) -> str:
    """The deploy configuration with container paths and ports moved; each exactly once."""
    for old, new in (
        ("listener 1883 0.0.0.0", f"listener {plain} 127.0.0.1"),
        ("listener 8883 0.0.0.0", f"listener {tls} 127.0.0.1"),
        ("persistence_location /mosquitto/data/", f"persistence_location {folder}/data/"),
    ):
        assert conf.count(old) == 1, old
        conf = conf.replace(old, new)
    assert conf.count("/mosquitto/secrets/") == 6
    return conf.replace("/mosquitto/secrets/", f"{folder}/secrets/")


@pytest.fixture(scope="module")
def broker() -> Iterator[dict]:
    # a folder the broker's own user can reach (pytest's tmp folders are root-only)
    owner = "mosquitto" if running_as_root() and system_user_exists("mosquitto") else None
    folder = make_service_folder("deploy-mosquitto", owner)
    secrets = folder / "secrets"
    (folder / "data").mkdir()
    secrets.mkdir()
    ca = CertificateAuthority.create()
    server = ca.issue_server(["localhost", "127.0.0.1"])
    client = ca.issue_client("r-fontaine-1")
    accounts = [
        MqttAccount("reemploi-platform", hash_password(PLATFORM_PASSWORD), "platform"),
        MqttAccount("r-fontaine-1", hash_password(READER_PASSWORD), "reader", "atelier-fontaine"),
    ]
    (secrets / "passwd").write_text(password_file_text(accounts))
    (secrets / "acl").write_text(acl_text(accounts))
    (secrets / "ca.crt").write_bytes(ca.certificate_pem)
    (secrets / "server.crt").write_bytes(server.certificate_pem)
    (secrets / "server.key").write_bytes(server.key_pem)
    (secrets / "crl.pem").write_bytes(ca.crl_pem([]))
    (folder / "client.crt").write_bytes(client.certificate_pem)
    (folder / "client.key").write_bytes(client.key_pem)
    plain, tls = free_port(), free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        _moved((ROOT / "deploy/mosquitto/mosquitto.conf").read_text(), folder, plain, tls)
    )
    if owner:
        chown_tree(folder, owner)
    process = ServiceProcess(
        "mosquitto",
        [find_program("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)],
        log_path=folder / "mosquitto.log",
    )
    process.start(lambda: port_accepts(plain) and port_accepts(tls), timeout=15)
    try:
        yield {"plain": plain, "tls": tls, "folder": folder}
    finally:
        process.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_platform_account_connects_on_the_internal_listener_anonymous_does_not(
    broker: dict,
) -> None:
    with MqttProbe(
        "127.0.0.1", broker["plain"], username="reemploi-platform", password=PLATFORM_PASSWORD
    ) as probe:
        assert probe.connect_reason is not None and not probe.connect_reason.is_failure
        assert not probe.subscribe("reemploi/v1/+/+/scan").is_failure
    anonymous = MqttProbe("127.0.0.1", broker["plain"])
    try:
        assert anonymous.connect().is_failure
    finally:
        anonymous.close()


def _tls_probe(broker: dict, with_certificate: bool) -> MqttProbe:
    probe = MqttProbe(
        "127.0.0.1",
        broker["tls"],
        username="r-fontaine-1",
        password=READER_PASSWORD,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    folder = broker["folder"]
    probe.client.tls_set(
        ca_certs=str(folder / "secrets" / "ca.crt"),
        certfile=str(folder / "client.crt") if with_certificate else None,
        keyfile=str(folder / "client.key") if with_certificate else None,
    )
    return probe


def test_a_reader_publishes_its_scan_over_tls_with_its_certificate(broker: dict) -> None:
    probe = _tls_probe(broker, with_certificate=True)
    try:
        assert not probe.connect().is_failure
        scan = wire.Scan("r-fontaine-1", 1, wire.KIND_NFC_UID, "04A1B2C3D4E5F6")
        reason = probe.publish(
            wire.topic("atelier-fontaine", "r-fontaine-1", "scan"), wire.encode_scan(scan)
        )
        assert not reason.is_failure
        other = probe.publish(wire.topic("atelier-fontaine", "r-autre", "scan"), b"{}")
        assert other.is_failure  # the ACL keeps each reader to its own topics
    finally:
        probe.close()


def test_a_reader_without_a_client_certificate_is_refused(broker: dict) -> None:
    probe = _tls_probe(broker, with_certificate=False)
    with pytest.raises((ssl.SSLError, OSError, TimeoutError)):
        try:
            probe.connect()
        finally:
            probe.client.loop_stop()
