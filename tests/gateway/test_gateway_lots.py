"""A lot movement from the BLE scanner adapter, through the running gateway program, to the
central broker: recorded advertisements (bleak's own objects, via the replay source) make
one arrival and one departure; the central broker gets each `lot` message exactly once,
with the gateway's persisted sequence number, after a central outage and a restart."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import LedgerRecorder
from lot_recordings import (
    EDDYSTONE,
    IBEACON,
    RSSI,
    VECTORS,
    check_movements,
    lot_gateway,
    recording,
)
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.ble_replay import BleReplay, bleak_objects, load_recording
from reemploi.gateway.ble_scanner import BleLotScanner
from reemploi.protocol.gateway_msgs import decode_lot_movement

BROKER = MosquittoSettings(persistence=True, max_queued_messages=0)


@pytest.fixture
def brokers(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> tuple[Mosquitto, Mosquitto]:
    return make_mosquitto(BROKER), make_mosquitto(BROKER)


def test_site_lot_movements_reach_central_once_with_persisted_seq_across_outage_and_restart(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    central.stop()  # the site's internet link is down while the lot leaves and comes back
    first = recording(tmp_path / "first.jsonl", EDDYSTONE)
    gateway = lot_gateway(tmp_path / "gw", local, central, ble_replay_file=str(first)).start()
    try:
        during = gateway.wait_health(lambda h: h["lot_movements"] == 2, timeout=20)
        assert during["link"] == "down" and during["queue"] == 2
        assert during["lots_present"] == []
        t0 = time.time() * 1000

        central.start()
        lots = recorder.wait_kind("lot", 2, timeout=20)
        gateway.wait_health(lambda h: h["queue"] == 0 and h["delivered"] == 2)
        check_movements(lots, EDDYSTONE["identity"], (0, 1), "site")
        assert all(m.at < t0 for m in map(decode_lot_movement, (p for _, p in lots)))
        gateway.stop()

        # restart: the sequence number was persisted in the outbox file
        second = recording(tmp_path / "second.jsonl", IBEACON)
        gateway.env["REEMPLOI_GATEWAY_BLE_REPLAY_FILE"] = str(second)
        gateway.start()
        lots = recorder.wait_kind("lot", 4, timeout=20)
        check_movements(lots[2:], IBEACON["identity"], (2, 3), "site")
        gateway.wait_health(lambda h: h["queue"] == 0 and h["delivered"] == 2)
        time.sleep(0.5)
        counts = Counter(p for _, p in recorder.of_kind("lot"))
        assert sorted(counts.values()) == [1, 1, 1, 1], "each lot message delivered once"
    finally:
        gateway.stop()
        recorder.stop()


def test_replay_source_builds_bleak_objects_and_keeps_recorded_times(tmp_path: Path) -> None:
    events: list[tuple] = []
    scanner = BleLotScanner(
        events.append,
        frozenset({VECTORS["platform_eddystone_namespace"]}),
        frozenset({VECTORS["platform_ibeacon_uuid"]}),
    )
    records = load_recording(recording(tmp_path / "r.jsonl", EDDYSTONE))
    device, advertisement = bleak_objects(records[-1].raw, records[-1].rssi)
    assert type(advertisement).__module__ == "bleak.backends.scanner"
    assert type(device).__module__ == "bleak.backends.device"
    assert advertisement.service_data.keys() == {"0000feaa-0000-1000-8000-00805f9b34fb"}
    clock = iter([100.0] + [100.0 + r.t for r in records])  # never sleeps: already due
    replay = BleReplay(scanner, records, monotonic=lambda: next(clock, 200.0))
    replay.run()
    assert [e[3] - 100.0 for e in events] == pytest.approx([i / 10 for i in range(len(RSSI))])
    assert [e[2] for e in events] == RSSI
    assert (scanner.counts.foreign, scanner.counts.telemetry) == (1, 1)
