"""A lean MQTT 3.1.1 client for the bench's simulated readers: just what a reader does.

A reader connects (clean session), subscribes to its ack topic at QoS 1, publishes its
scans at QoS 1 and reads the acks the broker forwards, each acknowledged by a PUBACK.
paho does all that and much more, in Python, for every packet: on the measured machine
the ten simulated readers cost ≈ 280–360 µs of CPU per scan in the paced phases (bench
JSON ``cpu_us_per_scan.readers``, sixteenth session) — as much as the system under
test, on the same two cores. Here a scan is one ``send`` of bytes built beforehand, and
everything one ``recv`` brings is parsed in one pass, its PUBACKs written back in one
``send``.

The packets are built and decoded by the reader firmware's own MQTT 3.1.1 codec
(``firmware/lib/reader/mqtt_packet.py``, which runs under CPython too): what is here is
the socket's side — splitting a stream into packets, the non-blocking writes, the
keep-alive. Plain TCP only (the bench's broker listens on 127.0.0.1), with TCP_NODELAY
as every client of the bench.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_FIRMWARE_LIB = str(Path(__file__).resolve().parent.parent / "firmware" / "lib")
if _FIRMWARE_LIB not in sys.path:
    sys.path.insert(0, _FIRMWARE_LIB)

from reader import mqtt_packet as packets  # noqa: E402  (the readers' own codec, portable)
from reader.mqtt_packet import MqttProtocolError  # noqa: E402


class MqttError(RuntimeError):
    """The broker refused the reader, or closed the connection."""


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH, built by the firmware's codec."""
    return bytes(packets.publish(topic, payload, qos=1, packet_id=packet_id))


class Frames:
    """Splits a byte stream into MQTT packets: :meth:`feed` takes what ``recv`` returned
    and returns every packet complete so far as (first byte, body); a packet cut between
    two reads waits for the rest. Lengths are read by the firmware's
    ``decode_remaining_length`` (at most four bytes, at most its ``MAX_PACKET``:
    :class:`MqttProtocolError` otherwise)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        buffer = self._buffer + data if self._buffer else data
        out: list[tuple[int, bytes]] = []
        at, end = 0, len(buffer)
        cursor = 0

        def next_byte() -> int:
            nonlocal cursor
            byte = buffer[cursor]  # IndexError: the length itself is not all here
            cursor += 1
            return byte

        while end - at >= 2:
            cursor = at + 1
            try:
                length = packets.decode_remaining_length(next_byte)
            except IndexError:
                break
            if end - cursor < length:
                break
            out.append((buffer[at], buffer[cursor : cursor + length]))
            at = cursor + length
        self._buffer = buffer[at:]
        return out


class LeanClient:
    """One reader's connection: :meth:`open` (CONNECT, SUBSCRIBE, both answered), then
    :meth:`publish` and :meth:`read` on a non-blocking socket; ``on_message(payload)`` is
    called for each message the broker forwards (QoS 1: acknowledged in the same pass)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        on_message: Callable[[bytes], None],
        keepalive_s: int = 60,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.client_id = client_id
        self.on_message = on_message
        self.keepalive_s = keepalive_s
        self.username, self.password = username, password
        self.sock: socket.socket | None = None
        self.pending = b""  # written later: the socket's buffer was full
        self.unacked = 0  # our PUBLISHes the broker has not acknowledged yet
        self._frames = Frames()
        self._next_id = 0
        self._ping_at = 0.0

    def fileno(self) -> int:
        if self.sock is None:
            raise MqttError("lecteur non connecté")
        return self.sock.fileno()

    def open(self, topic: str, timeout_s: float = 10.0) -> None:
        """Connect and subscribe to ``topic`` at QoS 1, waiting for both answers."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        sock.sendall(
            packets.connect(self.client_id, self.keepalive_s, self.username, self.password)
        )
        answer = self._answer()
        if answer[0] != packets.CONNACK or answer[2] != 0:
            refused = answer[0] == packets.CONNACK
            reason = packets.CONNACK_TEXT.get(answer[2], answer[2]) if refused else answer
            raise MqttError(f"connexion refusée par le broker ({reason})")
        sock.sendall(packets.subscribe(1, [(topic, 1)]))
        answer = self._answer()
        if answer[0] != packets.SUBACK or answer[2] != [1]:
            raise MqttError(f"abonnement refusé : {topic} ({answer})")
        sock.setblocking(False)
        self._ping_at = time.monotonic() + self.keepalive_s / 2

    def _answer(self) -> tuple[Any, ...]:
        """The broker's one answer to what was just sent, decoded."""
        assert self.sock is not None
        while True:
            data = self.sock.recv(4096)
            if not data:
                raise MqttError("connexion fermée par le broker")
            frames = self._frames.feed(data)
            if frames:
                if len(frames) > 1:
                    raise MqttError("réponses inattendues du broker")
                return tuple(packets.parse(*frames[0]))

    def packet_id(self) -> int:
        """The next packet id (1–65535, then again from 1)."""
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def publish(self, data: bytes) -> None:
        """Write a PUBLISH built by :func:`publish_packet` now (what the socket cannot take
        at once is kept for :meth:`flush`)."""
        self.unacked += 1
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self.pending:
            self.pending += data
            return
        assert self.sock is not None
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise MqttError(f"connexion au broker perdue : {exc}") from exc
        if sent < len(data):
            self.pending = data[sent:]

    def flush(self) -> None:
        """Write what :meth:`publish` kept (the socket is writable again)."""
        if not self.pending:
            return
        data, self.pending = self.pending, b""
        self._write(data)

    def read(self) -> None:
        """Everything the socket holds: messages handed to ``on_message``, acknowledged."""
        assert self.sock is not None
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            raise MqttError(f"connexion au broker perdue : {exc}") from exc
        if not data:
            raise MqttError("connexion fermée par le broker")
        acks = b""
        for first, body in self._frames.feed(data):
            packet = packets.parse(first, body)
            kind = packet[0]
            if kind == packets.PUBLISH:
                if packet[3]:  # QoS 1: acknowledged in this pass
                    acks += packets.puback(packet[4])
                self.on_message(packet[2])
            elif kind == packets.PUBACK:
                self.unacked -= 1
            elif kind != packets.PINGRESP:
                raise MqttProtocolError(f"paquet inattendu du broker : type {kind}")
        if acks:
            self._write(acks)

    def keepalive(self, now: float) -> None:
        """A PINGREQ once half the keep-alive has passed (the broker drops a silent client
        after 1.5 times it)."""
        if now >= self._ping_at:
            self._ping_at = now + self.keepalive_s / 2
            self._write(packets.pingreq())

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1.0)
            if self.pending:
                self.sock.sendall(self.pending)
            self.sock.sendall(packets.disconnect())
        except OSError:
            pass
        finally:
            self.sock.close()
            self.sock = None
