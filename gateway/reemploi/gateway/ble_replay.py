"""Replay recorded BLE advertisements through the lot scanner, instead of the radio.

For tuning thresholds on a recording made on site, and for machines without a BLE
adapter. A recording is JSON lines, one advertisement each::

    {"t": 0.0, "address": "C0:FF:EE:00:00:01", "rssi": -62, "raw": "0201060303AAFE…"}

``t`` is seconds from the start of the recording, ``raw`` the legacy advertising data
(AD structures, as ``btmon`` prints them). Each line becomes bleak's own
``BLEDevice`` / ``AdvertisementData`` — what bleak's BlueZ backend hands the detection
callback — and goes through :meth:`BleLotScanner.on_advertisement` at its recorded
offset, with the recorded time as the sighting time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reemploi.protocol.ble import MalformedFrame, parse_advertising_data

from .ble_scanner import BleLotScanner

BLUETOOTH_BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"


class RecordingError(Exception):
    """A recording file cannot be read (its line number and why)."""


@dataclass(frozen=True)
class RecordedAdvertisement:
    t: float
    address: str
    rssi: int
    raw: bytes


def bleak_objects(raw: bytes, rssi: int, address: str = "C0:FF:EE:00:00:01") -> tuple[Any, Any]:
    """bleak's ``(BLEDevice, AdvertisementData)`` for raw advertising bytes.

    Raises :class:`~reemploi.protocol.ble.MalformedFrame` when the AD structures do not
    parse (BlueZ would not have reported them either).
    """
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    parsed = parse_advertising_data(raw)
    service_data = {
        BLUETOOTH_BASE_UUID.format(uuid): bytes(value)
        for uuid, value in parsed.service_data.items()
    }
    advertisement = AdvertisementData(
        local_name=parsed.name,
        manufacturer_data={k: bytes(v) for k, v in parsed.manufacturer.items()},
        service_data=service_data,
        service_uuids=list(service_data),
        tx_power=parsed.tx_power,
        rssi=rssi,
        platform_data=(),
    )
    return BLEDevice(address, parsed.name, None), advertisement


def load_recording(path: Path) -> list[RecordedAdvertisement]:
    records: list[RecordedAdvertisement] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RecordingError(f"{path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            record = RecordedAdvertisement(
                float(obj["t"]), str(obj.get("address", "")), int(obj["rssi"]),
                bytes.fromhex(obj["raw"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordingError(f"{path}:{number}: {exc}") from exc
        records.append(record)
    return sorted(records, key=lambda r: r.t)


class BleReplay:
    """Feeds a recording to a scanner in real time, on its own thread."""

    def __init__(
        self,
        scanner: BleLotScanner,
        records: list[RecordedAdvertisement],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scanner = scanner
        self.records = records
        self.monotonic = monotonic
        self.malformed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        start = self.monotonic()
        for record in self.records:
            at = start + record.t
            if self._stop.wait(max(0.0, at - self.monotonic())):
                return
            try:
                device, advertisement = bleak_objects(record.raw, record.rssi, record.address)
            except MalformedFrame:
                self.malformed += 1
                continue
            self.scanner.on_advertisement(device, advertisement, at=at)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, daemon=True, name="ble-replay")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
