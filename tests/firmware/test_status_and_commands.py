"""The reader's status message and its commands through a real Mosquitto, under the real
MicroPython unix port: status every interval (shortened in the config) with every field,
published retained."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from support.services import Mosquitto

from reemploi.protocol import wire

pytestmark = pytest.mark.micropython


def retained(broker: Mosquitto, topic: str, timeout: float = 10) -> mqtt.MQTTMessage:
    """The message the broker keeps on ``topic``, as a new subscriber receives it."""
    got: list[mqtt.MQTTMessage] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="retained-check")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg)
        done.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert done.wait(timeout), f"nothing retained on {topic}"
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0]


def test_status_every_interval_published_retained(
    run_mp: Callable[..., str], fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    out = run_mp(
        "status_command_tests",
        {
            "host": fresh_mosquitto.host,
            "port": fresh_mosquitto.port,
            "data": str(tmp_path),
            "only": ["test_status_every_interval_with_every_field"],
        },
    )
    assert "ok test_status_every_interval_with_every_field" in out
    expected = json.loads((tmp_path / "status-expected.json").read_text())
    msg = retained(fresh_mosquitto, expected["topic"])
    assert msg.retain, "status must be published retained"
    status = wire.decode_status(msg.payload)
    assert status.state == wire.STATE_ONLINE and status.device == "rd-status"
    assert (status.fw, status.queue, status.drops) == (
        expected["fw"],
        expected["queue"],
        expected["drops"],
    )
    assert status.reset == "power_on" and status.wifi_rssi == -55
    assert isinstance(status.heap, int) and status.heap > 0


def test_commands_through_the_broker(
    run_mp: Callable[..., str], fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    out = run_mp(
        "status_command_tests",
        {
            "host": fresh_mosquitto.host,
            "port": fresh_mosquitto.port,
            "data": str(tmp_path),
            "only": ["test_commands_identify_set_report_reboot_and_bad_ones"],
        },
    )
    assert "ok test_commands_identify_set_report_reboot_and_bad_ones" in out
    assert out.count("command refused:") == 11, out
    msg = retained(fresh_mosquitto, wire.topic("cp-test", "rd-cmd", "status"))
    assert msg.retain and wire.decode_status(msg.payload).reset == "soft_reset"


def test_report_answer_published_retained_with_the_counters(
    run_mp: Callable[..., str], fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    out = run_mp(
        "status_command_tests",
        {
            "host": fresh_mosquitto.host,
            "port": fresh_mosquitto.port,
            "data": str(tmp_path),
            "only": ["test_report_answer_carries_every_error_counter"],
        },
    )
    assert "ok test_report_answer_carries_every_error_counter" in out
    msg = retained(fresh_mosquitto, wire.topic("cp-test", "rd-report", "report"))
    assert msg.retain and msg.qos == 1
    report = wire.decode_report(msg.payload)
    assert report.id == "rep-1" and report.device == "rd-report"
    assert report.counters["commands_refused"] == 1
    # the exact bytes the protocol's encoder writes: fixed field order, counters sorted
    assert msg.payload == wire.encode_report(report)
    answer = json.loads(msg.payload)
    assert list(answer) == ["v", "device", "id", "counters", "clock"]
    assert list(answer["counters"]) == sorted(answer["counters"])
    assert len(msg.payload) < wire.MAX_MESSAGE_BYTES
