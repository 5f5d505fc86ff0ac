"""The MQTT adapter of ingest: paho-mqtt 2.x subscriber, group commit, acks after commit.

Messages are acknowledged to the broker (``manual_ack``) only once their batch is
committed, on a persistent session: a crash between receipt and commit makes the broker
deliver them again, and the idempotency keys make that harmless.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, overload
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .mqtt_io import BufferedClient
from .pipeline import BatchResult, IngestPipeline
from .writer import BatchWriter, LocalWriter, WriteFailed

log = logging.getLogger("reemploi.ingest")

# One queued message: topic, payload, time of receipt (what the writer needs), then the
# MQTT packet id and QoS (to acknowledge the delivery once the batch is committed).
_Queued = tuple[str, bytes, datetime, int, int]

SUBSCRIPTIONS = (
    "reemploi/v1/+/+/scan",
    "reemploi/v1/+/+/status",
    "reemploi/v1/+/+/report",
    "reemploi/v1/+/+/lot",
    "reemploi/v1/+/+/evidence",
)


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
    ) -> BrokerAddress:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"URL MQTT invalide (mqtt:// ou mqtts://) : {url}")
        tls = parsed.scheme == "mqtts"
        return cls(
            parsed.hostname or "127.0.0.1",
            parsed.port or (8883 if tls else 1883),
            tls,
            username or parsed.username,
            password or parsed.password,
            ca_file,
        )


def nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    """paho ``on_socket_open``: no Nagle delay on acks."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


_C = TypeVar("_C", bound=mqtt.Client)


@overload
def make_client(address: BrokerAddress, client_id: str, **kwargs: Any) -> mqtt.Client: ...


@overload
def make_client(address: BrokerAddress, client_id: str, factory: type[_C], **kwargs: Any) -> _C: ...


def make_client(
    address: BrokerAddress, client_id: str, factory: type[Any] = mqtt.Client, **kwargs: Any
) -> Any:
    """A paho client (of class ``factory``) set up as every Réemploi program needs it; the
    ingest passes :class:`BufferedClient` (mqtt_io.py) for its heavy traffic."""
    client = factory(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        **kwargs,
    )
    client.on_socket_open = nodelay
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(ca_certs=address.ca_file, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    # 0 = no client-side cap: paho rescans every unacknowledged message on each PUBACK
    # while under its cap (O(n) per ack, quadratic over a burst of acks); the broker's
    # own limits apply instead.
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    return client


class IngestService:
    """Runs the subscriber and one writer thread that hands whatever is queued to the
    batch writer (:mod:`.writer`: in this process, or in a writer process), then
    publishes the acks and acknowledges the deliveries of each committed batch."""

    def __init__(
        self,
        writer: IngestPipeline | BatchWriter,
        address: BrokerAddress,
        client_id: str = "reemploi-server",
        batch_max: int = 2000,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.writer: BatchWriter = (
            LocalWriter(writer) if isinstance(writer, IngestPipeline) else writer
        )
        self.address = address
        self.batch_max = batch_max
        self.on_batch = on_batch
        # SimpleQueue: the C queue (no Condition, no task accounting), cheaper per message
        self.queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.batches = 0
        self.received = 0
        self.processed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.client = make_client(
            address, client_id, BufferedClient, clean_session=False, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.last_error = f"connexion au broker refusée : {reason}"
            log.error(self.last_error)
            return
        for topic in SUBSCRIPTIONS:
            client.subscribe(topic, qos=1)
        self.last_error = None
        self.connected.set()
        log.info("ingest connected to %s:%s", self.address.host, self.address.port)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self.last_error = f"broker déconnecté : {reason}"
            log.warning(self.last_error)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.received += 1  # only this (the MQTT) thread writes it
        self.queue.put((msg.topic, bytes(msg.payload), datetime.now(UTC), msg.mid, msg.qos))

    # ------------------------------------------------------------------ writer

    def _write_loop(self) -> None:
        try:
            self._drain()
        finally:
            self.writer.stop()

    def _gather(self, block: bool) -> tuple[list[_Queued], bool]:
        """Up to ``batch_max`` queued messages, and whether the stop mark was met."""
        items: list[_Queued] = []
        if block:
            first = self.queue.get()
            if first is None:
                return items, True
            items.append(first)
        while len(items) < self.batch_max:
            try:
                nxt = self.queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return items, True
            items.append(nxt)
        return items, False

    def _drain(self) -> None:
        """One batch in flight: as soon as it is committed, the next one (whatever queued
        meanwhile) goes to the writer, and only then are the acks of the first published,
        so that a writer process works while this thread talks to the broker."""
        inflight: list[_Queued] = []
        stopping = False
        while True:
            if not inflight:
                if stopping:
                    return
                inflight, stopping = self._gather(block=True)
                if not inflight or not self._submit(inflight):
                    return
            result = self._collect(inflight)
            if result is None:
                return
            following: list[_Queued] = []
            if not stopping:
                following, stopping = self._gather(block=False)
                if following and not self._submit(following):
                    following = []
            self._publish(inflight, result)
            inflight = following

    def _submit(self, items: list[_Queued]) -> bool:
        """Hands ``items`` to the writer; False only when stopping before it could."""
        batch = [item[:3] for item in items]
        while True:
            try:
                self.writer.submit(batch)
                return True
            except WriteFailed as exc:
                self._fail(str(exc))
                if self._stop.wait(1.0):
                    return False

    def _collect(self, items: list[_Queued]) -> BatchResult | None:
        """The committed result of ``items``: a failed batch is kept and submitted again
        (database down: retry every second, never drop); None when stopping first."""
        while True:
            try:
                return self.writer.collect()
            except WriteFailed as exc:
                self._fail(str(exc))
                if self._stop.wait(1.0) or not self._submit(items):
                    return None

    def _fail(self, message: str) -> None:
        self.last_error = message
        log.error("ingest batch failed, kept for retry: %s", message)

    def _publish(self, items: list[_Queued], result: BatchResult) -> None:
        with self.client.held_wakeups():
            for ack in result.acks:
                self.client.publish(ack.topic, ack.payload, qos=1)
            for item in items:
                if item[4] > 0:
                    self.client.ack(item[3], item[4])
        self.batches += 1
        self.processed += len(items)
        if self.on_batch is not None:
            try:
                self.on_batch(result)
            except Exception:
                log.exception("on_batch callback failed")

    # ------------------------------------------------------------------ life cycle

    @property
    def started(self) -> bool:
        return self._thread.is_alive()

    def start(self, wait_s: float = 10.0) -> None:
        """Start once: the batch writer, the writer thread, then the MQTT loop
        (idempotent)."""
        if self.started:
            return
        try:
            self.writer.start()  # a writer process is ready before the first message
        except WriteFailed as exc:  # submit() starts it again
            self._fail(str(exc))
        self._thread.start()
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        if wait_s and not self.connected.wait(wait_s):
            log.warning("broker not reachable yet; ingest keeps retrying")

    def stop(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self._thread.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and the demo: until every message received so far is committed and
        acked."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processed >= self.received:
                return True
            time.sleep(0.01)
        return False
