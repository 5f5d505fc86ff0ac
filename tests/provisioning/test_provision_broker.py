"""A real Mosquitto loaded with the files `reader enroll|revoke` generate.

Proves least privilege by user name, that a spoofed client id gains nothing, that
revocation takes effect on the broker (SIGHUP for passwords and ACL, restart for the
CRL), and TLS with the generated CA and client certificates. MQTT 5 throughout, so
PUBACK/SUBACK/CONNACK reason codes are visible.
"""

from __future__ import annotations

import json
import queue
import shutil
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_broker_harness import GeneratedBroker, new_state

from reemploi.protocol.wire import Report, Scan, encode_report, encode_scan, topic
from reemploi.provisioning.registry import PLATFORM_USER, ProvisioningState

pytestmark = pytest.mark.mosquitto

NOT_AUTHORIZED = 0x87
GRANTED_QOS1 = 1


def _config(state: ProvisioningState, device: str) -> dict[str, object]:
    return json.loads((state.folder / "bundles" / device / "config.json").read_text())


def _password(state: ProvisioningState, device: str) -> str:
    mqtt = _config(state, device)["broker"]
    assert isinstance(mqtt, dict)
    return str(mqtt["password"])


@pytest.fixture
def state() -> Iterator[ProvisioningState]:
    provisioning = new_state("provision")
    folder = provisioning.folder
    provisioning.enroll("lecteur-a", "site-1")
    provisioning.enroll("lecteur-b", "site-1")
    yield provisioning
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def broker(state: ProvisioningState) -> Iterator[GeneratedBroker]:
    running = GeneratedBroker(state).start()
    try:
        yield running
    finally:
        running.stop()


def _platform_password(state: ProvisioningState) -> str:
    return str(json.loads((state.folder / "platform-credentials.json").read_text())["password"])


def _scan(device: str, seq: int = 1) -> bytes:
    return encode_scan(Scan(device, seq, "ndef_uri", "https://id.gs1.org/8004/4012345A1"))


def test_generated_conf_sets_use_username_as_clientid_under_each_listener(
    state: ProvisioningState,
) -> None:
    lines = (state.broker_folder / "mosquitto.conf").read_text().splitlines()
    listeners = [i for i, line in enumerate(lines) if line.startswith("listener ")]
    assert len(listeners) == 2
    for start, end in zip(listeners, [*listeners[1:], len(lines)], strict=True):
        assert "use_username_as_clientid true" in lines[start:end]
    assert "use_username_as_clientid true" not in lines[: listeners[0]]


