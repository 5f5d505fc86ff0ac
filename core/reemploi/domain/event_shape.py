"""Custody events of a recurring shape: the stored text and the Event Hash ID from parts
written once.

At a reader, every tap of a step chains an event that differs from the previous one in
five fields only — ``eventID``, ``eventTime``, ``eventTimeZoneOffset``, ``epcList`` and
``recordTime``: the step, the holders before and after and the read point repeat. Built
with :func:`~reemploi.domain.custody.custody_event`, then canonicalised and hashed field
by field, such an event cost ≈ 35 µs, a third of a scan's ingest (``bench/ingest.py``).
An :class:`EventShape` keeps the shared fields' JSON text and pre-hash text, so an event
of that shape only writes its own five fields.

:func:`custody_shape` finds the shape of a step between two holders by building the
event twice with different variable fields: anything else that differs (or a step whose
event needs more arguments) means no shape, and the caller builds the event in full.
The result is the same document, text and hash either way (``tests/unit/test_event_shape.py``).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from reemploi.domain.chain import CanonicalTemplate
from reemploi.domain.custody import Holder, Step, custody_event
from reemploi.domain.epcis import DEFAULT_ZONE, event_header, unique_epcs
from reemploi.domain.eventhash import PrehashTemplate, hash_prehash

VARIABLE_FIELDS = frozenset(
    ("epcList", "eventID", "eventTime", "eventTimeZoneOffset", "recordTime")
)

# Two builds of the same step that differ in every variable field (winter and summer
# time, so the offset too).
_PROBES = (
    (
        "https://id.gs1.org/8004/9521234PROBEA",
        datetime(2026, 1, 15, 9, 30, 0, 123000, tzinfo=UTC),
        "urn:uuid:00000000-0000-7000-8000-00000000000a",
    ),
    (
        "https://id.gs1.org/8004/9521234PROBEB",
        datetime(2026, 7, 15, 16, 45, 30, 456000, tzinfo=UTC),
        "urn:uuid:00000000-0000-7000-8000-00000000000b",
    ),
)


class EventShape:
    """The fields shared by a family of events (every field but :data:`VARIABLE_FIELDS`)."""

    def __init__(self, fixed: Mapping[str, Any], zone: str = DEFAULT_ZONE) -> None:
        if VARIABLE_FIELDS & set(fixed):
            raise ValueError("the shared fields of a shape cannot include a variable one")
        self.fixed = dict(fixed)
        self.zone = zone
        self.keys = frozenset(fixed) | VARIABLE_FIELDS
        self._text = CanonicalTemplate(fixed, VARIABLE_FIELDS)
        self._prehash = PrehashTemplate(fixed, VARIABLE_FIELDS)

    def document(self, *, epcs: Sequence[str], when: datetime, event_id: str) -> dict[str, Any]:
        """The event of this shape about ``epcs`` at ``when`` (no ``recordTime`` yet). Its
        shared values are those of the shape itself: read them, never change them."""
        if not epcs:
            raise ValueError("an event needs at least one EPC")
        document = event_header(self.fixed["type"], when, event_id, self.zone)
        document["epcList"] = unique_epcs(epcs)
        document.update(self.fixed)
        return document

    def render(self, document: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(canonical text, Event Hash ID)`` of a complete document of this shape (its
        ``recordTime`` set); None when its fields are not exactly the shape's, or when a
        shared field holds another value than the shape's own (the caller then writes the
        document in full)."""
        if document.keys() != self.keys:
            return None
        for key, value in self.fixed.items():
            if document[key] is not value:
                return None
        return self._text.text(document), hash_prehash(self._prehash.prehash(document))


@lru_cache(maxsize=1024)
def custody_shape(
    step: Step, holder_from: Holder | None, holder_to: Holder, read_point: str
) -> EventShape | None:
    """The shape of the event recording ``step`` from ``holder_from`` to ``holder_to`` at
    ``read_point``, as :func:`custody_event` writes it with no other argument; None when
    that event is not made of shared fields plus :data:`VARIABLE_FIELDS`."""
    try:
        probes = [
            custody_event(
                step,
                epcs=[epc],
                when=when,
                holder_from=holder_from,
                holder_to=holder_to,
                read_point=read_point,
                event_id=event_id,
            )
            for epc, when, event_id in _PROBES
        ]
    except ValueError:  # the step needs more (a lot's SSCC, …): no shape
        return None
    shared = [{k: v for k, v in probe.items() if k not in VARIABLE_FIELDS} for probe in probes]
    if shared[0] != shared[1]:
        return None
    shape = EventShape(shared[0])
    for (epc, when, event_id), probe in zip(_PROBES, probes, strict=True):
        if shape.document(epcs=[epc], when=when, event_id=event_id) != probe:
            return None
    return shape
