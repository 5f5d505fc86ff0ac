"""Typed builders of EPCIS 2.0 JSON-LD events and documents.

Every builder returns a plain ``dict`` that validates against the official GS1 EPCIS 2.0
JSON schema (see ``tests/unit/test_epcis.py``). CBV words are written bare
(``"receiving"``), as the schema and the standard context expect; anything that is not a
CBV word must be a URI, usually in the project namespace :data:`REEMPLOI_VOC`.

Times are written in the local time of ``zone`` (Europe/Paris by default) with the
matching ``eventTimeZoneOffset`` (``+01:00`` in winter, ``+02:00`` in summer), computed
from the instant itself with :mod:`zoneinfo`.

Pure: no I/O beyond the time-zone database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "DATA_ERASING",
    "EPCIS_CONTEXT",
    "EPCIS_CONTEXT_URL",
    "REEMPLOI_VOC",
    "Action",
    "SourceDestinationType",
    "aggregation_event",
    "epcis_document",
    "event_header",
    "event_time",
    "object_event",
    "time_zone_offset",
    "transformation_event",
    "unique_epcs",
]

EPCIS_CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
REEMPLOI_VOC = "https://reemploi.grenoble.example/voc/"
"""The one project extension namespace (JSON-LD prefix ``reemploi``)."""
EPCIS_CONTEXT: list[str | dict[str, str]] = [EPCIS_CONTEXT_URL, {"reemploi": REEMPLOI_VOC}]

DATA_ERASING = REEMPLOI_VOC + "BizStep-data_erasing"
"""Business step for data wiping: the CBV has none (décret n° 2022-190)."""

DEFAULT_ZONE = "Europe/Paris"


class Action(StrEnum):
    """What an event does to the identified objects."""

    ADD = "ADD"
    OBSERVE = "OBSERVE"
    DELETE = "DELETE"


class SourceDestinationType(StrEnum):
    """CBV source/destination types: who owns, who holds, where."""

    OWNING_PARTY = "owning_party"
    POSSESSING_PARTY = "possessing_party"
    LOCATION = "location"


SourceOrDestination = tuple[SourceDestinationType | str, str]
"""``(type, identifier)``: a party as a PGLN Digital Link, a place as a GLN one."""
BizTransaction = tuple[str, str]
"""``(type, identifier)``: e.g. ``("desadv", "urn:epcglobal:cbv:bt:…")``."""


def _zone(zone: str) -> ZoneInfo:
    return ZoneInfo(zone)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("event time must be timezone-aware (an instant, not a wall time)")
    return when


def time_zone_offset(when: datetime, zone: str = DEFAULT_ZONE) -> str:
    """The offset of ``zone`` at the instant ``when``, as ``+HH:MM``."""
    return _offset_text(_aware(when).astimezone(_zone(zone)))


def _offset_text(local: datetime) -> str:
    offset = local.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def event_time(when: datetime, zone: str = DEFAULT_ZONE) -> str:
    """``when`` as local time of ``zone``, millisecond precision, explicit offset."""
    return _aware(when).astimezone(_zone(zone)).isoformat(timespec="milliseconds")


def _check_extensions(extensions: Mapping[str, Any]) -> None:
    for key in extensions:
        if ":" not in key:
            raise ValueError(
                f"extension field {key!r} needs a namespace prefix (e.g. 'reemploi:{key}')"
            )


def event_header(
    event_type: str, when: datetime, event_id: str, zone: str = DEFAULT_ZONE
) -> dict[str, Any]:
    """The fields every event begins with: type, local time and offset, ID (a URI)."""
    if not event_id or ":" not in event_id:
        raise ValueError(f"eventID must be a URI (e.g. urn:uuid:…), got {event_id!r}")
    local = _aware(when).astimezone(_zone(zone))  # what event_time and time_zone_offset do
    return {
        "type": event_type,
        "eventTime": local.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": _offset_text(local),
        "eventID": event_id,
    }


def _add_context(
    event: dict[str, Any],
    *,
    action: Action | None,
    biz_step: str | None,
    disposition: str | None,
    read_point: str | None,
    biz_location: str | None,
    biz_transactions: Sequence[BizTransaction],
    sources: Sequence[SourceOrDestination],
    destinations: Sequence[SourceOrDestination],
    ilmd: Mapping[str, Any] | None,
    extensions: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Add the why / where fields, in the order the standard lists them."""
    if action is not None:
        event["action"] = str(action if action.__class__ is Action else Action(action))
    if biz_step:
        event["bizStep"] = biz_step
    if disposition:
        event["disposition"] = disposition
    if read_point:
        event["readPoint"] = {"id": read_point}
    if biz_location:
        event["bizLocation"] = {"id": biz_location}
    if biz_transactions:
        event["bizTransactionList"] = [
            {"type": kind, "bizTransaction": ident} for kind, ident in biz_transactions
        ]
    if sources:
        event["sourceList"] = [{"type": str(kind), "source": ident} for kind, ident in sources]
    if destinations:
        event["destinationList"] = [
            {"type": str(kind), "destination": ident} for kind, ident in destinations
        ]
    if ilmd:
        _check_extensions(ilmd)
        event["ilmd"] = dict(ilmd)
    if extensions:
        _check_extensions(extensions)
        clashes = sorted(set(extensions) & set(event))
        if clashes:
            raise ValueError(f"extension fields {clashes} clash with standard fields")
        event.update(extensions)
    return event