def test_reader_publishes_its_own_scan_and_the_platform_receives_it(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe(PLATFORM_USER, _platform_password(state)) as platform:
        assert platform.subscribe("reemploi/v1/+/+/scan") == GRANTED_QOS1
        with broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-a") as reader:
            own = topic("site-1", "lecteur-a", "scan")
            assert reader.publish(own, _scan("lecteur-a")).value == 0
            assert reader.publish(topic("site-1", "lecteur-a", "status"), b"{}").value in (0, 16)
        received = platform.next_message()
        assert received.topic == own and received.payload == _scan("lecteur-a")


def test_reader_publishes_its_own_report_and_the_platform_reads_it(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    report = encode_report(Report("lecteur-a", {"commands": 1, "nfc_crc": 2}, "rep-1"))
    with broker.probe(PLATFORM_USER, _platform_password(state)) as platform:
        assert platform.subscribe("reemploi/v1/+/+/report") == GRANTED_QOS1
        with broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-a") as reader:
            own = topic("site-1", "lecteur-a", "report")
            assert reader.publish(own, report).value == 0
            other = topic("site-1", "lecteur-b", "report")
            assert reader.publish(other, report).value == NOT_AUTHORIZED
            # the topic readers used before protocol v1 had a report: outside the tree
            legacy = topic("site-1", "lecteur-a", "status") + "/report"
            assert reader.publish(legacy, report).value == NOT_AUTHORIZED
        received = platform.next_message()
        assert received.topic == own and received.payload == report
        with pytest.raises(queue.Empty):
            platform.next_message(timeout=0.7)


def test_spoofed_client_id_cannot_publish_as_another_reader(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    with broker.probe("lecteur-b", _password(state, "lecteur-b"), "lecteur-b") as victim:
        with broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-b") as spoofer:
            reason = spoofer.publish(topic("site-1", "lecteur-b", "scan"), _scan("lecteur-b"))
            assert reason.value == NOT_AUTHORIZED
            other_site = spoofer.publish(topic("site-2", "lecteur-a", "scan"), _scan("lecteur-a"))
            assert other_site.value == NOT_AUTHORIZED
        # The genuine reader was not kicked off by the spoofed client id.
        assert victim.publish(topic("site-1", "lecteur-b", "scan"), _scan("lecteur-b")).value in (
            0,
            16,
        )


def test_reader_receives_only_its_own_ack_and_cmd(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    # Mosquitto 2.0's acl_file grants the SUBSCRIBE itself and filters at delivery
    # (every ACL variant is tried in test_provision_subscribe_acl.py): what matters is
    # that nothing addressed to another reader is ever delivered.
    with broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-a") as spy:
        for pattern in (topic("site-1", "lecteur-b", "ack"), "reemploi/v1/+/+/+", "#"):
            spy.subscribe(pattern)
        assert spy.subscribe(topic("site-1", "lecteur-a", "ack")) == GRANTED_QOS1
        assert spy.subscribe(topic("site-1", "lecteur-a", "cmd")) == GRANTED_QOS1
        assert spy.publish(topic("site-1", "lecteur-a", "ack"), b"{}").value == NOT_AUTHORIZED
        with broker.probe("lecteur-b", _password(state, "lecteur-b"), "lecteur-b") as other:
            assert other.subscribe(topic("site-1", "lecteur-b", "ack")) == GRANTED_QOS1
            with broker.probe(PLATFORM_USER, _platform_password(state)) as platform:
                for device in ("lecteur-b", "lecteur-a"):
                    for kind in ("ack", "cmd"):
                        payload = f"{kind} pour {device}".encode()
                        platform.publish(topic("site-1", device, kind), payload)
                other.publish(topic("site-1", "lecteur-b", "scan"), _scan("lecteur-b"))
            assert other.next_message().payload == b"ack pour lecteur-b"
        received: set[bytes] = set()
        while True:  # overlapping subscriptions may deliver a message more than once
            try:
                received.add(spy.next_message(timeout=0.7).payload)
            except queue.Empty:
                break
        assert received == {b"ack pour lecteur-a", b"cmd pour lecteur-a"}


def test_revoked_reader_is_refused_after_reload(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    own = topic("site-1", "lecteur-a", "scan")
    with broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-a") as connected:
        assert connected.publish(own, _scan("lecteur-a")).value in (0, 16)
        state.revoke("lecteur-a")
        broker.reload()
        # Already connected: Mosquitto re-checks every client on reload and drops it.
        deadline = time.monotonic() + 5
        while connected.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not connected.client.is_connected()
        with pytest.raises(ConnectionError):
            connected.publish(own, _scan("lecteur-a", 2))
    refused = broker.probe("lecteur-a", _password(state, "lecteur-a"), "lecteur-a")
    try:
        assert refused.connect().is_failure
    finally:
        refused.client.loop_stop()
    # The other reader is untouched.
    with broker.probe("lecteur-b", _password(state, "lecteur-b")) as other:
        assert other.publish(topic("site-1", "lecteur-b", "scan"), _scan("lecteur-b")).value in (
            0,
            16,
        )


def test_tls_with_generated_ca_and_client_certificate(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    bundle = state.folder / "bundles" / "lecteur-b"
    with broker.tls_probe("lecteur-b", _password(state, "lecteur-b"), bundle) as reader:
        assert reader.publish(topic("site-1", "lecteur-b", "scan"), _scan("lecteur-b")).value in (
            0,
            16,
        )
        assert reader.publish(topic("site-1", "lecteur-a", "scan"), _scan("lecteur-a")).value == (
            NOT_AUTHORIZED
        )


def _tls_refusal(broker: GeneratedBroker, bundle: Path | None) -> str:
    """Open TLS with the generated CA, send an MQTT 5 CONNECT, return how it was refused.

    Under TLS 1.3 the server checks the client certificate after the client's
    handshake ends, so the refusal shows up as an alert on the first read.
    """
    context = ssl.create_default_context(cafile=str(broker.state.broker_folder / "ca.crt"))
    if bundle is not None:
        context.load_cert_chain(str(bundle / "client.crt"), str(bundle / "client.key"))
    connect = bytes.fromhex("100d00044d5154540502003c000000")  # CONNECT, v5, empty id
    with socket.create_connection(("127.0.0.1", broker.tls_port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(connect)
                answer = tls.recv(16)
        except (ssl.SSLError, ConnectionError) as refused:
            return str(refused)
    return f"answered {answer.hex()}" if answer else "closed"


def _log_says(broker: GeneratedBroker, text: str) -> bool:
    deadline = time.monotonic() + 5
    while text not in broker.log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_tls_refuses_a_client_without_certificate(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    assert not _tls_refusal(broker, None).startswith("answered")
    assert _log_says(broker, "peer did not return a certificate")


def test_tls_refuses_a_revoked_certificate_after_restart(
    state: ProvisioningState, broker: GeneratedBroker
) -> None:
    bundle: Path = state.folder / "bundles" / "lecteur-a"
    assert _tls_refusal(broker, bundle).startswith("answered 20")  # CONNACK before revocation
    state.revoke("lecteur-a")
    broker.restart()
    assert "certificate verify failed" not in broker.log.read_text()
    assert not _tls_refusal(broker, bundle).startswith("answered")
    assert _log_says(broker, "certificate verify failed")
    assert _tls_refusal(broker, state.folder / "bundles" / "lecteur-b").startswith("answered 20")
