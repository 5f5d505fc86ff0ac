"""The BLE adapter gets bleak's own AdvertisementData / BLEDevice objects, built from
recorded advertisement bytes, and drives the lot tracker to arrivals and departures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reemploi.gateway.ble_replay import bleak_objects
from reemploi.gateway.ble_scanner import BleLotScanner
from reemploi.gateway.lots import ARRIVED, DEPARTED, LotRules, LotTracker

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "gateway_ble.json").read_text())
ADS = {a["name"]: a for a in VECTORS["advertisements"]}


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
    s.on_advertisement(*bleak_objects(bytes.fromhex(ad["raw"]), ad["rssi"]))
    if ad["identity"] is None:
        assert seen == []
    else:
        assert [e[:3] for e in seen] == [("ble", ad["identity"], ad["rssi"])]
        assert isinstance(seen[0][3], float)  # the sighting's monotonic time


def test_malformed_and_foreign_frames_are_counted_not_forwarded() -> None:
    s = scanner(lambda _e: None)
    for name in ("truncated_eddystone_uid_counted_malformed", "foreign_ibeacon_ignored"):
        s.on_advertisement(*bleak_objects(bytes.fromhex(ADS[name]["raw"]), -50))
    s.on_advertisement(*bleak_objects(bytes.fromhex(ADS["eddystone_tlm_ignored"]["raw"]), -50))
    assert (s.counts.malformed, s.counts.foreign, s.counts.telemetry) == (1, 1, 1)
    assert s.counts.lot_beacons == 0


def test_bleak_objects_through_adapter_make_one_arrival_then_one_departure() -> None:
    rules = LotRules(enter_rssi=-75, exit_rssi=-88, arrive_dwell=10, depart_after=30)
    tracker = LotTracker(rules)
    clock = {"now": 0.0}
    decisions = []

    def sink(event: tuple[Any, ...]) -> None:
        assert event[3] == clock["now"]  # the time given by the caller
        decisions.extend(tracker.sighting(event[1], event[2], event[3]))

    s = scanner(sink)
    lot = ADS["eddystone_uid_lot"]
    for t in range(0, 21):  # one advertisement a second, strong, for 20 s
        clock["now"] = float(t)
        s.on_advertisement(*bleak_objects(bytes.fromhex(lot["raw"]), -62), at=float(t))
    assert [d.event for d in decisions] == [ARRIVED]
    assert decisions[0].beacon == lot["identity"]
    assert decisions[0].first_seen == 0.0 and decisions[0].at == 10.0
    for t in range(21, 40):  # weak but above exit: still present (hysteresis)
        clock["now"] = float(t)
        s.on_advertisement(*bleak_objects(bytes.fromhex(lot["raw"]), -85), at=float(t))
    assert tracker.tick(45.0) == []
    departures = tracker.tick(39.0 + 30.0)
    assert [d.event for d in departures] == [DEPARTED]
