"""A lean MQTT 3.1.1 client for the bench's simulated readers: just what a reader does.

A reader connects (clean session), subscribes to its ack topic at QoS 1, publishes its
scans at QoS 1 and reads the acks the broker forwards, each acknowledged by a PUBACK.
paho does all that and much more, in Python, for every packet: on the measured machine
the ten simulated readers cost ≈ 280–360 µs of CPU per scan in the paced phases (bench
JSON ``cpu_us_per_scan.readers``, sixteenth session) — as much as the system under
test, on the same two cores. Here a scan is one ``send`` of bytes built beforehand, and
everything one ``recv`` brings is parsed in one pass, its PUBACKs written back in one
``send``.

The codec follows the MQTT 3.1.1 standard (OASIS, 2014): fixed header, remaining length
in 7-bit groups, CONNECT (protocol level 4), SUBSCRIBE, PUBLISH, PUBACK, PINGREQ,
DISCONNECT. Plain TCP only (the bench's broker listens on 127.0.0.1), with TCP_NODELAY
as every client of the bench.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
MAX_PACKET = 1 << 20  # a reader receives acks of a few hundred bytes: anything larger is wrong


class MqttError(RuntimeError):
    """The broker refused the reader, closed the connection, or sent what a reader never
    expects."""


def remaining_length(n: int) -> bytes:
    """``n`` as MQTT's variable-length integer (7 bits per byte, low group first)."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"longueur hors limites : {n}")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(raw)) + raw


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + remaining_length(len(body)) + body


def connect_packet(
    client_id: str, keepalive_s: int, username: str | None = None, password: str | None = None
) -> bytes:
    flags = 0x02  # clean session
    payload = _text(client_id)
    if username is not None:
        flags |= 0x80
        payload += _text(username)
        if password is not None:
            flags |= 0x40
            payload += _text(password)
    return packet(
        CONNECT, 0, _text("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + payload
    )


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    return packet(SUBSCRIBE, 0x02, struct.pack("!H", packet_id) + _text(topic) + bytes([qos]))


def publish_packet(topic: bytes, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH (``topic`` already encoded as UTF-8)."""
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", packet_id) + payload
    return b"\x32" + remaining_length(len(body)) + body


def puback_packet(packet_id: int) -> bytes:
    return b"\x40\x02" + struct.pack("!H", packet_id)


class Frames:
    """Splits a byte stream into MQTT packets: :meth:`feed` takes what ``recv`` returned
    and yields every packet complete so far as (type, flags, body); a packet cut between
    two reads waits for the rest."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buffer = self._buffer + data if self._buffer else data
        out: list[tuple[int, int, bytes]] = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            length, shift, i = 0, 0, at + 1
            while True:
                if i >= end:
                    self._buffer = buffer[at:]
                    return out
                digit = buffer[i]
                length |= (digit & 0x7F) << shift
                i += 1
                if not digit & 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise MqttError("longueur restante mal formée")
            if length > MAX_PACKET:
                raise MqttError(f"paquet de {length} octets : trop grand pour un lecteur")
            if end - i < length:
                break
            first = buffer[at]
            out.append((first >> 4, first & 0x0F, buffer[i : i + length]))
            at = i + length
        self._buffer = buffer[at:]
        return out


def parse_publish(flags: int, body: bytes) -> tuple[str, int | None, bytes]:
    """A PUBLISH's topic, packet id (None at QoS 0) and payload."""
    (size,) = struct.unpack_from("!H", body)
    topic = body[2 : 2 + size].decode()
    at = 2 + size
    qos = (flags >> 1) & 0x03
    if qos == 0:
        return topic, None, body[at:]
    (packet_id,) = struct.unpack_from("!H", body, at)
    return topic, packet_id, body[at + 2 :]


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
        sock.sendall(connect_packet(self.client_id, self.keepalive_s, self.username, self.password))
        kind, _flags, body = self._answer()
        if kind != CONNACK or len(body) != 2 or body[1] != 0:
            raise MqttError(f"connexion refusée par le broker (type {kind}, {body!r})")
        sock.sendall(subscribe_packet(1, topic, 1))
        kind, _flags, body = self._answer()
        if kind != SUBACK or body[2:] != b"\x01":
            raise MqttError(f"abonnement refusé : {topic} (type {kind}, {body!r})")
        sock.setblocking(False)
        self._ping_at = time.monotonic() + self.keepalive_s / 2

    def _answer(self) -> tuple[int, int, bytes]:
        assert self.sock is not None
        while True:
            data = self.sock.recv(4096)
            if not data:
                raise MqttError("connexion fermée par le broker")
            frames = self._frames.feed(data)
            if frames:
                if len(frames) > 1:
                    raise MqttError("réponses inattendues du broker")
                return frames[0]

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
        for kind, flags, body in self._frames.feed(data):
            if kind == PUBLISH:
                _topic, packet_id, payload = parse_publish(flags, body)
                if packet_id is not None:
                    acks += puback_packet(packet_id)
                self.on_message(payload)
            elif kind == PUBACK:
                self.unacked -= 1
            elif kind != PINGRESP:
                raise MqttError(f"paquet inattendu du broker : type {kind}")
        if acks:
            self._write(acks)

    def keepalive(self, now: float) -> None:
        """A PINGREQ once half the keep-alive has passed (the broker drops a silent client
        after 1.5 times it)."""
        if now >= self._ping_at:
            self._ping_at = now + self.keepalive_s / 2
            self._write(bytes([PINGREQ << 4, 0]))

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1.0)
            if self.pending:
                self.sock.sendall(self.pending)
            self.sock.sendall(bytes([DISCONNECT << 4, 0]))
        except OSError:
            pass
        finally:
            self.sock.close()
            self.sock = None
