"""InfluxDB line protocol, as pure code: a :class:`Point` in, one line of text out.

The same text is accepted by InfluxDB 1.x ``/write``, 2.x ``/api/v2/write`` and 3.x, and
by VictoriaMetrics. Tags are written sorted by key (what InfluxDB stores anyway), so a
point always has exactly one encoding: the tests compare bytes.

Anything that cannot be written faithfully raises :class:`InvalidPoint` (line breaks or
backslashes in names and tags, non-finite numbers…); nothing is silently altered, except
tags whose value is empty, which InfluxDB cannot store and which are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FieldValue = int | float | bool | str

# Limits of the line protocol itself (64-bit signed integers; 64 KiB string fields).
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
MAX_STRING_FIELD_BYTES = 64 * 1024


class InvalidPoint(ValueError):
    """A point that cannot be written as line protocol (our caller's mistake)."""


@dataclass(frozen=True)
class Point:
    """One point: a measurement, tags (indexed text), fields (values) and a time in ns."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


def _escape(text: str, specials: str) -> str:
    if "\n" in text or "\r" in text:
        raise InvalidPoint(f"line breaks are not allowed in names or tags: {text[:40]!r}")
    if "\\" in text:
        # 1.x and 2.x disagree on backslashes before other characters: refuse them.
        raise InvalidPoint(f"backslashes are not allowed in names or tags: {text[:40]!r}")
    for char in specials:
        if char in text:
            text = text.replace(char, "\\" + char)
    return text


def escape_measurement(name: str) -> str:
    if not name:
        raise InvalidPoint("empty measurement name")
    return _escape(name, ", ")


def escape_key(name: str) -> str:
    """Tag keys, tag values and field keys escape commas, equal signs and spaces."""
    if not name:
        raise InvalidPoint("empty tag or field key")
    return _escape(name, ",= ")


def encode_field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise InvalidPoint(f"integer field out of 64-bit range: {value}")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidPoint(f"field value must be finite, not {value!r}")
        return repr(value)
    if isinstance(value, str):
        if len(value.encode("utf-8")) > MAX_STRING_FIELD_BYTES:
            raise InvalidPoint("string field longer than 64 KiB")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise InvalidPoint(f"unsupported field type {type(value).__name__}")


def encode_point(point: Point) -> str:
    """The line for ``point``, without the trailing newline."""
    if not isinstance(point.time_ns, int) or isinstance(point.time_ns, bool):
        raise InvalidPoint("time_ns must be an integer number of nanoseconds")
    if not _INT_MIN <= point.time_ns <= _INT_MAX:
        raise InvalidPoint(f"timestamp out of range: {point.time_ns}")
    parts = [escape_measurement(point.measurement)]
    for key in sorted(point.tags):
        value = point.tags[key]
        if not isinstance(value, str):
            raise InvalidPoint(f"tag {key!r} must be text, not {type(value).__name__}")
        if value:
            parts.append(f"{escape_key(key)}={escape_key(value)}")
    if not point.fields:
        raise InvalidPoint(f"point of {point.measurement!r} has no field")
    fields = ",".join(
        f"{escape_key(key)}={encode_field_value(value)}" for key, value in point.fields.items()
    )
    return f"{','.join(parts)} {fields} {point.time_ns}"


def encode_batch(points: Iterable[Point]) -> str:
    """Lines joined by ``\\n`` (no trailing newline), ready for one write request."""
    return "\n".join(encode_point(point) for point in points)
