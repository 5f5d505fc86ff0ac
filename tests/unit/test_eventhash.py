"""EPCIS Event Hash ID (CBV 2.0): public vector EH-1, own vectors, canonicalisation rules."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.eventhash import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    SOURCE_DESTINATION_TYPES,
    canonical_number,
    canonical_time,
    event_hash,
    event_prehash,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PUBLIC_VECTORS = SHARED / "vectors" / "public_vectors.json"
SCHEMA = SHARED / "standards" / "EPCIS-JSON-Schema.json"
OWN_VECTORS = json.loads((ROOT / "tests" / "vectors" / "eventhash.json").read_text("utf-8"))


def _shared_json(path: Path) -> Any:
    if not path.exists():
        pytest.fail(f"{path} is missing: the shared standards/vectors folder must be at ../shared")
    return json.loads(path.read_text("utf-8"))


def _eh1() -> dict[str, Any]:
    vectors = _shared_json(PUBLIC_VECTORS)["vectors"]
    return next(v for v in vectors if v["id"] == "EH-1")


def test_public_vector_eh1_prehash_matches_byte_for_byte() -> None:
    vector = _eh1()
    event = vector["input_document"]["epcisBody"]["eventList"][0]
    assert event_prehash(event) == vector["expected_prehash"]


def test_public_vector_eh1_hash_matches() -> None:
    vector = _eh1()
    event = vector["input_document"]["epcisBody"]["eventList"][0]
    assert event_hash(event) == vector["expected_hash"]


@pytest.mark.parametrize("vector", OWN_VECTORS["vectors"], ids=lambda v: v["id"])
def test_own_vectors(vector: dict[str, Any]) -> None:
    assert event_prehash(vector["event"], vector["namespaces"]) == vector["expected_prehash"]
    assert event_hash(vector["event"], vector["namespaces"]) == vector["expected_hash"]
    digest = hashlib.sha256(vector["expected_prehash"].encode()).hexdigest()
    assert vector["expected_hash"] == f"ni:///sha-256;{digest}?ver=CBV2.0"


def test_eventid_recordtime_errordeclaration_and_context_do_not_change_the_hash() -> None:
    event = _eh1()["input_document"]["epcisBody"]["eventList"][0]
    noisy = copy.deepcopy(event)
    noisy.update(
        {
            "eventID": "urn:uuid:1b0e3c7a-0000-4000-8000-000000000000",
            "recordTime": "2030-01-01T00:00:00Z",
            "errorDeclaration": {"declarationTime": "2030-01-01T00:00:00Z"},
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        }
    )
    assert event_hash(noisy) == event_hash(event)


def test_equivalent_serialisations_hash_the_same() -> None:
    event = _eh1()["input_document"]["epcisBody"]["eventList"][0]
    other = {
        "bizTransactionList": [
            {
                "bizTransaction": "http://transaction.acme.com/po/12345678",
                "type": "urn:epcglobal:cbv:btt:po",
            }
        ],
        "readPoint": {"id": "https://id.example.org/414/0614141073467/254/1234"},
        "epcList": [
            "https://id.gs1.org/01/10614141073464/21/2018",
            "urn:epc:id:sgtin:0614141.107346.2017",
        ],
        "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
        "action": "OBSERVE",
        "eventTimeZoneOffset": "-06:00",
        "eventTime": "2022-02-17T02:33:31.116Z",
        "type": "ObjectEvent",
    }
    assert event_hash(other) == event_hash(event)


def test_a_changed_field_changes_the_hash() -> None:
    event = _eh1()["input_document"]["epcisBody"]["eventList"][0]
    changed = copy.deepcopy(event)
    changed["disposition"] = "in_progress"
    assert event_hash(changed) != event_hash(event)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-02-16T20:33:31.116000-06:00", "2022-02-17T02:33:31.116Z"),
        ("2020-03-04T11:00:30+01:00", "2020-03-04T10:00:30.000Z"),
        ("2020-03-04T11:00:30.0+01:00", "2020-03-04T10:00:30.000Z"),
        ("2020-03-04T10:00:30.000", "2020-03-04T10:00:30.000Z"),
        ("2024-12-31T23:59:59.9996Z", "2025-01-01T00:00:00.000Z"),
        ("2024-03-31T03:00:00.1234+02:00", "2024-03-31T01:00:00.123Z"),
        ("not a time", "not a time"),
    ],
)
def test_times_go_to_utc_with_three_fraction_digits(text: str, expected: str) -> None:
    assert canonical_time(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", "10"), ("10.0", "10"), ("+200.50", "200.5"), ("0.000", "0"), ("1e3", "1000")],
)
def test_numbers_lose_trailing_zeros(text: str, expected: str) -> None:
    assert canonical_number(text) == expected


def test_quantities_as_json_numbers_are_written_without_trailing_zeros() -> None:
    event = {
        "type": "ObjectEvent",
        "quantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10.0}],
    }
    assert event_prehash(event).endswith("quantity=10")


def test_sensor_element_list_is_ordered_and_canonical() -> None:
    event = {
        "type": "ObjectEvent",
        "sensorElementList": [
            {
                "sensorReport": [
                    {"value": 26.0, "uom": "CEL", "type": "Temperature"},
                    {"uom": "A93", "type": "RelativeHumidity", "value": 12.10},
                ],
                "sensorMetadata": {"time": "2019-04-02T14:05:00.000+01:00"},
            }
        ],
    }
    assert event_prehash(event) == (
        "eventType=ObjectEvent"
        "sensorElementListsensorElementsensorMetadatatime=2019-04-02T13:05:00.000Z"
        "sensorReporttype=https://gs1.org/voc/RelativeHumidityvalue=12.1uom=A93"
        "sensorReporttype=https://gs1.org/voc/Temperaturevalue=26uom=CEL"
    )


def test_ilmd_then_user_extensions_come_last_sorted_with_namespaces_expanded() -> None:
    event = {
        "type": "ObjectEvent",
        "example:zeta": "z",
        "example:alpha": {"example:inner": "2.0"},
        "ilmd": {"example:lot": "L1"},
        "persistentDisposition": {"unset": ["completeness_inferred"], "set": ["damaged"]},
    }
    namespaces = {"example": "http://ns.example.com/epcis/"}
    assert event_prehash(event, namespaces) == (
        "eventType=ObjectEvent"
        "persistentDispositionset=https://ref.gs1.org/cbv/Disp-damaged"
        "unset=https://ref.gs1.org/cbv/Disp-completeness_inferred"
        "ilmd{http://ns.example.com/epcis/}lot=L1"
        "{http://ns.example.com/epcis/}alpha{http://ns.example.com/epcis/}inner=2"
        "{http://ns.example.com/epcis/}zeta=z"
    )


def test_transformation_and_association_fields_are_in_canonical_order() -> None:
    event = {
        "type": "TransformationEvent",
        "transformationID": "urn:epc:id:gdti:0614141.12345.400",
        "outputEPCList": ["urn:epc:id:giai:4012345.OUT1"],
        "inputEPCList": ["urn:epc:id:giai:4012345.IN1"],
        "bizStep": "disassembling",
        "eventTimeZoneOffset": "+01:00",
        "eventTime": "2024-01-15T09:00:00+01:00",
    }
    assert event_prehash(event) == (
        "eventType=TransformationEventeventTime=2024-01-15T08:00:00.000Z"
        "eventTimeZoneOffset=+01:00"
        "inputEPCListepc=https://id.gs1.org/8004/4012345IN1"
        "outputEPCListepc=https://id.gs1.org/8004/4012345OUT1"
        "transformationID=urn:epc:id:gdti:0614141.12345.400"
        "bizStep=https://ref.gs1.org/cbv/BizStep-disassembling"
    )


def test_an_event_without_type_is_refused() -> None:
    with pytest.raises(ValueError, match="type"):
        event_prehash({"eventTime": "2024-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("words", "definition"),
    [
        (BIZ_STEPS, "bizStep"),
        (DISPOSITIONS, "disposition"),
        (BIZ_TRANSACTION_TYPES, "bizTransaction-type"),
        (SOURCE_DESTINATION_TYPES, "source-dest-type"),
    ],
)
def test_cbv_word_lists_match_the_official_schema(words: frozenset[str], definition: str) -> None:
    schema = _shared_json(SCHEMA)
    enum = next(a["enum"] for a in schema["definitions"][definition]["anyOf"] if "enum" in a)
    assert words == frozenset(enum)


@given(st.permutations(["urn:epc:id:giai:4012345.A1", "urn:epc:id:giai:4012345.B2", "x:y"]))
def test_list_order_never_changes_the_hash(epcs: list[str]) -> None:
    base = {"type": "ObjectEvent", "action": "OBSERVE", "epcList": sorted(epcs)}
    assert event_hash({**base, "epcList": epcs}) == event_hash(base)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=5))
def test_extension_key_order_never_changes_the_hash(fields: dict[str, str]) -> None:
    extensions = {f"example:{k}": v for k, v in fields.items()}
    reversed_order = dict(reversed(list(extensions.items())))
    event = {"type": "ObjectEvent", "action": "ADD"}
    assert event_hash({**event, **extensions}) == event_hash({**event, **reversed_order})


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_canonical_time_shortcut_agrees_with_the_full_parse(moment: datetime) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    # the same instant written another way goes through the full parse
    other = text[:-1] + "+00:00"
    assert canonical_time(text) == canonical_time(other) == text


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_local_time_shortcut_agrees_with_the_full_parse(moment: datetime, minutes: int) -> None:
    # What event builders write (local time, "+01:00", milliseconds) takes a shortcut;
    # the same text without the colon in the offset takes the full parse.
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    shortcut = local.isoformat(timespec="milliseconds")
    full = shortcut[:-3] + shortcut[-2:]
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert canonical_time(shortcut) == canonical_time(full) == expected


def test_canonical_shaped_but_impossible_times_stay_as_written() -> None:
    for text in ("2024-02-30T10:00:00.000Z", "2024-13-01T10:00:00.000Z"):
        assert canonical_time(text) == text == canonical_time(" " + text + " ")


_ids = st.sampled_from(
    [
        "https://id.gs1.org/414/9521234000037",
        "urn:epc:id:sgln:952123.00002.0",
        " urn:epc:id:pgln:952123.00001 ",
        "https://example.org/site/1",
        "12.50",
    ]
)
_kinds = st.sampled_from(["owning_party", "possessing_party", "location", "urn:x:other"])


@given(
    key=st.sampled_from(["readPoint", "bizLocation", "sourceList", "destinationList"]),
    ident=_ids,
    items=st.lists(st.tuples(_kinds, _ids), max_size=4),
    extra=st.booleans(),
)
def test_remembered_fields_equal_the_computed_ones(
    key: str, ident: str, items: list[tuple[str, str]], extra: bool
) -> None:
    from reemploi.domain.eventhash import DEFAULT_NAMESPACES, _Canonicaliser

    canon = _Canonicaliser(dict(DEFAULT_NAMESPACES))
    value: Any
    if key in ("readPoint", "bizLocation"):
        value = {"id": ident, **({"example:floor": "2"} if extra else {})}
    else:
        inner = "source" if key == "sourceList" else "destination"
        value = [{"type": kind, inner: target} for kind, target in items]
        if extra and value:
            value[0]["example:note"] = "x"  # not a plain shape: never remembered
    expected = canon.field_text(key, copy.deepcopy(value))
    assert canon.field(key, value) == expected  # first time: computed (and remembered)
    assert canon.field(key, value) == expected  # second time: remembered or computed
