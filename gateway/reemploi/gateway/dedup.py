"""Dedup across readers, pure: the clock is passed in.

The same tag (same ``kind`` and ``data``: the content, never a device id, sequence
number or clock that a device could forge) seen by several readers within ``window``
seconds of the first sighting becomes one :class:`Sighting` whose witnesses keep every
reader's scan key and RSSI as evidence. Every scan is still forwarded on its own (each
reader needs its ack and the ledger keeps every scan); the sighting is the merged view.

A reader's own QoS 1 redelivery (same scan key) is not a second witness: it is counted
as a duplicate. Times are the gateway's reception clock, in seconds.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from reemploi.protocol.gateway_msgs import Sighting, Witness
from reemploi.protocol.wire import Scan


@dataclass
class _Open:
    first: float
    last: float
    witnesses: dict[str, Witness]  # scan key -> witness, in arrival order


@dataclass
class SightingMerger:
    gateway: str
    window: float = 2.0
    duplicates: int = 0
    _open: OrderedDict[tuple[str, str], _Open] = field(default_factory=OrderedDict)

    def add(self, scan: Scan, now: float) -> list[Sighting]:
        """Record one scan; returns the sightings whose window closed before ``now``."""
        closed = self.close_due(now)
        content = (scan.kind, scan.data)
        current = self._open.get(content)
        if current is None:
            current = _Open(now, now, {})
            self._open[content] = current
        if scan.key in current.witnesses:
            self.duplicates += 1
            return closed
        current.witnesses[scan.key] = Witness(scan.device, scan.seq, scan.key, scan.rssi)
        current.last = max(current.last, now)
        return closed

    def close_due(self, now: float) -> list[Sighting]:
        """Sightings whose window (from their first scan) has passed, oldest first.

        A clock that goes back never keeps a window open forever: ``now`` earlier than a
        window's start closes it too.
        """
        done: list[Sighting] = []
        for content, current in list(self._open.items()):
            if now - current.first >= self.window or now < current.first:
                done.append(self._finish(content, current))
                del self._open[content]
        return done

    def flush(self) -> list[Sighting]:
        done = [self._finish(c, o) for c, o in self._open.items()]
        self._open.clear()
        return done

    @property
    def open_count(self) -> int:
        return len(self._open)

    def _finish(self, content: tuple[str, str], current: _Open) -> Sighting:
        return Sighting(
            gateway=self.gateway,
            kind=content[0],
            data=content[1],
            first=int(current.first * 1000),
            last=int(current.last * 1000),
            witnesses=tuple(current.witnesses.values()),
        )
