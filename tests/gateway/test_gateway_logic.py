"""Pure gateway logic: protocol additions (round trips, fuzz), intake, dedup, lots."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.gateway.dedup import SightingMerger
from reemploi.gateway.intake import EVIDENCE, FORWARD, STATUS, classify
from reemploi.gateway.lots import ARRIVED, DEPARTED, LotRules, LotTracker
from reemploi.protocol.gateway_msgs import (
    LotMovement,
    Position,
    decode_evidence,
    decode_lot_movement,
    encode_lot_movement,
    gateway_topic,
)
from reemploi.protocol.wire import MalformedMessage, Scan, Status, encode_scan, encode_status

MOVE = LotMovement(
    gateway="gw-1",
    seq=7,
    event="departed",
    beacon="eu:52454D504C4F49000001:000000000042",
    mode="vehicle",
    at=1_764_000_000_000,
    first_seen=1_763_999_990_000,
    rssi=-61,
    sightings=42,
    position=Position(45.188529, 5.724524, 3, 1_764_000_000_000),
)


def test_lot_movement_exact_bytes_and_round_trip() -> None:
    data = encode_lot_movement(MOVE)
    assert data.startswith(b'{"v":1,"gateway":"gw-1","seq":7,"event":"departed",')
    assert b'"position":{"lat":45.188529,"lon":5.724524,"mode":3,"at":1764000000000}' in data
    assert decode_lot_movement(data) == MOVE


def test_lot_movement_with_a_forged_key_is_refused() -> None:
    obj = json.loads(encode_lot_movement(MOVE))
    obj["seq"] = 8
    with pytest.raises(MalformedMessage) as err:
        decode_lot_movement(json.dumps(obj).encode())
    assert err.value.reason == "key_mismatch"


@given(st.binary(max_size=600))
def test_lot_and_evidence_decoders_raise_only_malformed_message(raw: bytes) -> None:
    for decode in (decode_lot_movement, decode_evidence):
        try:
            decode(raw)
        except MalformedMessage as exc:
            assert exc.reason, "a refusal always names its reason"


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "v",
                "gateway",
                "seq",
                "event",
                "beacon",
                "mode",
                "at",
                "first_seen",
                "rssi",
                "sightings",
                "position",
                "key",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.dictionaries(st.text(max_size=4), st.integers() | st.floats()),
    )
)
def test_lot_decoder_on_json_shaped_garbage_raises_only_malformed_message(obj: dict) -> None:
    with contextlib.suppress(MalformedMessage):
        decode_lot_movement(json.dumps(obj).encode())


def scan(device: str, seq: int, data: str = "04A1B2C3D4E5F6", rssi: int | None = None) -> Scan:
    return Scan(device, seq, "nfc_uid", data, rssi, None)


def test_intake_forwards_valid_scans_byte_for_byte() -> None:
    raw = encode_scan(scan("r-1", 3))
    intake = classify("site-a", "gw-1", "reemploi/v1/site-a/r-1/scan", raw, 100.0)
    assert intake.action == FORWARD and intake.message is not None
    assert intake.message.payload == raw and intake.message.key == scan("r-1", 3).key
    status = encode_status(Status("r-1", queue=0))
    assert classify("site-a", "gw-1", "reemploi/v1/site-a/r-1/status", status, 1).action == STATUS


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("reemploi/v1/site-a/r-1/scan", b"{not json", "bad_json"),
        ("reemploi/v1/site-a/r-2/scan", encode_scan(scan("r-1", 3)), "device_mismatch"),
        ("reemploi/v1/site-b/r-1/scan", encode_scan(scan("r-1", 3)), "bad_topic"),
        ("reemploi/v1/site-a/r-1/scan", b"\xff\xfe", "bad_encoding"),
    ],
)
def test_malformed_reader_messages_become_evidence_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    intake = classify("site-a", "gw-1", topic, payload, 100.0)
    assert intake.action == EVIDENCE and intake.reason == reason
    assert intake.message is not None
    assert intake.message.topic == gateway_topic("site-a", "gw-1", "evidence")
    ev = decode_evidence(intake.message.payload)
    assert ev.reason == reason and ev.payload == payload and ev.topic == topic
    assert base64.b64encode(payload).decode() in intake.message.payload.decode()


def test_same_tag_seen_by_three_readers_is_one_sighting_with_every_rssi() -> None:
    merger = SightingMerger("gw-1", window=2.0)
    data = "0215" + "00" * 21
    merger.add(Scan("r-1", 1, "ble_ibeacon", data, -60, None), 10.0)
    merger.add(Scan("r-2", 9, "ble_ibeacon", data, -72, None), 10.5)
    merger.add(Scan("r-2", 9, "ble_ibeacon", data, -72, None), 10.6)  # QoS 1 redelivery
    merger.add(Scan("r-3", 4, "ble_ibeacon", data, -80, 99), 11.0)
    merger.add(Scan("r-1", 2, "nfc_uid", "04A1B2C3", None, None), 11.5)
    closed = merger.close_due(12.0)
    assert len(closed) == 1
    s = closed[0]
    assert [(w.device, w.rssi) for w in s.witnesses] == [("r-1", -60), ("r-2", -72), ("r-3", -80)]
    assert (s.first, s.last) == (10_000, 11_000)
    assert merger.duplicates == 1
    assert merger.open_count == 1


def test_dedup_key_is_content_not_forgeable_metadata() -> None:
    """Readers changing their clock field cannot split or merge sightings."""
    merger = SightingMerger("gw-1", window=2.0)
    merger.add(Scan("r-1", 1, "nfc_uid", "04A1B2C3", None, 1), 0.0)
    merger.add(Scan("r-2", 1, "nfc_uid", "04A1B2C3", None, 9_999_999_999), 0.1)
    merger.add(Scan("r-3", 1, "nfc_uid", "04FFFFFF", None, 1), 0.2)
    sightings = merger.flush()
    assert sorted(len(s.witnesses) for s in sightings) == [1, 2]


def test_a_truck_driving_past_is_not_an_arrival() -> None:
    tracker = LotTracker(LotRules(arrive_dwell=10, depart_after=30))
    for t in range(0, 6):
        assert tracker.sighting("eu:X", -60, float(t)) == []
    assert tracker.tick(40.0) == []
    assert tracker.state_of("eu:X") == "absent"


def test_one_lucky_strong_packet_does_not_start_an_arrival() -> None:
    tracker = LotTracker(LotRules(enter_rssi=-75, exit_rssi=-88))
    tracker.sighting("eu:X", -95, 0.0)
    tracker.sighting("eu:X", -95, 1.0)
    tracker.sighting("eu:X", -60, 2.0)  # smoothed: -84.5 < enter
    assert tracker.state_of("eu:X") == "absent"


def test_arrival_then_departure_with_hysteresis_and_clock_going_back() -> None:
    tracker = LotTracker(LotRules(enter_rssi=-75, exit_rssi=-88, arrive_dwell=5, depart_after=20))
    events = []
    for t in range(0, 7):
        events += tracker.sighting("ib:U:1:2", -65, float(t))
    assert [e.event for e in events] == [ARRIVED]
    events = tracker.sighting("ib:U:1:2", -80, 3.0)  # clock went back: treated as 6
    assert events == [] and tracker.present() == ["ib:U:1:2"]
    assert tracker.tick(25.0) == []  # last strong at 6 (the -80 counts: above exit)
    departed = tracker.tick(26.0)
    assert [(d.event, d.first_seen) for d in departed] == [(DEPARTED, 6.0)]


def test_lot_rules_refuse_inverted_hysteresis() -> None:
    with pytest.raises(ValueError):
        LotRules(enter_rssi=-90, exit_rssi=-80)
