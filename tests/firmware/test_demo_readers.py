"""The demo's readers are the firmware itself (reader.app.Reader on reader.sim hardware),
run in the caller's asyncio loop against a real Mosquitto: taps of NDEF URIs get the
platform's feedback, and a second run on the same folder goes on with the sequence
numbers and the offline queue of the first."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from support.services import Mosquitto

from reemploi.protocol import wire
from reemploi.server.demo.readers import FIRMWARE_LIB, FirmwareReader
from reemploi.server.ingest.mqtt import BrokerAddress

pytestmark = pytest.mark.mosquitto

SITE = "cp-demo"


class Platform:
    """Acks every scan as accepted (unless ``acking`` is cleared); keeps what it saw."""

    def __init__(self, broker: Mosquitto) -> None:
        self.scans: list[wire.Scan] = []
        self.acking = threading.Event()
        self.acking.set()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="demo-platform")
        self.client.on_connect = lambda c, *_: c.subscribe(f"reemploi/v1/{SITE}/+/scan", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        scan = wire.decode_scan(msg.payload)
        self.scans.append(scan)
        if self.acking.is_set():
            ack = wire.Ack(scan.seq, scan.key, wire.RESULT_ACCEPTED)
            client.publish(wire.topic(SITE, scan.device, "ack"), wire.encode_ack(ack), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def _taps(reader: FirmwareReader, uris: list[str], results: list[str | None]) -> None:
    start = len(results)
    for uri in uris:
        await reader.tap(uri)
    for _ in range(400):
        if len(results) - start == len(uris):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"taps not all played: {results}")


def test_demo_reader_is_the_firmware_and_keeps_its_data(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    platform = Platform(fresh_mosquitto)
    address = BrokerAddress(fresh_mosquitto.host, fresh_mosquitto.port, tls=False)
    results: list[str | None] = []
    # a data folder from a demo run before the firmware readers: sequences in readers.json
    (tmp_path / "readers.json").write_text(json.dumps({"rd-demo": 500}))

    def on_result(_device: str, _uri: str, pattern: str | None) -> None:
        results.append(pattern)

    async def first_run() -> None:
        reader = FirmwareReader("rd-demo", SITE, address, tmp_path, on_result)
        assert type(reader.sim.reader).__module__ == "reader.app"  # the board's code
        assert Path(sys.modules["reader"].__file__ or "").parent.parent == FIRMWARE_LIB
        reader.start()
        assert await reader.sim.wait_connected()
        await _taps(
            reader,
            ["https://id.gs1.org/8004/4012345D1", "https://id.gs1.org/8004/4012345D2"],
            results,
        )
        platform.acking.clear()  # the platform stops answering: the next tap stays queued
        await _taps(reader, ["https://id.gs1.org/8004/4012345D3"], results)
        assert len(reader.sim.reader.queue) == 1
        await reader.stop()

    async def second_run() -> None:
        reader = FirmwareReader("rd-demo", SITE, address, tmp_path, on_result)
        assert len(reader.sim.reader.queue) == 1  # the queued scan survived the stop
        platform.acking.set()
        reader.start()
        assert await reader.sim.wait_connected()
        await _taps(reader, ["https://id.gs1.org/8004/4012345D4"], results)
        for _ in range(100):  # the queued scan goes out again on connect and is acked
            if not len(reader.sim.reader.queue):
                break
            await asyncio.sleep(0.05)
        assert len(reader.sim.reader.queue) == 0
        await reader.stop()

    try:
        asyncio.run(first_run())
        asyncio.run(second_run())
    finally:
        platform.close()
    assert results == ["accept", "accept", "queued", "accept"], results
    assert (tmp_path / "readers" / "rd-demo" / "seq.txt").exists()
    by_data: dict[str, set[int]] = {}
    for scan in platform.scans:
        assert scan.kind == wire.KIND_NDEF_URI
        by_data.setdefault(scan.data, set()).add(scan.seq)
    assert sorted(by_data) == [f"https://id.gs1.org/8004/4012345D{i}" for i in range(1, 5)]
    seqs = [min(by_data[f"https://id.gs1.org/8004/4012345D{i}"]) for i in range(1, 5)]
    assert seqs[0] == 500 and seqs == sorted(set(seqs)), seqs  # carried over, never reused
    assert by_data["https://id.gs1.org/8004/4012345D3"] == {seqs[2]}  # re-sent, same number
