"""EPC pure-identity URNs <-> GS1 Digital Link, and the event-hash normaliser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.checkdigit import gs1_check_digit
from reemploi.domain.digital_link import GS1_CHARSET_82, InvalidIdentifier, format_digital_link
from reemploi.domain.epc import (
    decode_epc_component,
    digital_link_to_epc_urn,
    encode_epc_component,
    epc_urn_to_digital_link,
    normalise_epc,
)

SET_82 = "".join(sorted(GS1_CHARSET_82))


def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=size, max_size=size)


def _set82(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=SET_82, min_size=1, max_size=max_size)


@st.composite
def links_with_prefix_length(
    draw: st.DrawFn,
) -> tuple[str, int]:
    """A Digital Link that has an EPC, and a company prefix length that fits it."""
    length = draw(st.integers(min_value=6, max_value=12))
    kind = draw(st.sampled_from(["01", "00", "414", "417", "8003", "8004"]))
    if kind == "8004":
        value = draw(_digits(length)) + draw(_set82(30 - length))
        return format_digital_link("8004", value), length
    if kind == "8003":
        data = draw(_digits(12))
        return format_digital_link(
            "8003", "0" + data + gs1_check_digit(data) + draw(_set82(16))
        ), length
    size = {"01": 13, "00": 17, "414": 12, "417": 12}[kind]
    data = draw(_digits(size))
    qualifiers: tuple[tuple[str, str], ...] = ()
    if kind == "01":
        qualifiers = (("21", draw(_set82(20))),)
    elif kind == "414":
        extension = draw(st.one_of(st.none(), _set82(20).filter(lambda ext: ext != "0")))
        qualifiers = () if extension is None else (("254", extension),)
    return format_digital_link(kind, data + gs1_check_digit(data), qualifiers), length


@given(links_with_prefix_length())
def test_digital_link_to_urn_and_back_is_identity(case: tuple[str, int]) -> None:
    link, length = case
    urn = digital_link_to_epc_urn(link, length)
    assert urn.startswith("urn:epc:id:")
    assert epc_urn_to_digital_link(urn) == link
    assert normalise_epc(urn) == link


@given(links_with_prefix_length())
def test_urn_company_prefix_has_the_requested_length(case: tuple[str, int]) -> None:
    link, length = case
    urn = digital_link_to_epc_urn(link, length)
    prefix = urn.split(":", 4)[4].split(".", 1)[0]
    assert len(prefix) == length and prefix.isascii() and prefix.isdigit()


def test_urns_accept_another_resolver_domain() -> None:
    assert (
        epc_urn_to_digital_link("urn:epc:id:giai:4012345.ABC345", "https://id.example.org")
        == "https://id.example.org/8004/4012345ABC345"
    )
    assert (
        digital_link_to_epc_urn("https://id.example.org/r/8004/4012345ABC345", 7)
        == "urn:epc:id:giai:4012345.ABC345"
    )


def test_dots_in_the_last_urn_field_belong_to_the_value() -> None:
    assert (
        epc_urn_to_digital_link("urn:epc:id:giai:4012345.A.B.C")
        == "https://id.gs1.org/8004/4012345A.B.C"
    )
    assert (
        digital_link_to_epc_urn("https://id.gs1.org/8004/4012345A.B.C", 7)
        == "urn:epc:id:giai:4012345.A.B.C"
    )


def test_sgln_extension_zero_round_trips_to_a_bare_gln() -> None:
    link = epc_urn_to_digital_link("urn:epc:id:sgln:0614141.12345.0")
    assert link == "https://id.gs1.org/414/0614141123452"
    assert digital_link_to_epc_urn(link, 7) == "urn:epc:id:sgln:0614141.12345.0"


def test_twelve_digit_prefix_leaves_an_empty_location_reference() -> None:
    assert digital_link_to_epc_urn("https://id.gs1.org/414/0614141123452", 12) == (
        "urn:epc:id:sgln:061414112345..0"
    )
    assert epc_urn_to_digital_link("urn:epc:id:sgln:061414112345..0") == (
        "https://id.gs1.org/414/0614141123452"
    )


@pytest.mark.parametrize("length", [5, 13, 0, -1, True])
def test_prefix_length_out_of_range_is_refused(length: int) -> None:
    with pytest.raises(InvalidIdentifier, match="6 to 12"):
        digital_link_to_epc_urn("https://id.gs1.org/417/0614141123452", length)


@given(_set82(30))
def test_epc_component_escaping_round_trips(value: str) -> None:
    encoded = encode_epc_component(value)
    assert not set(encoded) & set('"&/<>?')
    assert decode_epc_component(encoded, "value", 30) == value


def test_normalise_epc_leaves_other_uris_unchanged() -> None:
    for value in [
        "http://transaction.acme.com/po/12345678",
        "urn:epc:id:gdti:0614141.12345.006847",
        "urn:epc:class:lgtin:4012345.012345.998877",
        "https://id.gs1.org/00/340123451111111112",
        "urn:epc:id:giai:4012345",
        "",
        "urn:uuid:0a7e7a25-8e7f-4a7d-b6c7-28d4c1b0f3b1",
    ]:
        assert normalise_epc(value) == value


def test_normalise_epc_moves_any_domain_to_the_canonical_one() -> None:
    assert (
        normalise_epc("https://id.example.org/res/01/4006381333931/21/7?linkType=all")
        == "https://id.gs1.org/01/04006381333931/21/7"
    )
    assert normalise_epc("URN:EPC:ID:SSCC:0614141.1234567890") == (
        "https://id.gs1.org/00/106141412345678908"
    )


@given(st.one_of(st.text(), st.text().map(lambda tail: "urn:epc:id:" + tail)))
def test_normalise_epc_never_raises_and_is_idempotent(value: str) -> None:
    once = normalise_epc(value)
    assert normalise_epc(once) == once


urn_like = st.builds(
    lambda scheme, body: f"urn:epc:id:{scheme}:{body}",
    st.sampled_from(["giai", "sscc", "sgln", "pgln", "grai", "sgtin", "GIAI", "gdti", ""]),
    st.text(alphabet="0123456789....%2F2f&/ABCz~é ", max_size=40),
)


@given(st.one_of(urn_like, st.text().map(lambda tail: "urn:epc:id:" + tail)))
def test_urn_conversion_raises_only_invalid_identifier(urn: str) -> None:
    try:
        epc_urn_to_digital_link(urn)
    except InvalidIdentifier:
        return
    assert normalise_epc(urn) == epc_urn_to_digital_link(urn)
