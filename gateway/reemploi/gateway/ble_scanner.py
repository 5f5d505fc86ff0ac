"""BLE lot scanning with bleak: translate bleak's advertisements into beacon sightings.

The adapter is thin: :meth:`BleLotScanner.on_advertisement` takes bleak's own
``BLEDevice`` and ``AdvertisementData``, picks the iBeacon (manufacturer data of company
``0x004C``: the company id is the dict key) or Eddystone (service data ``0xFEAA``)
frame, parses it with the shared :mod:`reemploi.protocol.ble` parser, keeps only the
platform's lot beacons (configured namespaces / UUIDs) and hands
``("ble", identity, rssi, at)`` to the bridge (``at``: monotonic time of the sighting),
whose :class:`~reemploi.gateway.lots.LotTracker` decides arrivals and departures.
Eddystone TLM frames carry no identity: counted, ignored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reemploi.protocol.ble import (
    COMPANY_APPLE,
    EDDYSTONE_UUID_TEXT,
    EddystoneUid,
    IBeacon,
    MalformedFrame,
    hex_upper,
    parse_eddystone,
    parse_ibeacon,
)

from .settings import GatewaySettings

Sink = Callable[[tuple[Any, ...]], None]


@dataclass
class ScanCounts:
    lot_beacons: int = 0
    foreign: int = 0  # beacons of other people (not our namespaces / UUIDs)
    malformed: int = 0
    telemetry: int = 0


@dataclass
class BleLotScanner:
    sink: Sink
    eddystone_namespaces: frozenset[str]  # upper-case hex, 10 bytes
    ibeacon_uuids: frozenset[str]  # upper-case hex, 16 bytes
    counts: ScanCounts = field(default_factory=ScanCounts)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: GatewaySettings, sink: Sink) -> BleLotScanner:
        return cls(
            sink,
            frozenset(n.upper() for n in settings.ble_eddystone_namespaces),
            frozenset(u.upper() for u in settings.ble_ibeacon_uuids),
        )

    def beacon_identity(self, advertisement: Any) -> str | None:
        """The lot beacon identity in one bleak ``AdvertisementData``, or None."""
        apple = advertisement.manufacturer_data.get(COMPANY_APPLE)
        try:
            if apple is not None and apple[:2] == b"\x02\x15":
                beacon = parse_ibeacon(apple)
                assert isinstance(beacon, IBeacon)
                if hex_upper(beacon.uuid) in self.ibeacon_uuids:
                    return beacon.identity()
                self.counts.foreign += 1
                return None
            frame = advertisement.service_data.get(EDDYSTONE_UUID_TEXT)
            if frame is not None:
                parsed = parse_eddystone(frame)
                if not isinstance(parsed, EddystoneUid):
                    self.counts.telemetry += 1
                    return None
                if hex_upper(parsed.namespace) in self.eddystone_namespaces:
                    return parsed.identity()
                self.counts.foreign += 1
        except MalformedFrame:
            self.counts.malformed += 1
        return None

    def on_advertisement(self, device: Any, advertisement: Any, at: float | None = None) -> None:
        """bleak's detection callback: ``(BLEDevice, AdvertisementData)``.

        ``at`` is the sighting's monotonic time (now, unless a recording says otherwise).
        """
        identity = self.beacon_identity(advertisement)
        if identity is None:
            return
        self.counts.lot_beacons += 1
        when = time.monotonic() if at is None else at
        self.sink(("ble", identity, int(advertisement.rssi), when))

    # ------------------------------------------------------------ running bleak

    async def scan(self) -> None:
        from bleak import BleakScanner  # the adapter's only bleak import at run time

        async with BleakScanner(detection_callback=self.on_advertisement):
            while not self._stop.is_set():
                await asyncio.sleep(0.5)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.scan()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
