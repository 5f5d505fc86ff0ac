"""A paho client that reads and writes its socket in large chunks.

paho-mqtt 2.x reads each incoming packet with several system calls: one byte for the
packet type, one per byte of the remaining length, then the body. For the ingest, two
packets arrive per scan (the scan, and the broker's PUBACK of its ack): about seven
``recv`` calls per scan, measured with ``strace -c`` under ``bench/ingest.py``. On the way
out, each packet is one ``send``, and each packet queued from another thread also writes
a byte to wake paho's network thread: four more calls per scan (an ack and a PUBACK).

:class:`BufferedClient` keeps paho's parser, state machine and queues untouched and
changes only how bytes move:

* ``_sock_recv`` serves the parser from a buffer filled by one ``recv`` of up to 64 KiB,
  and ``loop_read`` keeps parsing while that buffer holds bytes (``select`` cannot see
  bytes already taken off the socket); the buffer is dropped with the socket, so a
  reconnection never parses stale bytes;
* ``_packet_write`` sends a run of queued PUBACKs and QoS 1/2 PUBLISHes — packets with
  nothing to do once written — in one ``send``; any other packet goes through paho's own
  path, in order;
* :meth:`held_wakeups` lets a thread queue many packets (the acks of a batch) and send
  them itself, in one ``send``, when they are all such packets; the network thread is
  woken (once) only for what is left. A lock keeps writes from the two threads whole
  and in order; sending from the thread that queued saves a thread hand-over per batch
  (the network thread waking, taking the interpreter lock, writing), on every ack's path;
* an MQTT 3.1.1 PUBACK, when no ``on_publish`` callback is set, is read as its two-byte
  message id, without building MQTT 5 reason-code and property objects nobody reads;
* with no per-topic callback (``message_callback_add``), a message goes straight to
  ``on_message`` instead of through the topic matcher first;
* an MQTT 3.1.1 QoS 1 PUBLISH, with ``manual_ack``, is read with two index operations
  into the same ``MQTTMessage`` fields paho's generic decoder fills (MQTT 5 properties
  parsing, a debug-log topic decode and a fresh ``threading.Condition`` per received
  message skipped: the delivery-tracking object of a *received* message is never used).

Relies on paho internals present since 1.x (``_sock_recv``, ``_sock_close``,
``_packet_queue``, ``_packet_write``, ``_out_packet``, ``_handle_pubackcomp``,
``_handle_on_message``, ``_handle_publish``, ``_in_packet``, ``_manual_ack``);
``tests/server/test_mqtt_io.py`` runs it against a real Mosquitto.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

CHUNK = 64 * 1024
_PUBLISH = int(mqtt.PUBLISH)
_PUBACK = int(mqtt.PUBACK)
_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]
# The delivery-tracking object of every message *received* by the short path: paho only
# uses it for messages this client publishes.
_RECEIVED = mqtt.MQTTMessageInfo(0)


def _plain(packet: dict[str, Any]) -> bool:
    """A packet with nothing to do once written, not yet partly sent."""
    if packet["pos"] != 0:
        return False
    kind = packet["command"] & 0xF0
    return bool(kind == _PUBACK or (kind == _PUBLISH and packet["qos"] > 0))


class BufferedClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._holding = threading.local()
        self._write_lock = threading.RLock()  # one writer at a time on the socket
        self.wakeups = 0  # times the network thread was woken to write (tests, benchmarks)
        self.direct_writes = 0  # held runs sent by the thread that queued them
        self.socket_reads = 0  # recv calls made on the socket (for tests and benchmarks)
        self.socket_writes = 0  # send calls made for coalesced runs of packets
        self._filtered = False  # a per-topic callback was added
        self.fast_publishes = 0  # QoS 1 PUBLISH packets read by the short path below

    # ------------------------------------------------------------------ reading

    def buffered(self) -> int:
        """Bytes read from the socket and not yet parsed."""
        return len(self._rbuf) - self._rpos

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rpos < len(self._rbuf):
            end = min(self._rpos + bufsize, len(self._rbuf))
            chunk = self._rbuf[self._rpos : end]
            self._rpos = end
            return chunk
        data = super()._sock_recv(max(bufsize, CHUNK))  # raises BlockingIOError when empty
        self.socket_reads += 1
        if len(data) <= bufsize:
            self._rbuf, self._rpos = b"", 0
            return data
        self._rbuf, self._rpos = data, bufsize
        return data[:bufsize]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.buffered() and self._sock:
            rc = super().loop_read(max_packets)
        return rc

    def _sock_close(self) -> None:
        self._rbuf, self._rpos = b"", 0
        super()._sock_close()

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def held_wakeups(self) -> Iterator[None]:
        """Packets queued by this thread inside the block wake the network thread once,
        at the end, instead of once each."""
        self._holding.on = True
        try:
            yield
        finally:
            self._holding.on = False
            if not self._write_now():
                self._wake()

    def _write_now(self) -> bool:
        """Send the queued packets from this thread; True when none is left for the
        network thread. Only when every queued packet is a plain one (PUBACK, QoS 1/2
        PUBLISH): anything else, or a socket that would block, is the network thread's."""
        with self._write_lock:
            pending: list[Any] = list(self._out_packet)  # a copy: the network thread appends
            if self._sock is None or not pending or not all(_plain(p) for p in pending):
                return not pending
            rc = self._packet_write()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self._out_packet:
                return False
            self.direct_writes += 1
            return True

    def _wake(self) -> None:
        self.wakeups += 1
        if self._sockpairW is not None:
            with contextlib.suppress(BlockingIOError, OSError):
                self._sockpairW.send(b"0")
        self._call_socket_register_write()

    def _packet_queue(
        self,
        command: int,
        packet: bytes | bytearray,
        mid: int,
        qos: int,
        info: mqtt.MQTTMessageInfo | None = None,
    ) -> MQTTErrorCode:
        if not getattr(self._holding, "on", False):
            return super()._packet_queue(command, packet, mid, qos, info)
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        with self._write_lock:
            return self._write_runs()

    def _write_runs(self) -> MQTTErrorCode:
        queue = self._out_packet
        while queue:
            run: list[Any] = []
            while queue and _plain(queue[0]):  # type: ignore[arg-type]
                run.append(queue.popleft())
            if len(run) < 2:
                for packet in reversed(run):
                    queue.appendleft(packet)
                return super()._packet_write()  # paho's path, one packet at a time
            data = b"".join(packet["packet"] for packet in run)
            try:
                sent = self._sock_send(data)
            except (AttributeError, ValueError):
                queue.extendleft(reversed(run))
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                queue.extendleft(reversed(run))
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError:
                queue.extendleft(reversed(run))
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            self.socket_writes += 1
            with self._msgtime_mutex:
                self._last_msg_out = time.monotonic()
            for index, packet in enumerate(run):
                size = len(packet["packet"])
                if sent >= size:
                    sent -= size
                    continue
                packet["pos"], packet["to_process"] = sent, size - sent  # partly sent
                queue.extendleft(reversed(run[index:]))
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------ PUBACK

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        body = self._in_packet["packet"]
        if (
            cmd != "PUBACK"
            or self._protocol == MQTTProtocolVersion.MQTTv5
            or len(body) != 2
            or self.on_publish is not None
        ):
            return super()._handle_pubackcomp(cmd)
        mid = (body[0] << 8) | body[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_OK, _NO_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    # ------------------------------------------------------------------ delivery

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        if (
            header & 0x06 != 0x02  # QoS 1 only
            or not self._manual_ack
            or self._protocol == MQTTProtocolVersion.MQTTv5
        ):
            return super()._handle_publish()
        body = self._in_packet["packet"]
        topic_end = 2 + ((body[0] << 8) | body[1]) if len(body) >= 2 else 0
        if topic_end <= 2 or topic_end + 2 > len(body):
            return super()._handle_publish()  # malformed: paho raises its own error
        message = mqtt.MQTTMessage.__new__(mqtt.MQTTMessage)
        message.timestamp = time.monotonic()
        message.state = mqtt.mqtt_ms_invalid
        message.dup = bool(header & 0x08)
        message.mid = (body[topic_end] << 8) | body[topic_end + 1]
        message._topic = bytes(body[2:topic_end])
        message.payload = bytes(body[topic_end + 2 :])
        message.qos = 1
        message.retain = bool(header & 0x01)
        message.properties = None
        message.info = _RECEIVED
        self.fast_publishes += 1
        self._handle_on_message(message)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def message_callback_add(self, sub: str, callback: Any) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        if self._filtered:
            super()._handle_on_message(message)
            return
        on_message = self.on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise
