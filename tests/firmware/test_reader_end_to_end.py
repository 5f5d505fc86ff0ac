"""The whole reader firmware (simulated hardware) under the real MicroPython unix port,
against a real Mosquitto and a platform stand-in that acks scans: feedback patterns,
a broker restart plus a reboot that lose no queued scan, BLE beacons."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from support.services import Mosquitto

from reemploi.protocol import wire

pytestmark = pytest.mark.micropython


class Platform:
    """Acks every scan: 'REFUSE' in the data -> rejected, 'UNKNOWN' -> unknown_tag."""

    def __init__(self, broker: Mosquitto) -> None:
        self.scans: list[wire.Scan] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="platform-test")
        self.client.on_connect = lambda c, *_: c.subscribe("reemploi/v1/+/+/scan", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        scan = wire.decode_scan(msg.payload)
        self.scans.append(scan)
        if "REFUSE" in scan.data:
            ack = wire.Ack(scan.seq, scan.key, wire.RESULT_REJECTED, "illegal_transition")
        elif "UNKNOWN" in scan.data:
            ack = wire.Ack(scan.seq, scan.key, wire.RESULT_UNKNOWN_TAG, "unknown_tag")
        else:
            ack = wire.Ack(scan.seq, scan.key, wire.RESULT_ACCEPTED)
        site, device, _ = wire.parse_topic(msg.topic)
        client.publish(wire.topic(site, device, "ack"), wire.encode_ack(ack), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def platform(fresh_mosquitto: Mosquitto) -> Iterator[Platform]:
    p = Platform(fresh_mosquitto)
    try:
        yield p
    finally:
        p.close()


def _broker_controller(broker: Mosquitto, control: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        if (control / "stop_broker").exists():
            (control / "stop_broker").unlink()
            broker.stop()
            (control / "broker_stopped").write_text("1")
        if (control / "start_broker").exists():
            (control / "start_broker").unlink()
            broker.start()
        time.sleep(0.05)


def test_reader_end_to_end_under_micropython(
    run_mp: Callable[..., str], fresh_mosquitto: Mosquitto, platform: Platform, tmp_path: Path
) -> None:
    control = tmp_path / "control"
    control.mkdir()
    stop = threading.Event()
    thread = threading.Thread(
        target=_broker_controller, args=(fresh_mosquitto, control, stop), daemon=True
    )
    thread.start()
    try:
        out = run_mp(
            "reader_tests",
            {
                "host": fresh_mosquitto.host,
                "port": fresh_mosquitto.port,
                "data": str(tmp_path),
                "control": str(control),
            },
            timeout=240,
        )
    finally:
        stop.set()
        thread.join(5)
    assert "ok test_broker_restart_loses_no_queued_scan_and_sequence_survives_reboot" in out
    restart = [s for s in platform.scans if s.device == "rd-restart"]
    data = {s.data for s in restart}
    assert data == {f"https://id.gs1.org/8004/4012345A{i}" for i in range(5)}, data
    seqs = sorted({s.seq for s in restart})
    assert len(seqs) == 5, seqs  # five distinct sequence numbers, none reused after reboot
    beacons = [s for s in platform.scans if s.device == "rd-ble"]
    assert {s.kind for s in beacons} == {"ble_eddystone"}
    assert beacons[0].data.startswith("00EC5265656D706C6F692D31")
