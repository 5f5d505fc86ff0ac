"""EPCIS 2.0 builders: every document they make validates against the official schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reemploi.domain.epcis import (
    DATA_ERASING,
    EPCIS_CONTEXT,
    EPCIS_CONTEXT_URL,
    REEMPLOI_VOC,
    Action,
    SourceDestinationType,
    aggregation_event,
    epcis_document,
    event_time,
    object_event,
    time_zone_offset,
    transformation_event,
)

SCHEMA_PATH = (
    Path(__file__).resolve().parents[3] / "shared" / "standards" / "EPCIS-JSON-Schema.json"
)
WHEN = datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
GIAI = "https://id.gs1.org/8004/3012345PC0042"
SITE = "https://id.gs1.org/414/3012345000017"
PGLN = "https://id.gs1.org/417/3012345000000"


def _validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.exists():
        pytest.fail(f"{SCHEMA_PATH} is missing: the official EPCIS schema must be at ../shared")
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_valid_document(events: list[dict[str, Any]]) -> None:
    document = epcis_document(events, WHEN, document_id="urn:uuid:6b1f5a52-0000-4000-8000-1")
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def _object(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "epcs": [GIAI],
        "action": Action.OBSERVE,
        "when": WHEN,
        "event_id": "urn:uuid:00000000-0000-4000-8000-000000000001",
        "biz_step": "receiving",
        "disposition": "in_progress",
        "read_point": SITE + "/254/quai-1",
        "biz_location": SITE,
    }
    arguments.update(overrides)
    return object_event(**arguments)


def test_the_format_checker_really_checks_uris() -> None:
    assert "uri" in jsonschema.FormatChecker().checkers, "install rfc3987: URIs go unchecked"
    assert not jsonschema.FormatChecker().conforms("not a uri", "uri")


def test_a_relative_uri_in_read_point_is_refused() -> None:
    document = epcis_document([_object(read_point="quai 1")], WHEN)
    errors = list(_validator().iter_errors(document))
    assert errors, "a read point that is not a URI must fail validation"
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    assert not list(jsonschema.Draft7Validator(schema).iter_errors(document)), (
        "without the format checker the same document passes: the negative test is meaningful"
    )


def test_an_old_cbv_urn_biz_step_is_refused_by_the_schema() -> None:
    document = epcis_document([_object(biz_step="urn:epcglobal:cbv:bizstep:receiving")], WHEN)
    assert list(_validator().iter_errors(document))


def test_object_event_full_document_is_valid() -> None:
    event = _object(
        biz_transactions=[("desadv", "urn:epcglobal:cbv:bt:3012345000000:BL-1")],
        sources=[(SourceDestinationType.POSSESSING_PARTY, PGLN)],
        destinations=[(SourceDestinationType.LOCATION, SITE)],
        extensions={"reemploi:weightKg": 2.5},
    )
    assert_valid_document([event])
    assert event["sourceList"] == [{"type": "possessing_party", "source": PGLN}]
    assert event["reemploi:weightKg"] == 2.5


def test_commissioning_with_ilmd_is_valid_and_ilmd_needs_add() -> None:
    event = _object(
        action=Action.ADD, biz_step="commissioning", disposition="active", ilmd={"reemploi:x": 1}
    )
    assert_valid_document([event])
    with pytest.raises(ValueError, match="ilmd"):
        _object(ilmd={"reemploi:x": 1})


def test_data_erasing_biz_step_is_a_project_uri_and_valid() -> None:
    assert DATA_ERASING == "https://reemploi.grenoble.example/voc/BizStep-data_erasing"
    assert_valid_document([_object(biz_step=DATA_ERASING, disposition=None)])


def test_aggregation_event_is_valid() -> None:
    event = aggregation_event(
        parent="https://id.gs1.org/00/330123450000000018",
        child_epcs=[GIAI, GIAI, "https://id.gs1.org/8004/3012345PC0043"],
        action=Action.ADD,
        when=WHEN,
        event_id="urn:uuid:00000000-0000-4000-8000-000000000002",
        biz_step="packing",
        disposition="container_closed",
        read_point=SITE,
    )
    assert event["childEPCs"] == [GIAI, "https://id.gs1.org/8004/3012345PC0043"]
    assert_valid_document([event])


def test_transformation_event_is_valid() -> None:
    event = transformation_event(
        input_epcs=[GIAI],
        output_epcs=["https://id.gs1.org/8004/3012345RAM0001"],
        when=WHEN,
        event_id="urn:uuid:00000000-0000-4000-8000-000000000003",
        biz_step="disassembling",
        read_point=SITE,
        biz_location=SITE,
    )
    assert "action" not in event
    assert_valid_document([event])


def test_document_has_the_required_fields_and_context() -> None:
    document = epcis_document([], WHEN)
    assert document["@context"] == EPCIS_CONTEXT
    assert EPCIS_CONTEXT[0] == EPCIS_CONTEXT_URL
    assert EPCIS_CONTEXT[1] == {"reemploi": REEMPLOI_VOC}
    assert document["schemaVersion"] == "2.0"
    assert document["epcisBody"] == {"eventList": []}
    assert not list(_validator().iter_errors(document))


@pytest.mark.parametrize(
    ("when", "offset", "text"),
    [
        (datetime(2024, 1, 15, 8, 30, tzinfo=UTC), "+01:00", "2024-01-15T09:30:00.000+01:00"),
        (datetime(2024, 7, 15, 8, 30, tzinfo=UTC), "+02:00", "2024-07-15T10:30:00.000+02:00"),
        # the last winter minute and the first summer one (31 March 2024, 01:00 UTC)
        (datetime(2024, 3, 31, 0, 59, tzinfo=UTC), "+01:00", "2024-03-31T01:59:00.000+01:00"),
        (datetime(2024, 3, 31, 1, 0, tzinfo=UTC), "+02:00", "2024-03-31T03:00:00.000+02:00"),
        # autumn: 02:59 summer time, then the clock goes back and 02:00 happens again
        (
            datetime(2024, 10, 27, 2, 59, tzinfo=timezone(timedelta(hours=2))),
            "+02:00",
            "2024-10-27T02:59:00.000+02:00",
        ),
        (datetime(2024, 10, 27, 1, 0, tzinfo=UTC), "+01:00", "2024-10-27T02:00:00.000+01:00"),
    ],
)
def test_paris_offset_is_computed_from_the_instant(when: datetime, offset: str, text: str) -> None:
    assert time_zone_offset(when) == offset
    assert event_time(when) == text


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_zone_offset(datetime(2024, 1, 1, 12, 0))


def test_extension_without_prefix_or_clashing_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        _object(extensions={"weight": 1})
    with pytest.raises(ValueError, match="eventID"):
        _object(event_id="42")
