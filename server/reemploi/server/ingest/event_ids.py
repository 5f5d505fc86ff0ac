"""Random (version 4) UUIDs for EPCIS event IDs, drawn from the OS in blocks.

``uuid.uuid4()`` asks the kernel for 16 random bytes at every call (one ``getrandom``
system call per custody event, about 4 % of the ingest's CPU at full speed under
``bench/ingest.py``); this takes 4 KiB at a time from the same source (``os.urandom``)
and cuts it into the same RFC 9562 version-4 UUIDs.
"""

from __future__ import annotations

import os
import threading
import uuid

_BLOCK = 256  # UUIDs per draw


class EventIds:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0

    def urn(self) -> str:
        """``urn:uuid:<random version-4 UUID>``."""
        with self._lock:
            if self._pos >= len(self._pool):
                self._pool, self._pos = os.urandom(16 * _BLOCK), 0
            raw = self._pool[self._pos : self._pos + 16]
            self._pos += 16
        return "urn:uuid:" + str(uuid.UUID(bytes=raw, version=4))


EVENT_IDS = EventIds()
