"""Identifiers against the public vectors (DL-*, TDS-*, CD-*, EH-1) and our own golden ones."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reemploi.domain.checkdigit import gs1_check_digit, has_valid_check_digit
from reemploi.domain.digital_link import InvalidIdentifier, parse_digital_link
from reemploi.domain.epc import digital_link_to_epc_urn, epc_urn_to_digital_link, normalise_epc
from reemploi.domain.tds import decode_giai96, decode_giai202, encode_giai96, encode_giai202

PUBLIC_VECTORS = Path(
    os.environ.get("REEMPLOI_PUBLIC_VECTORS", "/work/shared/vectors/public_vectors.json")
)
OWN_VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "identifiers.json"
OWN: dict[str, Any] = json.loads(OWN_VECTORS.read_text(encoding="utf-8"))

TDS_FUNCTIONS = {
    "encode_giai96": encode_giai96,
    "decode_giai96": decode_giai96,
    "encode_giai202": encode_giai202,
    "decode_giai202": decode_giai202,
}


@pytest.fixture(scope="module")
def public() -> dict[str, dict[str, Any]]:
    if not PUBLIC_VECTORS.is_file():
        pytest.fail(
            f"public test vectors not found at {PUBLIC_VECTORS}; "
            "set REEMPLOI_PUBLIC_VECTORS to the path of public_vectors.json"
        )
    document = json.loads(PUBLIC_VECTORS.read_text(encoding="utf-8"))
    return {vector["id"]: vector for vector in document["vectors"]}


def _with_prefix(public: dict[str, dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    found = [vector for key, vector in public.items() if key.startswith(prefix)]
    assert found, f"no {prefix}* vector in {PUBLIC_VECTORS}"
    return found


# --- public vectors -------------------------------------------------------------------


def test_public_dl_vectors_convert_epc_urns_to_canonical_digital_links(
    public: dict[str, dict[str, Any]],
) -> None:
    for vector in _with_prefix(public, "DL-"):
        assert epc_urn_to_digital_link(vector["input"]) == vector["expected"], vector["id"]
        assert normalise_epc(vector["input"]) == vector["expected"], vector["id"]
        assert parse_digital_link(vector["expected"]).uri == vector["expected"], vector["id"]


def test_public_dl_vectors_convert_back_with_a_seven_digit_prefix(
    public: dict[str, dict[str, Any]],
) -> None:
    for vector in _with_prefix(public, "DL-"):
        assert digital_link_to_epc_urn(vector["expected"], 7) == vector["input"], vector["id"]


def test_public_tds_vectors_encode_and_decode_giai96(public: dict[str, dict[str, Any]]) -> None:
    for vector in _with_prefix(public, "TDS-"):
        assert encode_giai96(vector["input"]) == vector["expected"], vector["id"]
        assert decode_giai96(vector["expected"]) == vector["input"], vector["id"]
        assert decode_giai96(vector["expected"].lower()) == vector["input"], vector["id"]


def test_public_tds_vectors_tag_uri_matches_pure_identity(
    public: dict[str, dict[str, Any]],
) -> None:
    for vector in _with_prefix(public, "TDS-"):
        _, _, fields = vector["input"].rpartition(":")
        _filter, prefix_and_reference = fields.split(".", 1)
        assert f"urn:epc:id:giai:{prefix_and_reference}" == vector["pure_identity_uri"]
        prefix, reference = prefix_and_reference.split(".", 1)
        link = epc_urn_to_digital_link(vector["pure_identity_uri"])
        assert link == f"https://id.gs1.org/8004/{prefix}{reference}"


def test_public_cd_vectors_check_digits(public: dict[str, dict[str, Any]]) -> None:
    for vector in _with_prefix(public, "CD-"):
        assert vector["cases"], vector["id"]
        for case in vector["cases"]:
            assert gs1_check_digit(case["input"]) == case["expected"], case
            assert has_valid_check_digit(case["input"] + case["expected"]), case
        negative = vector["negative"]["input"]
        gtin = negative.removeprefix("^01")
        assert len(gtin) == 14
        assert not has_valid_check_digit(gtin)
        with pytest.raises(InvalidIdentifier, match="check digit 4, expected 3"):
            parse_digital_link(f"https://id.gs1.org/01/{gtin}")


def test_event_hash_vector_prehash_uses_our_canonical_links(
    public: dict[str, dict[str, Any]],
) -> None:
    vector = public["EH-1"]
    event = vector["input_document"]["epcisBody"]["eventList"][0]
    prehash = vector["expected_prehash"]
    for epc in event["epcList"]:
        assert f"epc={normalise_epc(epc)}" in prehash
    assert f"readPointid={normalise_epc(event['readPoint']['id'])}" in prehash
    transaction = event["bizTransactionList"][0]["bizTransaction"]
    assert normalise_epc(transaction) == transaction


# --- our own vectors ------------------------------------------------------------------


@pytest.mark.parametrize("case", OWN["check_digit"], ids=lambda case: case["input"])
def test_own_check_digit_vectors(case: dict[str, str]) -> None:
    assert gs1_check_digit(case["input"]) == case["expected"]


@pytest.mark.parametrize("case", OWN["dl_valid"], ids=lambda case: case["input"][:60])
def test_own_valid_digital_links_parse_to_expected_parts(case: dict[str, Any]) -> None:
    link = parse_digital_link(case["input"])
    assert link.primary_ai == case["ai"]
    assert link.primary_value == case["value"]
    assert link.qualifiers == tuple(tuple(pair) for pair in case["qualifiers"])
    assert link.canonical().uri == case["canonical"]
    if "domain" in case:
        assert link.domain == case["domain"]
    assert normalise_epc(case["input"]) == case["canonical"]


@pytest.mark.parametrize("case", OWN["dl_invalid"], ids=lambda case: case["input"][:60])
def test_own_invalid_digital_links_are_refused_with_a_precise_message(
    case: dict[str, str],
) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        parse_digital_link(case["input"])
    assert case["error"] in str(raised.value)


@pytest.mark.parametrize("case", OWN["urn_to_dl"], ids=lambda case: case["urn"])
def test_own_epc_urns_convert_both_ways(case: dict[str, Any]) -> None:
    assert epc_urn_to_digital_link(case["urn"]) == case["dl"]
    assert digital_link_to_epc_urn(case["dl"], case["company_prefix_length"]) == case["urn"]


@pytest.mark.parametrize("case", OWN["urn_invalid"], ids=lambda case: case["urn"])
def test_own_invalid_epc_urns_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        epc_urn_to_digital_link(case["urn"])
    assert case["error"] in str(raised.value)
    assert normalise_epc(case["urn"]) == case["urn"]


@pytest.mark.parametrize("case", OWN["dl_to_urn_invalid"], ids=lambda case: case["note"])
def test_own_digital_links_without_an_epc_are_refused(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        digital_link_to_epc_urn(case["dl"], case["company_prefix_length"])
    assert case["error"] in str(raised.value)


@pytest.mark.parametrize("case", OWN["tds"], ids=lambda case: case["tag_uri"])
def test_own_tds_vectors_encode_and_decode(case: dict[str, str]) -> None:
    encode, decode = (
        (encode_giai96, decode_giai96)
        if case["scheme"] == "giai-96"
        else (encode_giai202, decode_giai202)
    )
    assert encode(case["tag_uri"]) == case["hex"]
    assert decode(case["hex"]) == case["tag_uri"]


@pytest.mark.parametrize("case", OWN["tds_invalid"], ids=lambda case: case["note"])
def test_own_invalid_tds_inputs_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        TDS_FUNCTIONS[case["function"]](case["input"])
    assert case["error"] in str(raised.value)