def unique_epcs(epcs: Sequence[str]) -> list[str]:
    """``epcs`` without repeats, in their first order (an EPC list names each once)."""
    return list(dict.fromkeys(epcs))


def object_event(
    *,
    epcs: Sequence[str],
    action: Action,
    when: datetime,
    event_id: str,
    biz_step: str | None = None,
    disposition: str | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
    sources: Sequence[SourceOrDestination] = (),
    destinations: Sequence[SourceOrDestination] = (),
    ilmd: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
    zone: str = DEFAULT_ZONE,
) -> dict[str, Any]:
    """An ObjectEvent about the objects ``epcs`` (Digital Links)."""
    if not epcs:
        raise ValueError("an ObjectEvent needs at least one EPC")
    if ilmd and action != Action.ADD:
        raise ValueError("ilmd is only allowed on an ObjectEvent with action ADD")
    event = event_header("ObjectEvent", when, event_id, zone)
    event["epcList"] = unique_epcs(epcs)
    return _add_context(
        event,
        action=action,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        biz_transactions=biz_transactions,
        sources=sources,
        destinations=destinations,
        ilmd=ilmd,
        extensions=extensions,
    )


def aggregation_event(
    *,
    parent: str,
    child_epcs: Sequence[str],
    action: Action,
    when: datetime,
    event_id: str,
    biz_step: str | None = None,
    disposition: str | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
    sources: Sequence[SourceOrDestination] = (),
    destinations: Sequence[SourceOrDestination] = (),
    extensions: Mapping[str, Any] | None = None,
    zone: str = DEFAULT_ZONE,
) -> dict[str, Any]:
    """An AggregationEvent: ``child_epcs`` put into / taken out of ``parent`` (an SSCC)."""
    if not parent:
        raise ValueError("an AggregationEvent needs a parentID")
    event = event_header("AggregationEvent", when, event_id, zone)
    event["parentID"] = parent
    event["childEPCs"] = unique_epcs(child_epcs)
    return _add_context(
        event,
        action=action,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        biz_transactions=biz_transactions,
        sources=sources,
        destinations=destinations,
        ilmd=None,
        extensions=extensions,
    )


def transformation_event(
    *,
    input_epcs: Sequence[str],
    output_epcs: Sequence[str] = (),
    when: datetime,
    event_id: str,
    transformation_id: str | None = None,
    biz_step: str | None = None,
    disposition: str | None = None,
    read_point: str | None = None,
    biz_location: str | None = None,
    biz_transactions: Sequence[BizTransaction] = (),
    sources: Sequence[SourceOrDestination] = (),
    destinations: Sequence[SourceOrDestination] = (),
    ilmd: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
    zone: str = DEFAULT_ZONE,
) -> dict[str, Any]:
    """A TransformationEvent: ``input_epcs`` consumed, ``output_epcs`` produced."""
    if not input_epcs and not transformation_id:
        raise ValueError("a TransformationEvent needs inputs or a transformationID")
    event = event_header("TransformationEvent", when, event_id, zone)
    if input_epcs:
        event["inputEPCList"] = unique_epcs(input_epcs)
    if output_epcs:
        event["outputEPCList"] = unique_epcs(output_epcs)
    if transformation_id:
        event["transformationID"] = transformation_id
    return _add_context(
        event,
        action=None,
        biz_step=biz_step,
        disposition=disposition,
        read_point=read_point,
        biz_location=biz_location,
        biz_transactions=biz_transactions,
        sources=sources,
        destinations=destinations,
        ilmd=ilmd,
        extensions=extensions,
    )


def epcis_document(
    events: list[dict[str, Any]],
    creation_date: datetime,
    *,
    document_id: str | None = None,
    zone: str = DEFAULT_ZONE,
) -> dict[str, Any]:
    """A full EPCISDocument (schema 2.0) carrying ``events``."""
    document: dict[str, Any] = {"@context": EPCIS_CONTEXT, "type": "EPCISDocument"}
    if document_id:
        document["id"] = document_id
    document["schemaVersion"] = "2.0"
    document["creationDate"] = event_time(creation_date, zone)
    document["epcisBody"] = {"eventList": list(events)}
    return document
