"""Readers' ``report`` messages (error counters, protocol v1) through the gateway: classified
like a status, relayed byte for byte and retained on the central broker; during a central
outage the latest report per reader waits and goes up at reconnection. Two real Mosquitto
brokers and the gateway as a real process."""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from gateway_harness import GATEWAY, SITE, GatewayProcess, LedgerRecorder
from paho.mqtt.enums import CallbackAPIVersion
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.intake import EVIDENCE, REPORT, classify
from reemploi.protocol.gateway_msgs import decode_evidence, gateway_topic
from reemploi.protocol.wire import Report, encode_report, topic

READER = "rd-report"
REPORT_TOPIC = topic(SITE, READER, "report")


def _report(scans: int, ident: str | None = "rep-1") -> bytes:
    return encode_report(Report(READER, {"scans": scans, "nfc_crc": 1}, ident, 1_764_000_000_000))


def test_intake_relays_a_valid_report_like_a_status() -> None:
    intake = classify(SITE, GATEWAY, REPORT_TOPIC, _report(3), 100.0)
    assert intake.action == REPORT and intake.device == READER
    assert intake.message is None  # not stored in the outbox: relayed retained


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        (REPORT_TOPIC, b'{"v":1,"device":"rd-report","counters":{"Scans":1}}', "bad_field"),
        (REPORT_TOPIC, b'{"v":1,"device":"rd-report"}', "missing_field"),
        (topic(SITE, "rd-other", "report"), _report(3), "device_mismatch"),
        (topic("site-autre", READER, "report"), _report(3), "bad_topic"),
    ],
)
def test_malformed_report_becomes_evidence_with_its_reason(
    name: str, payload: bytes, reason: str
) -> None:
    intake = classify(SITE, GATEWAY, name, payload, 100.0)
    assert intake.action == EVIDENCE and intake.reason == reason
    assert intake.message is not None
    assert intake.message.topic == gateway_topic(SITE, GATEWAY, "evidence")
    ev = decode_evidence(intake.message.payload)
    assert (ev.topic, ev.reason, ev.payload) == (name, reason, payload)


def _publish_retained(broker: Mosquitto, name: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=READER)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(name, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def _retained_on(broker: Mosquitto, name: str, timeout: float = 10) -> mqtt.MQTTMessage:
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="retained-report-check")
    client.on_connect = lambda c, *_: c.subscribe(name, qos=1)
    client.on_message = lambda _c, _u, msg: got.put(msg)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        return got.get(timeout=timeout)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def brokers(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> tuple[Mosquitto, Mosquitto]:
    settings = MosquittoSettings(persistence=True, max_queued_messages=0)
    return make_mosquitto(settings), make_mosquitto(settings)


def test_report_relayed_retained_and_the_latest_one_after_an_outage(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        first = _report(1)
        _publish_retained(local, REPORT_TOPIC, first)
        assert recorder.wait_kind("report", 1, timeout=20) == [(REPORT_TOPIC, first)]
        kept = _retained_on(central, REPORT_TOPIC)
        assert kept.retain and kept.payload == first

        central.stop()
        gateway.wait_health(lambda h: h["link"] == "down")
        older, latest = _report(2, "rep-2"), _report(3, "rep-3")
        _publish_retained(local, REPORT_TOPIC, older)
        _publish_retained(local, REPORT_TOPIC, latest)
        gateway.wait_health(lambda h: h["reports_relayed"] == 3)
        central.start()
        got = recorder.wait_kind("report", 2, timeout=60)
        assert got[-1] == (REPORT_TOPIC, latest)
        assert (REPORT_TOPIC, older) not in got  # latest per topic wins, like a status
        assert _retained_on(central, REPORT_TOPIC).payload == latest
        health = gateway.wait_health(lambda h: h["link"] == "up")
        assert health["evidence"] == 0 and health["queue"] == 0
    finally:
        gateway.stop()
        recorder.stop()
