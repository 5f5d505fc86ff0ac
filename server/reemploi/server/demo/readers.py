"""Readers for the demo and the tests.

``FirmwareReader`` — what the demo runs for every device: the reader firmware itself
(``reader.app.Reader`` from ``firmware/lib``, the code that runs on the ESP32) on the
firmware's simulated hardware (``reader.sim``: a register-level MFRC522 with NTAG213
tags holding the label's Digital Link), inside the demo's asyncio loop. Each device keeps
its sequence number, offline queue and settings in its own folder, so a second run goes
on where the first stopped.

``SimulatedReader`` / ``SequenceStore`` — a small paho-based imitation speaking protocol
v1 from threads, kept for the broker-restart ingest test only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from reemploi.protocol import wire

from ..ingest.mqtt import BrokerAddress, make_client

log = logging.getLogger("reemploi.demo")

# The firmware is not an installed package: its code lives in firmware/lib of the
# repository and goes onto the board as files. This is the one place that puts it on
# sys.path for the demo.
FIRMWARE_LIB = Path(__file__).resolve().parents[4] / "firmware" / "lib"


def firmware_simulator() -> Any:
    """Import and return the firmware's ``reader.sim`` (from ``FIRMWARE_LIB``)."""
    if not (FIRMWARE_LIB / "reader" / "sim" / "__init__.py").exists():
        raise RuntimeError(
            f"micrologiciel introuvable ({FIRMWARE_LIB}) : lancer la démo depuis le dépôt"
        )
    if str(FIRMWARE_LIB) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_LIB))
    import reader.sim

    return reader.sim


def _seed_sequence(folder: Path, device: str, old_store: Path) -> None:
    """Data from a demo run before the firmware readers: carry the device's next sequence
    number over from ``readers.json`` (the platform refuses a number used twice)."""
    seq_file = folder / "seq.txt"
    if seq_file.exists() or not old_store.exists():
        return
    with contextlib.suppress(ValueError, OSError):
        value = json.loads(old_store.read_text()).get(device)
        if isinstance(value, int) and value > 0:
            seq_file.write_text(str(value))


class FirmwareReader:
    """One demo device: the firmware's reader on simulated hardware. ``tap(uri)`` queues
    a tag; a worker presents each to the antenna in turn, waits for the reader's feedback
    (accept / refuse / unknown / queued) and hands it to ``on_result``."""

    def __init__(
        self,
        device: str,
        site: str,
        address: BrokerAddress,
        data_dir: Path,
        on_result: Callable[[str, str, str | None], None] | None = None,
    ) -> None:
        sim = firmware_simulator()
        self.device = device
        self.folder = data_dir / "readers" / device
        self.folder.mkdir(parents=True, exist_ok=True)
        _seed_sequence(self.folder, device, data_dir / "readers.json")
        broker: dict[str, Any] = {
            "host": address.host,
            "port": address.port,
            "tls": address.tls,
            "keepalive_s": 30,
        }
        if address.username:
            broker["user"] = address.username
            broker["password"] = address.password
        if address.tls and address.ca_file:
            broker["cafile"] = address.ca_file
        config = {
            "site": site,
            "device": device,
            "broker": broker,
            "nfc": {"poll_ms": 100},
            "ack_timeout_ms": 2000,
        }
        self.sim = sim.SimulatedReader(config, str(self.folder))
        self.on_result = on_result
        self.pending: set[str] = set()
        self._taps: asyncio.Queue[str] = asyncio.Queue(maxsize=4)
        self._count = 0
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.sim.start()
        self._worker = asyncio.create_task(self._run())

    async def tap(self, uri: str) -> None:
        """Queue one tap (waits while four are already waiting: the staff is busy)."""
        self.pending.add(uri)
        await self._taps.put(uri)

    async def _run(self) -> None:
        while True:
            uri = await self._taps.get()
            self._count += 1
            try:
                pattern = await self.sim.tap(uri, self._count)
            finally:
                self.pending.discard(uri)
            if self.on_result is not None:
                self.on_result(self.device, uri, pattern)

    async def stop(self) -> None:
        """Say ``offline`` (a clean stop, not a crash: no will), disconnect, end tasks."""
        if self._worker is not None:
            self._worker.cancel()
        reader = self.sim.reader
        link = reader.mqtt
        if link is not None and link.connected:
            offline = wire.offline_status(self.device)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(link.publish(reader.t_status, offline, 1, True), 2)
        await self.sim.stop()


class SequenceStore:
    """Per-device sequence numbers persisted in one JSON file (write-then-rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}
        if path.exists():
            self._values = {k: int(v) for k, v in json.loads(path.read_text()).items()}

    def next(self, device: str) -> int:
        with self._lock:
            value = self._values.get(device, 0)
            self._values[device] = value + 1
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._values, sort_keys=True))
            tmp.replace(self.path)
            return value


class SimulatedReader:
    def __init__(
        self,
        device: str,
        site: str,
        address: BrokerAddress,
        sequences: SequenceStore,
        on_ack: Callable[[str, wire.Ack], None] | None = None,
    ) -> None:
        self.device = device
        self.site = site
        self.sequences = sequences
        self.on_ack = on_ack
        self.pending: dict[int, float] = {}
        self.acked = 0
        self._lock = threading.Lock()
        self.client = make_client(address, device, clean_session=False)
        self.client.will_set(
            wire.topic(site, device, "status"), wire.offline_status(device), qos=1, retain=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.started = time.monotonic()
        self.address = address

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe(wire.topic(self.site, self.device, "ack"), qos=1)
        client.subscribe(wire.topic(self.site, self.device, "cmd"), qos=1)
        status = wire.Status(
            self.device,
            wire.STATE_ONLINE,
            "sim-1.0",
            int(time.monotonic() - self.started),
            120_000,
            len(self.pending),
            0,
            -60,
            "power_on",
            int(time.time() * 1000),
        )
        client.publish(
            wire.topic(self.site, self.device, "status"), wire.encode_status(status), 1, True
        )

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if not msg.topic.endswith("/ack"):
            return
        try:
            ack = wire.decode_ack(msg.payload)
        except wire.MalformedMessage:
            log.warning("%s: ack illisible", self.device)
            return
        with self._lock:
            self.pending.pop(ack.seq, None)
            self.acked += 1
        if self.on_ack is not None:
            self.on_ack(self.device, ack)

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        # A clean stop: publish "offline" ourselves (the will is only for crashes).
        self.client.publish(
            wire.topic(self.site, self.device, "status"), wire.offline_status(self.device), 1, True
        ).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    def tap(self, kind: str, data: str, rssi: int | None = None) -> wire.Scan:
        seq = self.sequences.next(self.device)
        scan = wire.Scan(self.device, seq, kind, data, rssi, int(time.time() * 1000))
        with self._lock:
            self.pending[seq] = time.monotonic()
        self.client.publish(wire.topic(self.site, self.device, "scan"), wire.encode_scan(scan), 1)
        return scan
