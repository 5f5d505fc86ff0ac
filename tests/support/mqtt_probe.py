"""A small synchronous paho-mqtt 2.x client for tests: connect, subscribe, publish, wait."""

from __future__ import annotations

import queue
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttProbe:
    """``with MqttProbe(host, port, client_id="t1") as probe:`` → connected, loop running.

    ``connect_reason`` is the CONNACK reason code; ``publish()`` returns the PUBACK
    reason code (meaningful under MQTT 5 only: 3.1.1 brokers drop forbidden publishes).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
        tls_ca: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connect_reason: ReasonCode | None = None
        self._connected = threading.Event()
        self._acks: dict[int, ReasonCode] = {}
        self._ack_events: dict[int, threading.Event] = {}
        self._lock = threading.RLock()  # paho may call on_publish inside publish()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_socket_open = self._on_socket_open

    def connect(self) -> ReasonCode:
        self._connected.clear()
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(WAIT_SECONDS):
            raise TimeoutError(f"no CONNACK from {self.host}:{self.port}")
        assert self.connect_reason is not None
        return self.connect_reason

    def subscribe(self, topic: str, qos: int = 1) -> ReasonCode:
        event = threading.Event()
        with self._lock:
            result, mid = self.client.subscribe(topic, qos)
            if mid is None:
                raise ConnectionError(f"paho refused to subscribe: {mqtt.error_string(result)}")
            self._register(mid, event)
        return self._wait_ack(result, mid, event, "SUBACK")

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> ReasonCode:
        event = threading.Event()
        with self._lock:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            self._register(info.mid, event)
        return self._wait_ack(info.rc, info.mid, event, "PUBACK")

    def next_message(self, timeout: float = WAIT_SECONDS) -> Received:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _wait_ack(self, result: int, mid: int, event: threading.Event, what: str) -> ReasonCode:
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"paho refused to send: {mqtt.error_string(result)}")
        if not event.wait(WAIT_SECONDS):
            raise TimeoutError(f"no {what} for mid {mid}")
        with self._lock:
            return self._acks.pop(mid)

    def _register(self, mid: int, event: threading.Event) -> None:
        if mid in self._acks:  # already acknowledged (QoS 0 is, inside publish())
            event.set()
        else:
            self._ack_events[mid] = event

    def _ack(self, mid: int, reason: ReasonCode) -> None:
        with self._lock:
            self._acks[mid] = reason
            event = self._ack_events.pop(mid, None)
        if event is not None:
            event.set()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connect_reason = reason
        self._connected.set()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(
            Received(message.topic, bytes(message.payload), message.qos, bool(message.retain))
        )

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._ack(mid, reason)

    def _on_subscribe(
        self, client: Any, userdata: Any, mid: int, reasons: list[ReasonCode], props: Any
    ) -> None:
        self._ack(mid, reasons[0])

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
