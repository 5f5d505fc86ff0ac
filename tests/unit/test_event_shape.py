"""Events made from a shape are the events custody_event makes: same document, same stored
text, same Event Hash ID (the ledger's verification recomputes both from the text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reemploi.domain.chain import CanonicalTemplate, canonical_document
from reemploi.domain.custody import Holder, Step, custody_event
from reemploi.domain.epcis import object_event
from reemploi.domain.event_shape import VARIABLE_FIELDS, EventShape, custody_shape
from reemploi.domain.eventhash import PrehashTemplate, event_hash, event_prehash

HOLDERS = [
    Holder("https://id.gs1.org/417/9521234000013", "https://id.gs1.org/414/9521234001010"),
    Holder("https://id.gs1.org/417/9521234000020", "https://id.gs1.org/414/9521234001027"),
    Holder("https://id.gs1.org/417/9521234000037", "https://id.gs1.org/414/9521234001034"),
]
SHAPED_STEPS = [s for s in Step if s not in (Step.PACK, Step.UNPACK, Step.DISMANTLE)]

epcs = st.lists(
    st.from_regex(r"https://id\.gs1\.org/8004/9521234[0-9A-Z]{1,12}", fullmatch=True),
    min_size=1,
    max_size=3,
)
# Instants across both daylight-saving changes of Europe/Paris, any millisecond.
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
event_ids = st.uuids().map(lambda u: f"urn:uuid:{u}")


def _full(step: Step, holder_from: Holder, holder_to: Holder, read_point: str, **variable):
    return custody_event(
        step, holder_from=holder_from, holder_to=holder_to, read_point=read_point, **variable
    )


@settings(max_examples=300, deadline=None)
@given(
    step=st.sampled_from(SHAPED_STEPS),
    holders=st.permutations(HOLDERS).map(lambda h: h[:2]),
    point=st.sampled_from([h.site for h in HOLDERS]),
    epc_list=epcs,
    when=instants,
    recorded=instants,
    event_id=event_ids,
)
def test_shaped_event_is_the_full_event(
    step, holders, point, epc_list, when, recorded, event_id
) -> None:
    holder_from, holder_to = holders
    shape = custody_shape(step, holder_from, holder_to, point)
    assert shape is not None
    made = shape.document(epcs=epc_list, when=when, event_id=event_id)
    full = _full(step, holder_from, holder_to, point, epcs=epc_list, when=when, event_id=event_id)
    assert made == full
    record_time = recorded.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    made["recordTime"] = full["recordTime"] = record_time
    assert shape.render(made) == (canonical_document(full), event_hash(full))


def test_steps_whose_event_needs_more_have_no_shape() -> None:
    a, b = HOLDERS[:2]
    assert custody_shape(Step.PACK, a, b, b.site) is None  # needs the lot's SSCC
    assert custody_shape(Step.UNPACK, a, b, b.site) is None
    assert custody_shape(Step.DISMANTLE, a, b, b.site) is None  # a TransformationEvent
    assert custody_shape(Step.COLLECT, a, b, b.site) is custody_shape(Step.COLLECT, a, b, b.site)


def test_render_refuses_a_document_of_another_shape() -> None:
    a, b = HOLDERS[:2]
    shape = custody_shape(Step.RECEIVE, a, b, b.site)
    assert shape is not None
    when = datetime(2026, 3, 29, 0, 59, 59, 999000, tzinfo=UTC)  # an hour before summer time
    doc = shape.document(epcs=["https://id.gs1.org/8004/9521234X1"], when=when, event_id="urn:x:1")
    assert shape.render(doc) is None  # no recordTime yet
    doc["recordTime"] = "2026-03-29T01:00:00.000Z"
    assert shape.render(doc) is not None
    doc["reemploi:note"] = "ajout"
    assert shape.render(doc) is None  # an extra field: the caller hashes it in full
    del doc["reemploi:note"]
    doc["bizLocation"] = {"id": "https://id.gs1.org/414/9521234009999"}
    assert shape.render(doc) is None  # a shared field with another value: written in full
    with pytest.raises(ValueError):
        EventShape({**shape.fixed, "eventTime": "2026-01-01T00:00:00.000+01:00"})


def test_templates_on_their_own() -> None:
    when = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    event = object_event(
        epcs=["https://id.gs1.org/8004/9521234A"],
        action="OBSERVE",
        when=when,
        event_id="urn:uuid:1",
        biz_step="inspecting",
        extensions={"reemploi:grade": "B"},
    )
    fixed = {k: v for k, v in event.items() if k not in VARIABLE_FIELDS}
    # An extension may be shared, not variable: extension fields are sorted together.
    with pytest.raises(ValueError):
        PrehashTemplate(fixed, [*VARIABLE_FIELDS, "reemploi:grade"])
    template = PrehashTemplate(fixed, VARIABLE_FIELDS)
    later = dict(event, eventTime="2026-10-25T03:30:00.000+01:00", eventTimeZoneOffset="+01:00")
    for doc in (event, later, dict(event, epcList=[])):
        assert template.prehash(doc) == event_prehash(doc)
    text = CanonicalTemplate(fixed, VARIABLE_FIELDS | {"recordTime"})
    stamped = dict(later, recordTime="2026-10-25T02:30:01.000Z")
    assert text.text(stamped) == canonical_document(stamped)
    with pytest.raises(ValueError):
        PrehashTemplate({**fixed, "@context": []}, VARIABLE_FIELDS)


def test_shapes_cover_a_year_of_offsets() -> None:
    a, b = HOLDERS[1:]
    shape = custody_shape(Step.ERASE_DATA, a, b, b.site)
    assert shape is not None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hours in range(0, 365 * 24, 7):
        when = start + timedelta(hours=hours, milliseconds=hours % 1000)
        made = shape.document(
            epcs=["https://id.gs1.org/8004/9521234Y"], when=when, event_id="urn:y"
        )
        full = _full(
            Step.ERASE_DATA,
            a,
            b,
            b.site,
            epcs=["https://id.gs1.org/8004/9521234Y"],
            when=when,
            event_id="urn:y",
        )
        assert made == full
        made["recordTime"] = full["recordTime"] = "2026-06-01T00:00:00.000Z"
        assert shape.render(made) == (canonical_document(full), event_hash(full))
