"""EPC Tag Data Standard: GIAI-96 and GIAI-202 binary encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.digital_link import GS1_CHARSET_82, InvalidIdentifier
from reemploi.domain.epc import encode_epc_component
from reemploi.domain.tds import decode_giai96, decode_giai202, encode_giai96, encode_giai202

SET_82 = "".join(sorted(GS1_CHARSET_82))
# Company prefix digits -> asset reference bits in GIAI-96 (EPC TDS partition table).
GIAI96_REFERENCE_BITS = {12: 42, 11: 45, 10: 48, 9: 52, 8: 55, 7: 58, 6: 62}


@st.composite
def giai96_tag_uris(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=6, max_value=12))
    prefix = draw(st.text(alphabet="0123456789", min_size=length, max_size=length))
    reference = draw(st.integers(min_value=0, max_value=(1 << GIAI96_REFERENCE_BITS[length]) - 1))
    return f"urn:epc:tag:giai-96:{draw(st.integers(0, 7))}.{prefix}.{reference}"


@st.composite
def giai202_tag_uris(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=6, max_value=12))
    prefix = draw(st.text(alphabet="0123456789", min_size=length, max_size=length))
    reference = draw(st.text(alphabet=SET_82, min_size=1, max_size=30 - length))
    return (
        f"urn:epc:tag:giai-202:{draw(st.integers(0, 7))}.{prefix}.{encode_epc_component(reference)}"
    )


@given(giai96_tag_uris())
def test_giai96_encode_then_decode_is_identity(tag_uri: str) -> None:
    encoded = encode_giai96(tag_uri)
    assert len(encoded) == 24 and encoded == encoded.upper()
    assert encoded.startswith("34")
    assert decode_giai96(encoded) == tag_uri


@given(giai202_tag_uris())
def test_giai202_encode_then_decode_is_identity(tag_uri: str) -> None:
    encoded = encode_giai202(tag_uri)
    assert len(encoded) == 52 and encoded == encoded.upper()
    assert encoded.startswith("38")
    assert decode_giai202(encoded) == tag_uri


@given(st.binary(min_size=12, max_size=12).map(bytes.hex))
def test_giai96_decoder_accepts_or_refuses_cleanly_any_96_bits(hex_text: str) -> None:
    try:
        tag_uri = decode_giai96(hex_text)
    except InvalidIdentifier:
        return
    assert encode_giai96(tag_uri) == hex_text.upper()


@given(
    st.binary(min_size=26, max_size=26).map(lambda raw: "38" + raw[1:].hex()),
)
def test_giai202_decoder_accepts_or_refuses_cleanly_any_208_bits(hex_text: str) -> None:
    try:
        tag_uri = decode_giai202(hex_text)
    except InvalidIdentifier:
        return
    assert encode_giai202(tag_uri) == hex_text.upper()


@given(st.text(max_size=60))
def test_tds_functions_raise_only_invalid_identifier_on_arbitrary_text(text: str) -> None:
    for function in (encode_giai96, decode_giai96, encode_giai202, decode_giai202):
        try:
            result = function(text)
        except InvalidIdentifier as exc:
            assert str(exc), "a refusal always says what is wrong"
        else:
            assert isinstance(result, str) and result


def test_giai96_refuses_what_only_giai202_can_hold() -> None:
    with pytest.raises(InvalidIdentifier, match="GIAI-202"):
        encode_giai96("urn:epc:tag:giai-96:1.4012345.ABC345")
    assert decode_giai202(encode_giai202("urn:epc:tag:giai-202:1.4012345.ABC345")) == (
        "urn:epc:tag:giai-202:1.4012345.ABC345"
    )


def test_decoders_refuse_the_other_scheme() -> None:
    giai96 = encode_giai96("urn:epc:tag:giai-96:1.0614141.1")
    giai202 = encode_giai202("urn:epc:tag:giai-202:1.0614141.1")
    with pytest.raises(InvalidIdentifier, match="52 hex digits"):
        decode_giai202(giai96)
    with pytest.raises(InvalidIdentifier, match="header 0x38"):
        decode_giai96(giai202[:24])


def test_prefix_that_overflows_its_digits_is_refused() -> None:
    # partition 6 gives 20 bits (up to 1048575) to a 6-digit prefix: 1000000 does not fit.
    value = (0x34 << 88) | (6 << 82) | (1_000_000 << 62) | 1
    with pytest.raises(InvalidIdentifier, match="does not fit in 6 digits"):
        decode_giai96(f"{value:024X}")


@given(giai202_tag_uris(), st.integers(min_value=0, max_value=207))
def test_giai202_decoder_handles_any_single_bit_flip(tag_uri: str, bit: int) -> None:
    flipped = int(encode_giai202(tag_uri), 16) ^ (1 << bit)
    try:
        decoded = decode_giai202(f"{flipped:052X}")
    except InvalidIdentifier:
        return
    assert decoded != tag_uri
    assert encode_giai202(decoded) == f"{flipped:052X}"
