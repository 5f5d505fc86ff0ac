"""The MQTT adapter of ingest: paho-mqtt 2.x subscriber, group commit, acks after commit.

Messages are acknowledged to the broker (``manual_ack``) only once their batch is
committed, on a persistent session: a crash between receipt and commit makes the broker
deliver them again, and the idempotency keys make that harmless.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
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
from .writer import TEND_EVERY_S, BatchWriter, LocalWriter, WriteFailed

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
    """Runs the subscriber in one ingest thread that hands whatever is queued to the
    batch writer (:mod:`.writer`: in this process, in a writer process, or by batch
    size), then publishes the acks and acknowledges the deliveries of each committed
    batch."""

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
        self.queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.last_error: str | None = None
        self.batches = 0
        self.received = 0
        self.processed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._reconnect_at = 0.0
        self._tend_at = 0.0
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
        self.received += 1  # only the ingest thread writes it
        self.queue.put((msg.topic, bytes(msg.payload), datetime.now(UTC), msg.mid, msg.qos))

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # never silently: the health endpoint shows it
            log.exception("ingest loop stopped")
            self.last_error = "boucle d'ingestion arrêtée (voir le journal)"
            raise
        finally:
            with contextlib.suppress(Exception):
                self.client.disconnect()
            self.writer.stop()

    def _loop(self) -> None:
        """One thread does everything: broker I/O, batches, acks. Received messages
        queue while a batch is written; as soon as it is committed, the next batch (all
        that queued meanwhile) goes to the writer, then the acks of the first are
        published — so a writer process works while this thread talks to the broker.
        A synchronous writer (:class:`LocalWriter`) writes right here. A batch that
        fails is kept and submitted again a second later (database down: never
        dropped), while the broker connection is kept alive."""
        held: list[_Queued] = []  # handed to the writer (or to hand again), not yet acked
        submitted = False
        retry_at = 0.0
        while True:
            stopping = self._stop.is_set()
            if not held:
                held = self._gather()
                if not held and stopping:
                    return
                if not held and not submitted:
                    self._tend()
            if held and not submitted and time.monotonic() >= retry_at:
                submitted = self._submit(held)
                if not submitted:
                    if stopping:
                        return  # not acked: the broker delivers it again
                    retry_at = time.monotonic() + 1.0
            if submitted and self.writer.pending_fileno() is None:  # synchronous writer
                result = self._collect()
                submitted = False
                if result is None:
                    retry_at = time.monotonic() + 1.0
                else:
                    self._publish(held, result)
                    held = []
            waiting = self.writer.pending_fileno() if submitted else None
            ready = self._io(waiting, self._timeout(held, submitted, retry_at), not stopping)
            if waiting is None or not (ready or self.writer.overdue()):
                continue
            result = self._collect()
            submitted = False
            if result is None:
                retry_at = time.monotonic() + 1.0
                continue
            # the next batch first: a writer process works on it while these acks go out
            # (a synchronous writer writes it at the top of the loop)
            following = self._gather()
            submitted = bool(following) and self._submit(following)
            if following and not submitted:
                retry_at = time.monotonic() + 1.0
            self._publish(held, result)
            held = following

    def _tend(self) -> None:
        """Idle: the writer keeps up with the database's notices, once a second."""
        now = time.monotonic()
        if now >= self._tend_at:
            self._tend_at = now + TEND_EVERY_S
            self.writer.tend()

    def _timeout(self, held: list[_Queued], submitted: bool, retry_at: float) -> float:
        if self.client.buffered() or (not held and not self.queue.empty()):
            return 0.0
        if held and not submitted:
            return max(0.0, min(1.0, retry_at - time.monotonic()))
        return 1.0

    def _io(self, writer_fd: int | None, timeout: float, read: bool) -> bool:
        """Waits for the broker socket or the writer (up to ``timeout``), then does the
        broker's reads, writes and keep-alive; True when the writer's result is ready.
        Not connected: connects again, at most once a second."""
        client = self.client
        sock = client.socket()
        if sock is None:
            now = time.monotonic()
            if now >= self._reconnect_at:
                self._reconnect_at = now + 1.0
                try:
                    client.reconnect()
                except (OSError, ValueError) as exc:
                    if not self._stop.is_set():
                        self.last_error = f"broker injoignable : {exc!r}"[:300]
                    log.debug("reconnect failed: %r", exc)
                else:
                    return False
            wait = min(timeout, max(0.0, self._reconnect_at - time.monotonic()))
            if writer_fd is not None:
                ready, _, _ = select.select([writer_fd], [], [], wait)
                return bool(ready)
            time.sleep(wait)
            return False
        rlist: list[Any] = [sock] if read else []
        if writer_fd is not None:
            rlist.append(writer_fd)
        wlist = [sock] if client.want_write() else []
        pending = read and (client.buffered() > 0 or _ssl_pending(sock))
        readable, writable, _ = select.select(rlist, wlist, [], 0.0 if pending else timeout)
        if pending or sock in readable:
            client.loop_read()
        if sock in writable and client.socket() is not None:
            client.loop_write()
        if client.socket() is not None:
            client.loop_misc()
        return writer_fd is not None and writer_fd in readable

    def _gather(self) -> list[_Queued]:
        """Up to ``batch_max`` queued messages."""
        items: list[_Queued] = []
        while len(items) < self.batch_max:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _submit(self, items: list[_Queued]) -> bool:
        """Hands ``items`` to the writer; False when it could not (kept for a retry)."""
        try:
            self.writer.submit([item[:3] for item in items])
            return True
        except WriteFailed as exc:
            self._fail(str(exc))
            return False

    def _collect(self) -> BatchResult | None:
        """The committed result of the batch handed over; None when it failed (nothing
        of it was kept: it is submitted again)."""
        try:
            return self.writer.collect()
        except WriteFailed as exc:
            self._fail(str(exc))
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
        """Start once: the batch writer, then the ingest loop (idempotent)."""
        if self.started:
            return
        try:
            self.writer.start()  # a writer process is ready before the first message
        except WriteFailed as exc:  # submit() starts it again
            self._fail(str(exc))
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._thread.start()
        if wait_s and not self.connected.wait(wait_s):
            log.warning("broker not reachable yet; ingest keeps retrying")

    def stop(self) -> None:
        """Stops reading the broker, commits and acks what was received, disconnects."""
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and the demo: until every message received so far is committed and
        acked."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processed >= self.received:
                return True
            time.sleep(0.01)
        return False


def _ssl_pending(sock: Any) -> bool:
    """Decrypted bytes a TLS socket holds that ``select`` cannot see."""
    pending = getattr(sock, "pending", None)
    return bool(pending is not None and pending() > 0)
