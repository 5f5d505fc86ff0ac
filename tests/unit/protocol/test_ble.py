"""BLE advertisement parser: golden vectors on both interpreters, round trips, and a fuzz
proof that decoders raise nothing but MalformedFrame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reemploi.protocol import ble, wire

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "tests" / "firmware" / "mp" / "protocol_vectors.py"
MICROPYTHON = Path(sys.executable).parent / "micropython"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "ble.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "interpreter", [sys.executable, str(MICROPYTHON)], ids=["cpython", "micropython"]
)
def test_golden_vectors_pass_under_both_interpreters(interpreter: str) -> None:
    proc = subprocess.run(
        [interpreter, str(RUNNER), str(ROOT)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["note"])
def test_valid_vector_gives_a_frame_the_wire_accepts(case: dict[str, object]) -> None:
    adv = ble.parse_advertising_data(bytes.fromhex(str(case["adv_hex"])))
    found = ble.beacon_frame(adv)
    if case["kind"] is None:
        assert found is None
        return
    assert found is not None
    kind, frame = found
    assert (kind, frame.hex()) == (case["kind"], case["frame_hex"])
    wire.check_tag_data(kind, ble.hex_upper(frame))  # the scan message will carry it


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["note"])
def test_invalid_vector_is_refused_with_its_reason(case: dict[str, str]) -> None:
    with pytest.raises(ble.MalformedFrame) as info:
        ble.beacon_frame(ble.parse_advertising_data(bytes.fromhex(case["adv_hex"])))
    assert info.value.reason == case["reason"]


def test_ibeacon_major_minor_are_big_endian_and_tx_signed() -> None:
    frame = bytes.fromhex("0215" + "11" * 16 + "0102" + "0304" + "c5")
    beacon = ble.parse_ibeacon(frame)
    assert (beacon.major, beacon.minor, beacon.tx_power) == (0x0102, 0x0304, -59)


def test_bleak_style_values_parse_without_the_company_id() -> None:
    # bleak: manufacturer_data = {0x004C: value}; the id is the key, not in the value
    value = ble.encode_ibeacon(ble.IBeacon(b"\x22" * 16, 7, 9, -60))
    assert ble.parse_ibeacon(value).identity() == "ib:" + "22" * 16 + ":7:9"
    with pytest.raises(ble.MalformedFrame):
        ble.parse_ibeacon(b"\x4c\x00" + value)


@given(
    st.binary(min_size=10, max_size=10),
    st.binary(min_size=6, max_size=6),
    st.integers(min_value=-128, max_value=127),
)
def test_eddystone_uid_round_trips(namespace: bytes, instance: bytes, tx: int) -> None:
    uid = ble.EddystoneUid(tx, namespace, instance)
    adv = ble.advertising_payload(service_data={ble.EDDYSTONE_UUID: ble.encode_eddystone_uid(uid)})
    found = ble.beacon_frame(ble.parse_advertising_data(adv))
    assert found is not None
    assert ble.parse_eddystone(found[1]) == uid


@given(
    st.integers(0, 0xFFFF),
    st.integers(-0x8000, 0x7FFF),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
)
def test_eddystone_tlm_round_trips(mv: int, temp: int, count: int, uptime: int) -> None:
    tlm = ble.EddystoneTlm(mv, temp, count, uptime)
    assert ble.parse_eddystone(ble.encode_eddystone_tlm(tlm)) == tlm


@settings(max_examples=800)
@given(st.binary(max_size=64))
def test_decoders_raise_only_malformed_frame(data: bytes) -> None:
    for decode in (ble.parse_ibeacon, ble.parse_eddystone, _beacon_of_advertisement):
        outcome = _parse_or_refuse(decode, data)
        assert not isinstance(outcome, ble.MalformedFrame) or outcome.reason


@settings(max_examples=400)
@given(
    st.lists(
        st.tuples(st.sampled_from([0x01, 0x09, 0x16, 0xFF, 0x0A]), st.binary(max_size=30)),
        max_size=5,
    )
)
def test_well_formed_ad_structures_with_random_values_raise_only_malformed_frame(
    structures: list[tuple[int, bytes]],
) -> None:
    data = b"".join(bytes((len(v) + 1, t)) + v for t, v in structures)
    outcome = _parse_or_refuse(_beacon_of_advertisement, data)
    assert not isinstance(outcome, ble.MalformedFrame) or outcome.reason


def _beacon_of_advertisement(data: bytes) -> Any:
    return ble.beacon_frame(ble.parse_advertising_data(data))


def _parse_or_refuse(parse: Any, data: bytes) -> Any:
    """The parsed value, or the MalformedFrame it raised; any other exception
    propagates and fails the test."""
    try:
        return parse(data)
    except ble.MalformedFrame as exc:
        return exc
