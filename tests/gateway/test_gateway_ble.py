"""The BLE adapter gets bleak's own AdvertisementData / BLEDevice objects, built from
recorded advertisement bytes, and drives the lot tracker to arrivals and departures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from reemploi.gateway.ble_scanner import BleLotScanner
from reemploi.gateway.lots import ARRIVED, DEPARTED, LotRules, LotTracker
from reemploi.protocol.ble import parse_advertising_data

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "gateway_ble.json").read_text())
ADS = {a["name"]: a for a in VECTORS["advertisements"]}


def bleak_objects(raw_hex: str, rssi: int) -> tuple[BLEDevice, AdvertisementData]:
    """What bleak's BlueZ backend hands the callback for these advertising bytes."""
    parsed = parse_advertising_data(bytes.fromhex(raw_hex))
    service_data = {
        f"0000{uuid:04x}-0000-1000-8000-00805f9b34fb": bytes(value)
        for uuid, value in parsed.service_data.items()
    }
    adv = AdvertisementData(
        local_name=parsed.name,
        manufacturer_data={k: bytes(v) for k, v in parsed.manufacturer.items()},
        service_data=service_data,
        service_uuids=list(service_data),
        tx_power=parsed.tx_power,
        rssi=rssi,
        platform_data=(),
    )
    return BLEDevice("C0:FF:EE:00:00:01", parsed.name, None), adv


def scanner(sink: Any) -> BleLotScanner:
    return BleLotScanner(
        sink,
        frozenset({VECTORS["platform_eddystone_namespace"]}),
        frozenset({VECTORS["platform_ibeacon_uuid"]}),
    )


@pytest.mark.parametrize("name", list(ADS))
def test_recorded_advertisement_gives_the_expected_lot_identity(name: str) -> None:
    seen: list[tuple[Any, ...]] = []
    s = scanner(seen.append)
    ad = ADS[name]
    s.on_advertisement(*bleak_objects(ad["raw"], ad["rssi"]))
    if ad["identity"] is None:
        assert seen == []
    else:
        assert seen == [("ble", ad["identity"], ad["rssi"])]


def test_malformed_and_foreign_frames_are_counted_not_forwarded() -> None:
    s = scanner(lambda _e: None)
    for name in ("truncated_eddystone_uid_counted_malformed", "foreign_ibeacon_ignored"):
        s.on_advertisement(*bleak_objects(ADS[name]["raw"], -50))
    s.on_advertisement(*bleak_objects(ADS["eddystone_tlm_ignored"]["raw"], -50))
    assert (s.counts.malformed, s.counts.foreign, s.counts.telemetry) == (1, 1, 1)
    assert s.counts.lot_beacons == 0


def test_bleak_objects_through_adapter_make_one_arrival_then_one_departure() -> None:
    rules = LotRules(enter_rssi=-75, exit_rssi=-88, arrive_dwell=10, depart_after=30)
    tracker = LotTracker(rules)
    clock = {"now": 0.0}
    decisions = []

    def sink(event: tuple[Any, ...]) -> None:
        decisions.extend(tracker.sighting(event[1], event[2], clock["now"]))

    s = scanner(sink)
    lot = ADS["eddystone_uid_lot"]
    for t in range(0, 21):  # one advertisement a second, strong, for 20 s
        clock["now"] = float(t)
        s.on_advertisement(*bleak_objects(lot["raw"], -62))
    assert [d.event for d in decisions] == [ARRIVED]
    assert decisions[0].beacon == lot["identity"]
    assert decisions[0].first_seen == 0.0 and decisions[0].at == 10.0
    for t in range(21, 40):  # weak but above exit: still present (hysteresis)
        clock["now"] = float(t)
        s.on_advertisement(*bleak_objects(lot["raw"], -85))
    assert tracker.tick(45.0) == []
    departures = tracker.tick(39.0 + 30.0)
    assert [d.event for d in departures] == [DEPARTED]
