"""Simulated readers for the demo: each speaks protocol v1 over its own MQTT connection
(retained status, ``offline`` last will, QoS 1 scans, acks on its ack topic) and keeps
its sequence number in a file so that a second run goes on where the first stopped."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from reemploi.protocol import wire

from ..ingest.mqtt import BrokerAddress, make_client

log = logging.getLogger("reemploi.demo")


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
