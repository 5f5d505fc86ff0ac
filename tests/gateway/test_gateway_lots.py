"""A lot movement from the BLE scanner adapter, through the running gateway program, to the
central broker: recorded advertisements (bleak's own objects, via the replay source) make
one arrival and one departure; the central broker gets each `lot` message exactly once,
with the gateway's persisted sequence number, after a central outage and a restart."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import GATEWAY, SITE, GatewayProcess, LedgerRecorder
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.ble_replay import BleReplay, bleak_objects, load_recording
from reemploi.gateway.ble_scanner import BleLotScanner
from reemploi.protocol.gateway_msgs import (
    LotMovement,
    decode_lot_movement,
    encode_lot_movement,
    gateway_topic,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "gateway_ble.json").read_text())
ADS = {a["name"]: a for a in VECTORS["advertisements"]}
EDDYSTONE = ADS["eddystone_uid_lot"]
IBEACON = ADS["ibeacon_lot"]

DWELL_S = 0.45  # not 0.5: the recorded offsets are tenths of a second
DEPART_S = 1.0
# strong for 1.5 s (16 advertisements, peak -55 dBm), then silence
RSSI = [-64, -62, -60, -55, -61, -60, -63, -62, -60, -61, -62, -60, -61, -63, -60, -62]
BROKER = MosquittoSettings(persistence=True, max_queued_messages=0)


def recording(path: Path, ad: dict, start: float = 0.0) -> Path:
    """A replay file: noise (a foreign iBeacon, a TLM frame), then the lot beacon."""
    lines = [
        {"t": 0.0, "address": "AA:00:00:00:00:01", "rssi": -40,
         "raw": ADS["foreign_ibeacon_ignored"]["raw"]},
        {"t": 0.05, "address": "C0:FF:EE:00:00:01", "rssi": -50,
         "raw": ADS["eddystone_tlm_ignored"]["raw"]},
    ]  # fmt: skip
    lines += [
        {"t": round(start + i / 10, 2), "address": "C0:FF:EE:00:00:01", "rssi": rssi,
         "raw": ad["raw"]}
        for i, rssi in enumerate(RSSI)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def lot_gateway(state: Path, local: Mosquitto, central: Mosquitto, **extra: str) -> GatewayProcess:
    return GatewayProcess(
        state,
        local.port,
        central.port,
        ble_enabled="true",
        ble_eddystone_namespaces=json.dumps([VECTORS["platform_eddystone_namespace"]]),
        ble_ibeacon_uuids=json.dumps([VECTORS["platform_ibeacon_uuid"]]),
        lot_enter_rssi="-75",
        lot_exit_rssi="-88",
        lot_arrive_dwell_s=str(DWELL_S),
        lot_depart_after_s=str(DEPART_S),
        **extra,
    )


def check_movements(
    payloads: list[tuple[str, bytes]], beacon: str, seqs: tuple[int, int], mode: str
) -> list[LotMovement]:
    """The exact arrival and departure a 1.5 s presence must give."""
    assert [t for t, _ in payloads] == [gateway_topic(SITE, GATEWAY, "lot")] * 2
    moves = [decode_lot_movement(p) for _, p in payloads]
    for (_, payload), move in zip(payloads, moves, strict=True):
        assert encode_lot_movement(move) == payload, "canonical bytes, key checked on decode"
    arrived, departed = moves
    assert arrived == LotMovement(
        gateway=GATEWAY, seq=seqs[0], event="arrived", beacon=beacon, mode=mode,
        at=arrived.at, first_seen=arrived.first_seen, rssi=-55, sightings=6,
        position=arrived.position,
    )  # fmt: skip
    assert abs(arrived.at - arrived.first_seen - 500) <= 2, "dwell: decided at the 6th ad"
    assert departed == LotMovement(
        gateway=GATEWAY, seq=seqs[1], event="departed", beacon=beacon, mode=mode,
        at=departed.at, first_seen=departed.first_seen, rssi=-55, sightings=len(RSSI),
        position=departed.position,
    )  # fmt: skip
    assert departed.first_seen - arrived.first_seen == pytest.approx(1500, abs=2), "last ad"
    assert DEPART_S * 1000 <= departed.at - departed.first_seen < DEPART_S * 1000 + 700
    return moves


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
