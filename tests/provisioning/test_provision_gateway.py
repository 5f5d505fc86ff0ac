"""Gateway identities from `gateway enroll|revoke`, on a real Mosquitto loaded with the
generated files: the gateway relays its own site's readers both ways and publishes its
own messages, nothing on another site, never as the platform; revoked, it is refused.
Its bundle is the gateway's own settings file: the real `reemploi-gateway run` started
on it relays a reader's scan to the platform over TLS with its client certificate."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_broker_harness import GeneratedBroker, new_state
from support.mosquitto import Mosquitto
from support.mqtt_probe import MqttProbe

from reemploi.protocol.gateway_msgs import (
    GATEWAY_KINDS,
    LotMovement,
    encode_lot_movement,
    gateway_topic,
)
from reemploi.protocol.wire import Report, Scan, encode_report, encode_scan, topic
from reemploi.provisioning.registry import PLATFORM_USER, ProvisioningState

NOT_AUTHORIZED = 0x87
DELIVERED = (0, 16)  # success, or "no matching subscribers"
GATEWAY = "gw-site-1"


def _scan(device: str, seq: int = 1) -> bytes:
    return encode_scan(Scan(device, seq, "ndef_uri", "https://id.gs1.org/8004/4012345A1"))


def gateway_settings(state: ProvisioningState, gateway: str = GATEWAY) -> dict[str, object]:
    with (state.folder / "bundles" / gateway / "gateway.toml").open("rb") as handle:
        return tomllib.load(handle)


def gateway_password(state: ProvisioningState, gateway: str = GATEWAY) -> str:
    return str(gateway_settings(state, gateway)["central_password"])


def platform_password(state: ProvisioningState) -> str:
    return str(json.loads((state.folder / "platform-credentials.json").read_text())["password"])


def _reader_password(state: ProvisioningState, device: str) -> str:
    config = json.loads((state.folder / "bundles" / device / "config.json").read_text())
    return str(config["broker"]["password"])


def lot_message(gateway: str = GATEWAY, seq: int = 1) -> bytes:
    return encode_lot_movement(
        LotMovement(
            gateway=gateway,
            seq=seq,
            event="arrived",
            beacon="eu:52454D504C4F49000001:000000000042",
            mode="site",
            at=1_764_000_000_000,
            first_seen=1_763_999_990_000,
            rssi=-61,
            sightings=12,
        )
    )


@pytest.fixture
def state() -> Iterator[ProvisioningState]:
    provisioning = new_state("provision-gw")
    folder = provisioning.folder
    provisioning.enroll("lecteur-a", "site-1")
    provisioning.enroll("lecteur-c", "site-2")
    # Certificates where the test can reach them, as --install-dir does on a real box.
    provisioning.enroll_gateway(GATEWAY, "site-1", install_dir=str(folder / "bundles" / GATEWAY))
    provisioning.enroll_gateway("gw-site-2", "site-2", mode="vehicle")
    yield provisioning
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def broker(state: ProvisioningState) -> Iterator[GeneratedBroker]:
    running = GeneratedBroker(state).start()
    try:
        yield running
    finally:
        running.stop()


def _drain(probe: MqttProbe, wait: float = 0.7) -> set[tuple[str, bytes]]:
    seen: set[tuple[str, bytes]] = set()
    while True:
        try:
            message = probe.next_message(timeout=wait)
        except queue.Empty:
            return seen
        seen.add((message.topic, message.payload))


def test_gateway_acl_is_least_privilege_for_its_site(state: ProvisioningState) -> None:
    acl = (state.broker_folder / "acl").read_text()
    block = acl.split(f"user {GATEWAY}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == [
        "topic write reemploi/v1/site-1/+/scan",
        "topic write reemploi/v1/site-1/+/status",
        "topic write reemploi/v1/site-1/+/report",
        *(f"topic write reemploi/v1/site-1/{GATEWAY}/{kind}" for kind in GATEWAY_KINDS),
        "topic read reemploi/v1/site-1/+/ack",
        "topic read reemploi/v1/site-1/+/cmd",
    ]


def test_gateway_relays_a_reader_scan_of_its_site_byte_for_byte(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
        platform.subscribe("reemploi/v1/+/+/scan")
        platform.subscribe("reemploi/v1/+/+/status")
        with broker.probe(GATEWAY, gateway_password(state)) as gateway:
            scan = topic("site-1", "lecteur-a", "scan")
            status = topic("site-1", "lecteur-a", "status")
            assert gateway.publish(scan, _scan("lecteur-a")).value in DELIVERED
            assert gateway.publish(status, b'{"v":1}').value in DELIVERED
            # its own status (and last will) lives on the same wildcard
            own = topic("site-1", GATEWAY, "status")
            assert gateway.publish(own, b'{"v":1}').value in DELIVERED
        got = _drain(platform)
    assert (scan, _scan("lecteur-a")) in got
    assert (status, b'{"v":1}') in got and (own, b'{"v":1}') in got


def test_gateway_relays_a_reader_report_of_its_site_not_another_sites(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    report = encode_report(Report("lecteur-a", {"scans": 3, "nfc_crc": 1}, "rep-1"))
    with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
        assert platform.subscribe("reemploi/v1/+/+/report") == 1
        with broker.probe(GATEWAY, gateway_password(state)) as gateway:
            own_site = topic("site-1", "lecteur-a", "report")
            assert gateway.publish(own_site, report).value in DELIVERED
            other_site = topic("site-2", "lecteur-c", "report")
            assert gateway.publish(other_site, report).value == NOT_AUTHORIZED
        got = _drain(platform)
    assert got == {(own_site, report)}


def test_gateway_publishes_its_own_messages_not_another_gateways(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(GATEWAY, gateway_password(state)) as gateway:
        for kind in GATEWAY_KINDS:
            own = gateway_topic("site-1", GATEWAY, kind)
            assert gateway.publish(own, lot_message()).value in DELIVERED, kind
            other = gateway_topic("site-1", "gw-autre", kind)
            assert gateway.publish(other, lot_message("gw-autre")).value == NOT_AUTHORIZED, kind


def test_gateway_cannot_publish_for_another_site(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
        platform.subscribe("reemploi/v1/site-2/#")
        with broker.probe(GATEWAY, gateway_password(state)) as gateway:
            for kind in ("scan", "status"):
                refused = gateway.publish(topic("site-2", "lecteur-c", kind), _scan("lecteur-c"))
                assert refused.value == NOT_AUTHORIZED, kind
            for kind in GATEWAY_KINDS:  # not even its own name under another site
                refused = gateway.publish(gateway_topic("site-2", GATEWAY, kind), lot_message())
                assert refused.value == NOT_AUTHORIZED, kind
        assert _drain(platform) == set()


def test_gateway_cannot_publish_as_the_platform(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe("lecteur-a", _reader_password(state, "lecteur-a")) as reader:
        reader.subscribe(topic("site-1", "lecteur-a", "ack"))
        reader.subscribe(topic("site-1", "lecteur-a", "cmd"))
        with broker.probe(GATEWAY, gateway_password(state)) as gateway:
            for kind in ("ack", "cmd"):
                forged = gateway.publish(topic("site-1", "lecteur-a", kind), b'{"forged":1}')
                assert forged.value == NOT_AUTHORIZED, kind
        assert _drain(reader) == set()


def test_gateway_receives_its_site_acks_and_cmds_only(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(GATEWAY, gateway_password(state)) as gateway:
        gateway.subscribe("reemploi/v1/site-1/+/ack")
        gateway.subscribe("reemploi/v1/site-1/+/cmd")
        gateway.subscribe("reemploi/v1/+/+/+")  # granted, filtered at delivery
        with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
            for site, device in (("site-1", "lecteur-a"), ("site-2", "lecteur-c")):
                for kind in ("ack", "cmd"):
                    platform.publish(topic(site, device, kind), f"{kind} {device}".encode())
        got = _drain(gateway)
    assert got == {
        (topic("site-1", "lecteur-a", "ack"), b"ack lecteur-a"),
        (topic("site-1", "lecteur-a", "cmd"), b"cmd lecteur-a"),
    }


def test_revoked_gateway_is_refused_and_the_other_gateway_is_untouched(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(GATEWAY, gateway_password(state)) as connected:
        state.revoke_gateway(GATEWAY)
        broker.reload()
        deadline = time.monotonic() + 5
        while connected.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not connected.client.is_connected()
    refused = broker.probe(GATEWAY, gateway_password(state))
    try:
        assert refused.connect().is_failure
    finally:
        refused.client.loop_stop()
    with broker.probe("gw-site-2", gateway_password(state, "gw-site-2")) as other:
        assert other.publish(gateway_topic("site-2", "gw-site-2", "lot"), b"{}").value in DELIVERED
    assert state.load().gateways[GATEWAY].cert_serial != 0
    assert GATEWAY not in (state.broker_folder / "passwd").read_text()


def test_gateway_bundle_is_read_by_the_gateways_own_settings(
    state: ProvisioningState, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reemploi.gateway.settings import load_settings

    for name in list(os.environ):
        if name.startswith("REEMPLOI_GATEWAY_"):
            monkeypatch.delenv(name)
    bundle = state.folder / "bundles" / "gw-site-2"
    # load_settings sets this variable: let monkeypatch remove it afterwards
    monkeypatch.setenv("REEMPLOI_GATEWAY_CONFIG_FILE", "")
    settings = load_settings(bundle / "gateway.toml")
    assert (settings.site, settings.gateway_id, settings.mode) == ("site-2", "gw-site-2", "vehicle")
    assert settings.central_username == "gw-site-2"
    assert (settings.central_host, settings.central_port) == (
        "localhost",
        state.load().broker_tls_port,
    )
    assert settings.central_tls is True
    assert settings.central_password is not None
    assert settings.central_password.get_secret_value() == gateway_password(state, "gw-site-2")
    assert settings.central_cafile == Path("/etc/reemploi/gateway/ca.crt")
    assert settings.central_certfile == Path("/etc/reemploi/gateway/client.crt")
    assert settings.central_keyfile == Path("/etc/reemploi/gateway/client.key")
    for name in ("ca.crt", "client.crt", "client.key"):
        assert (bundle / name).read_bytes().startswith(b"-----BEGIN ")
    assert (bundle / "gateway.toml").stat().st_mode & 0o077 == 0
    registry = state.registry_path.read_text()
    assert gateway_password(state, "gw-site-2") not in registry  # only the hash is kept


@pytest.fixture
def local_broker() -> Iterator[Mosquitto]:
    with Mosquitto() as running:
        yield running


def test_real_gateway_on_its_bundle_relays_scans_up_and_acks_down(
    state: ProvisioningState, broker: GeneratedBroker, local_broker: Mosquitto, tmp_path: Path
) -> None:
    """`reemploi-gateway run` with the generated gateway.toml and nothing else but where
    its local broker and state folder are: TLS + client certificate + password, ACL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REEMPLOI_GATEWAY_")}
    env |= {
        "REEMPLOI_GATEWAY_CONFIG_FILE": str(state.folder / "bundles" / GATEWAY / "gateway.toml"),
        "REEMPLOI_GATEWAY_LOCAL_PORT": str(local_broker.port),
        "REEMPLOI_GATEWAY_STATE_DIR": str(tmp_path / "gw"),
    }
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "reemploi.gateway.cli", "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
            platform.subscribe("reemploi/v1/+/+/scan")
            with MqttProbe("127.0.0.1", local_broker.port, client_id="lecteur-a") as reader:
                reader.subscribe(topic("site-1", "lecteur-a", "ack"))
                own = topic("site-1", "lecteur-a", "scan")
                received = None
                deadline = time.monotonic() + 30
                seq = 0
                while received is None and time.monotonic() < deadline:
                    seq += 1  # until the gateway is up and subscribed locally
                    reader.publish(own, _scan("lecteur-a", seq))
                    try:
                        received = platform.next_message(timeout=1.0)
                    except queue.Empty:
                        assert process.poll() is None, (tmp_path / "gateway.log").read_text()
                assert received is not None, (tmp_path / "gateway.log").read_text()
                assert received.topic == own
                assert received.payload in {_scan("lecteur-a", n) for n in range(1, seq + 1)}
                platform.publish(topic("site-1", "lecteur-a", "ack"), b'{"ack":"down"}')
                down = reader.next_message(timeout=10)
                assert (down.topic, down.payload) == (
                    topic("site-1", "lecteur-a", "ack"),
                    b'{"ack":"down"}',
                )
        assert f"u'{GATEWAY}'" in broker.log.read_text()
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_platform_receives_a_gateways_lot_evidence_sighting_and_health(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    """The platform account reads what ingest subscribes to (lot, evidence) and the
    gateway's sightings and health, through the generated ACL."""
    with broker.probe(PLATFORM_USER, platform_password(state)) as platform:
        for kind in GATEWAY_KINDS:
            platform.subscribe(f"reemploi/v1/+/+/{kind}")
        with broker.probe(GATEWAY, gateway_password(state)) as gateway:
            sent = {}
            for seq, kind in enumerate(GATEWAY_KINDS, start=1):
                own = gateway_topic("site-1", GATEWAY, kind)
                sent[own] = lot_message(seq=seq)
                assert gateway.publish(own, sent[own]).value == 0, kind  # 0: it had a reader
        got = _drain(platform)
    assert got == set(sent.items())
    lot = gateway_topic("site-1", GATEWAY, "lot")
    assert (lot, lot_message(seq=1)) in got
