"""Recorded lot-beacon advertisements as replay files, a gateway set up to track lots, and
the exact `lot` messages a 1.5 s presence must give (shared by the lot and GPS tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gateway_harness import GATEWAY, SITE, GatewayProcess
from support.services import Mosquitto

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
