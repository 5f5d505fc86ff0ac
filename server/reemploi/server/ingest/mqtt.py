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
from sqlalchemy import Connection

from ..db.checkpoint import Checkpointer, is_sqlite
from .mqtt_io import BufferedClient
from .pipeline import BatchResult, Incoming, IngestPipeline

log = logging.getLogger("reemploi.ingest")

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
    """Runs the subscriber and one writer thread that commits whatever is queued."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        address: BrokerAddress,
        client_id: str = "reemploi-server",
        batch_max: int = 2000,
        on_batch: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.address = address
        self.batch_max = batch_max
        self.on_batch = on_batch
        # SimpleQueue: the C queue (no Condition, no task accounting), cheaper per message
        self.queue: queue.SimpleQueue[tuple[Incoming, int, int] | None] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.batches = 0
        self.processed = 0
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._conn: Connection | None = None
        engine = pipeline.engine
        self.checkpointer = Checkpointer(engine) if is_sqlite(engine) else None
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
        incoming = Incoming(msg.topic, bytes(msg.payload), datetime.now(UTC))
        self.queue.put((incoming, msg.mid, msg.qos))

    # ------------------------------------------------------------------ writer

    def _write_loop(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.start()
        try:
            self._drain()
        finally:
            self._drop_connection()
            if self.checkpointer is not None:
                self.checkpointer.stop()

    def _drain(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.batch_max:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._commit(items)
                    return
                items.append(nxt)
            self._commit(items)

    def _connection(self) -> Connection:
        """The writer's own connection, kept between batches (no pool round trip per
        batch); dropped and opened again after a failed batch."""
        if self._conn is None:
            self._conn = self.pipeline.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None

    def _commit(self, items: list[tuple[Incoming, int, int]]) -> None:
        while True:
            try:
                result = self.pipeline.process([item[0] for item in items], self._connection())
                break
            except Exception as exc:  # database down: keep the batch, retry, never drop
                self.last_error = f"écriture du registre impossible : {exc!r}"[:300]
                log.exception("ingest batch failed; retrying")
                self._drop_connection()
                if self._stop.wait(1.0):
                    return
        with self.client.held_wakeups():
            for ack in result.acks:
                self.client.publish(ack.topic, ack.payload, qos=1)
            for _incoming, mid, qos in items:
                if qos > 0:
                    self.client.ack(mid, qos)
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
        return self._writer.is_alive()

    def start(self, wait_s: float = 10.0) -> None:
        """Start once: the writer thread, then the MQTT loop (idempotent)."""
        if self.started:
            return
        self._writer.start()
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        if wait_s and not self.connected.wait(wait_s):
            log.warning("broker not reachable yet; ingest keeps retrying")

    def stop(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self._writer.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and the demo: until the queue is empty (best effort)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.empty():
                return True
            time.sleep(0.01)
        return False
