"""A paho client that reads its socket in large chunks.

paho-mqtt 2.x reads each incoming packet with several system calls: one byte for the
packet type, one per byte of the remaining length, then the body. For the ingest, two
packets arrive per scan (the scan, and the broker's PUBACK of its ack): about seven
``recv`` calls per scan, measured with ``strace -c`` under ``bench/ingest.py`` — a large
share of the server's CPU per scan on a small machine.

:class:`BufferedClient` keeps paho's parser and state machine untouched and changes only
where the bytes come from: ``_sock_recv`` serves the parser from a buffer filled by one
``recv`` of up to 64 KiB, and ``loop_read`` keeps parsing while that buffer holds bytes
(``select`` cannot see bytes already taken off the socket). The buffer is dropped with
the socket, so a reconnection never parses stale bytes. Relies on two methods paho has
had since 1.x (``_sock_recv``, ``_sock_close``); ``tests/server/test_mqtt_io.py`` runs
it against a real Mosquitto.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

CHUNK = 64 * 1024


class BufferedClient(mqtt.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self.socket_reads = 0  # recv calls made on the socket (for tests and benchmarks)

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
