"""NDEF parser: golden vectors on both interpreters, round trips, and a fuzz proof that
decoders raise nothing but MalformedNdef."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reemploi.protocol import ndef

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "tests" / "firmware" / "mp" / "protocol_vectors.py"
MICROPYTHON = Path(sys.executable).parent / "micropython"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "ndef.json").read_text(encoding="utf-8"))


def test_standards_example_tlv_is_byte_exact() -> None:
    assert ndef.uri_tlv("https://nfcpy.org").hex() == "030ed1010a55046e666370792e6f7267fe"


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["note"])
def test_valid_vector_decodes_to_its_uri(case: dict[str, str]) -> None:
    assert ndef.uri_from_tlv(bytes.fromhex(case["tlv_hex"])) == case["uri"]


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["note"])
def test_invalid_vector_is_refused_with_its_reason(case: dict[str, str]) -> None:
    with pytest.raises(ndef.MalformedNdef) as info:
        ndef.uri_from_tlv(bytes.fromhex(case["tlv_hex"]))
    assert info.value.reason == case["reason"]


@pytest.mark.parametrize(
    "interpreter", [sys.executable, str(MICROPYTHON)], ids=["cpython", "micropython"]
)
def test_golden_vectors_pass_under_both_interpreters(interpreter: str) -> None:
    proc = subprocess.run(
        [interpreter, str(RUNNER), str(ROOT)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 failed" in proc.stdout and "vectors: 0 passed" not in proc.stdout


def test_long_message_uses_three_byte_length() -> None:
    uri = "https://id.gs1.org/8004/" + "A" * 300
    tlv = ndef.uri_tlv(uri)
    assert tlv[:2] == b"\x03\xff"
    assert ndef.uri_from_tlv(tlv) == uri


@given(
    st.text(min_size=1, max_size=300).filter(
        lambda s: all(ord(c) > 0x20 and ord(c) != 0x7F for c in s)
    )
)
def test_any_uri_round_trips_through_tlv_and_file(rest: str) -> None:
    for uri in ("https://" + rest, rest):
        message = ndef.encode_message([ndef.uri_record(uri)])
        assert ndef.uri_from_tlv(ndef.encode_tlv(message)) == uri
        assert ndef.uri_from_file(ndef.encode_file(message)) == uri


@settings(max_examples=600)
@given(st.binary(max_size=400))
def test_decoders_raise_only_malformed_ndef(data: bytes) -> None:
    for decode in (
        ndef.uri_from_tlv,
        ndef.uri_from_file,
        ndef.message_from_tlv,
        ndef.parse_message,
        ndef.decode_uri,
        ndef.tlv_length_needed,
    ):
        try:
            decode(data)
        except ndef.MalformedNdef as exc:
            assert exc.reason, "a refusal always names its reason"


@settings(max_examples=300)
@given(st.binary(min_size=1, max_size=60), st.integers(min_value=0, max_value=60))
def test_truncated_valid_tlv_never_escapes_another_error(tail: bytes, cut: int) -> None:
    tlv = ndef.uri_tlv("https://id.gs1.org/8004/4012345" + tail.hex())
    try:
        ndef.uri_from_tlv(tlv[:cut])
    except ndef.MalformedNdef as error:
        assert error.reason in ("truncated", "no_ndef")


def test_non_bytes_input_is_malformed_not_type_error() -> None:
    with pytest.raises(ndef.MalformedNdef):
        ndef.uri_from_tlv("030e")  # type: ignore[arg-type]
