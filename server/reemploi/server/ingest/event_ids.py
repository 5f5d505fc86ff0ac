"""Time-ordered (version 7) UUIDs for EPCIS event IDs, RFC 9562 §5.7.

Two reasons, both measured with ``bench/ingest.py``:

* ``custody_events.event_id`` is unique, so indexed. Random (version 4) IDs land on a
  random page of that index at every event, and every page touched is written again to
  the write-ahead log at the next commit. Version 7 IDs begin with the time in
  milliseconds: the events of a batch go to the end of the index, a handful of pages.
* ``uuid.uuid4()`` asks the kernel for 16 random bytes at every call; the random part
  here is taken 4 KiB at a time from the same source (``os.urandom``).

Layout: 48 bits of Unix time in ms, version 7, 12 bits of a counter that orders the IDs
drawn within one millisecond (RFC 9562 §6.2, method 1; seeded at random each new
millisecond, and the clock pushed forward by 1 ms if it ever overflows), variant, then
62 random bits. IDs from one process are strictly increasing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

_BLOCK = 512  # random 8-byte tails per draw
_COUNTER_MAX = 0xFFF


class EventIds:
    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock = clock_ms or _now_ms
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0
        self._last_ms = -1
        self._counter = 0

    def uuid_hex(self) -> str:
        """32 hexadecimal digits of a new version-7 UUID."""
        with self._lock:
            now = self._clock()
            if self._pos >= len(self._pool):
                self._pool, self._pos = os.urandom(8 * _BLOCK), 0
            tail = int.from_bytes(self._pool[self._pos : self._pos + 8], "big")
            self._pos += 8
            if now > self._last_ms:
                self._last_ms = now
                self._counter = tail >> 53  # 11 random bits: room to count up
            else:  # same millisecond (or the clock stepped back): count on
                self._counter += 1
                if self._counter > _COUNTER_MAX:
                    self._last_ms += 1
                    self._counter = 0
            ms, counter = self._last_ms, self._counter
        value = (
            (ms & 0xFFFF_FFFF_FFFF) << 80
            | 0x7 << 76
            | counter << 64
            | 0b10 << 62
            | tail & 0x3FFF_FFFF_FFFF_FFFF
        )
        return f"{value:032x}"

    def urn(self) -> str:
        """``urn:uuid:<version-7 UUID>``."""
        h = self.uuid_hex()
        return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


EVENT_IDS = EventIds()
