"""gpsd: TPV parsing on recorded reports, the reader against the real gpsd (fed NMEA over
TCP), and the vehicle's position on lot movements through the running gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import LedgerRecorder
from gpsd_feed import LAT, LON, START, Gpsd, NmeaFeed
from hypothesis import given
from hypothesis import strategies as st
from lot_recordings import EDDYSTONE, check_movements, lot_gateway, recording
from support.lifecycle import running
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.gps import GpsdReader, parse_tpv, read_report
from reemploi.protocol.gateway_msgs import Position

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "gateway_gpsd.json").read_text())
REPORTS = {r["name"]: r for r in VECTORS["reports"]}


@pytest.mark.parametrize("name", list(REPORTS))
def test_gpsd_report_gives_the_expected_position(name: str) -> None:
    report = REPORTS[name]
    expected = report["position"]
    position = parse_tpv(report["line"])
    if expected is None:
        assert position is None
    else:
        assert position == Position(**expected)
    assert read_report(report["line"].encode()) == (report["tpv"], position)


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_read_report_never_raises(line: str | bytes) -> None:
    is_tpv, position = read_report(line)
    assert position is None or is_tpv


@pytest.fixture
def feed() -> Iterator[NmeaFeed]:
    nmea = NmeaFeed("3d", period=0.2)
    yield nmea
    nmea.close()


@pytest.fixture
def gpsd(feed: NmeaFeed) -> Iterator[Gpsd]:
    yield from running(lambda: Gpsd(feed))


def wait_for(events: list[tuple[Any, ...]], predicate: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in list(events):
            if predicate(event[1]):
                return event[1]
        time.sleep(0.05)
    raise AssertionError(f"no matching gps event in {events[-5:]}")


def test_reader_follows_real_gpsd_through_3d_no_fix_and_2d(feed: NmeaFeed, gpsd: Gpsd) -> None:
    events: list[tuple[Any, ...]] = []
    reader = GpsdReader("127.0.0.1", gpsd.port, events.append, retry_s=0.2)
    reader.start_thread()
    try:
        fix = wait_for(events, lambda p: p is not None and p.mode == 3)
        assert (fix.lat, fix.lon) == (pytest.approx(LAT, abs=1e-9), pytest.approx(LON, abs=1e-9))
        assert fix.at >= int(START.timestamp() * 1000)  # the GPS's time, not the gateway's
        assert fix.at < int(START.timestamp() * 1000) + 60_000

        feed.scenario = "nofix"
        wait_for(events, lambda p: p is None)  # fix lost: said so, not silently kept

        events.clear()
        feed.scenario = "2d"
        two_d = wait_for(events, lambda p: p is not None)
        assert two_d.mode == 2 and two_d.lat == pytest.approx(LAT, abs=1e-9)
        assert all(e[0] == "gps" for e in events)
    finally:
        reader.stop()
    assert reader.connections == 1


def test_reader_reconnects_when_gpsd_comes_back(feed: NmeaFeed, gpsd: Gpsd) -> None:
    events: list[tuple[Any, ...]] = []
    reader = GpsdReader("127.0.0.1", gpsd.port, events.append, retry_s=0.2)
    reader.start_thread()
    try:
        wait_for(events, lambda p: p is not None)
        gpsd.close()
        events.clear()
        gpsd.start()
        wait_for(events, lambda p: p is not None and p.mode == 3)
        assert reader.connections >= 2
    finally:
        reader.stop()


def test_vehicle_lot_movements_carry_the_gpsd_position(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
    feed: NmeaFeed,
    gpsd: Gpsd,
    tmp_path: Path,
) -> None:
    local = make_mosquitto(MosquittoSettings(persistence=True))
    central = make_mosquitto(MosquittoSettings(persistence=True))
    recorder = LedgerRecorder(central.host, central.port).start()
    replay = recording(tmp_path / "truck.jsonl", EDDYSTONE, start=1.0)  # gpsd first
    gateway = lot_gateway(
        tmp_path / "gw",
        local,
        central,
        mode="vehicle",
        gpsd_host="127.0.0.1",
        gpsd_port=str(gpsd.port),
        ble_replay_file=str(replay),
    ).start()
    try:
        lots = recorder.wait_kind("lot", 2, timeout=20)
        moves = check_movements(lots, EDDYSTONE["identity"], (0, 1), "vehicle")
        start_ms = int(START.timestamp() * 1000)
        for move in moves:
            assert move.position is not None, "vehicle mode: where the truck was"
            assert (move.position.lat, move.position.lon) == (round(LAT, 6), round(LON, 6))
            assert move.position.mode == 3
            assert start_ms <= move.position.at < start_ms + 60_000
        assert moves[1].position.at > moves[0].position.at  # a later fix  # type: ignore[union-attr]
        health = gateway.wait_health(lambda h: h["gps_fix"] == 3)
        assert health["mode"] == "vehicle"
    finally:
        gateway.stop()
        recorder.stop()
