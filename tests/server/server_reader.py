"""A reader as the tests see it: a paho client that publishes protocol v1 scans and
collects the acks addressed to it."""

from __future__ import annotations

import queue
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from reemploi.protocol import wire

_n = iter(range(1, 10**6))


class TestReader:
    __test__ = False

    def __init__(self, host: str, port: int, site: str, device: str) -> None:
        self.site, self.device = site, device
        self.acks: queue.Queue[wire.Ack] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{device}-t{next(_n)}", protocol=mqtt.MQTTv311
        )
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        result, _mid = self.client.subscribe(wire.topic(site, device, "ack"), qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        time.sleep(0.2)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.acks.put(wire.decode_ack(msg.payload))

    def publish_raw(self, payload: bytes, kind: str = "scan", device: str | None = None) -> None:
        topic = wire.topic(self.site, device or self.device, kind)
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def tap(self, seq: int, kind: str, data: str, clock: int | None = None) -> wire.Scan:
        scan = wire.Scan(self.device, seq, kind, data, None, clock)
        self.publish_raw(wire.encode_scan(scan))
        return scan

    def next_ack(self, timeout: float = 10.0) -> wire.Ack:
        return self.acks.get(timeout=timeout)

    def no_ack(self, wait: float = 1.0) -> bool:
        try:
            self.acks.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
