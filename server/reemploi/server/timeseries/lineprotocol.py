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
from typing import Any, NamedTuple

FieldValue = int | float | bool | str

# Limits of the line protocol itself (64-bit signed integers; 64 KiB string fields).
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
MAX_STRING_FIELD_BYTES = 64 * 1024


class InvalidPoint(ValueError):
    """A point that cannot be written as line protocol (our caller's mistake)."""


class Point(NamedTuple):
    """One point: a measurement, tags (indexed text), fields (values) and a time in ns."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


# Site ids, categories and field names repeat endlessly: remember their escaped form.
_CACHE_LIMIT = 20_000
_escaped_keys: dict[str, str] = {}


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
    escaped = _escaped_keys.get(name)
    if escaped is not None:
        return escaped
    if not name:
        raise InvalidPoint("empty tag or field key")
    escaped = _escape(name, ",= ")
    if len(_escaped_keys) >= _CACHE_LIMIT:
        _escaped_keys.clear()
    _escaped_keys[name] = escaped
    return escaped


def encode_field_value(value: FieldValue) -> str:
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise InvalidPoint(f"field value must be finite, not {value!r}")
        return repr(value)
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            raise InvalidPoint(f"integer field out of 64-bit range: {value}")
        return f"{value}i"
    if kind is bool:
        return "true" if value else "false"
    if kind is str:
        text = str(value)
        if len(text.encode("utf-8")) > MAX_STRING_FIELD_BYTES:
            raise InvalidPoint("string field longer than 64 KiB")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise InvalidPoint(f"unsupported field type {kind.__name__}")


_series_keys: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


def _series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag=value,…`` with tags sorted; remembered, since it repeats."""
    try:
        key = (measurement, tuple(tags.items()))
        cached = _series_keys.get(key)
    except TypeError:  # an unhashable tag value: let the checks below say what is wrong
        key, cached = None, None
    if cached is not None:
        return cached
    parts = [escape_measurement(measurement)]
    for name in sorted(tags):
        value = tags[name]
        if not isinstance(value, str):
            raise InvalidPoint(f"tag {name!r} must be text, not {type(value).__name__}")
        if value:
            parts.append(f"{escape_key(name)}={escape_key(value)}")
    series = ",".join(parts)
    if key is not None:
        if len(_series_keys) >= _CACHE_LIMIT:
            _series_keys.clear()
        _series_keys[key] = series
    return series


_field_prefixes: dict[str, str] = {}


def _field_prefix(name: str) -> str:
    prefix = _field_prefixes.get(name)
    if prefix is None:
        prefix = escape_key(name) + "="
        if len(_field_prefixes) < _CACHE_LIMIT:
            _field_prefixes[name] = prefix
    return prefix


def encode_point(point: Point) -> str:
    """The line for ``point``, without the trailing newline."""
    measurement, tags, fields, at_ns = point
    if type(at_ns) is not int or not _INT_MIN <= at_ns <= _INT_MAX:
        raise InvalidPoint(f"time_ns must be a 64-bit integer of nanoseconds: {at_ns!r}")
    if not fields:
        raise InvalidPoint(f"point of {measurement!r} has no field")
    parts: list[str] = []
    values: Mapping[str, Any] = fields
    prefixes = _field_prefixes
    parts = []
    for name, value in values.items():
        # the two common cases inline (this runs for every point), the rest in one place
        prefix = prefixes.get(name) or _field_prefix(name)
        kind = type(value)
        if kind is float and value - value == 0:  # finite (inf - inf and NaN are NaN)
            parts.append(prefix + repr(value))
        elif kind is int and _INT_MIN <= value <= _INT_MAX:
            parts.append(f"{prefix}{value}i")
        else:
            parts.append(prefix + encode_field_value(value))
    try:
        series = _series_keys.get((measurement, tuple(tags.items())))
    except TypeError:
        series = None
    if series is None:
        series = _series_key(measurement, tags)
    return f"{series} {','.join(parts)} {at_ns}"


def encode_batch(points: Iterable[Point]) -> str:
    """Lines joined by ``\\n`` (no trailing newline), ready for one write request."""
    return "\n".join(encode_point(point) for point in points)
