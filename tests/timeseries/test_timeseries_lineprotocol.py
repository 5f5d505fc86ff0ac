"""The line-protocol encoder: exact bytes for the golden vectors, refusals with
InvalidPoint, and whatever hypothesis invents reads back identically from a real InfluxDB."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from influx_target import InfluxTarget

from reemploi.server.timeseries import InfluxV1Sink, InvalidPoint, Point, encode_batch, encode_point

VECTORS = json.loads((Path(__file__).parent / "vectors" / "lineprotocol.json").read_text())


def _point(data: dict[str, Any]) -> Point:
    fields = {k: (float(v) if v == "NaN" else v) for k, v in data["fields"].items()}
    return Point(data["measurement"], data["tags"], fields, data["time_ns"])


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_golden_vector_encodes_to_the_exact_line(vector: dict[str, Any]) -> None:
    assert encode_point(_point(vector["point"])) == vector["line"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_unwritable_point_is_refused_with_invalid_point(vector: dict[str, Any]) -> None:
    with pytest.raises(InvalidPoint):
        encode_point(_point(vector["point"]))


def test_golden_lines_are_accepted_by_a_real_influxdb(influx_db: InfluxTarget) -> None:
    sink = InfluxV1Sink(influx_db.url, influx_db.database)
    sink.write(encode_batch(_point(v["point"]) for v in VECTORS["valid"]))
    [series] = influx_db.query('SELECT * FROM "m,x y"')
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert row["f k"] == 'str "q" \\ end\\' and row["t a,g"] == "v=a lue" and row["ok"] is True
    assert "empty" not in row


# Names and tags as Réemploi writes them: printable text, spaces, commas, equals, accents.
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and not s.startswith("#"))
_field_value = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.text(max_size=40).filter(lambda s: "\r" not in s),
)
_counter = iter(range(10**9))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tags=st.dictionaries(_text.filter(lambda k: k != "time"), _text, max_size=4),
    fields=st.dictionaries(
        _text.filter(lambda k: k != "time"), _field_value, min_size=1, max_size=4
    ),
    time_ns=st.integers(min_value=0, max_value=2**62),
)
def test_any_point_reads_back_unchanged_from_influxdb(
    influx_db: InfluxTarget, tags: dict[str, str], fields: dict[str, Any], time_ns: int
) -> None:
    fields = {k: v for k, v in fields.items() if k not in tags}
    if not fields:
        return
    measurement = f"fuzz{next(_counter)}"
    InfluxV1Sink(influx_db.url, influx_db.database).write(
        encode_point(Point(measurement, tags, fields, time_ns))
    )
    [series] = influx_db.query(f'SELECT * FROM "{measurement}"')
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    assert row.pop("time") == time_ns
    for key, value in tags.items():
        assert row.pop(key) == value
    for key, value in fields.items():
        got = row.pop(key)
        if isinstance(value, float):
            assert math.isclose(got, value, rel_tol=0, abs_tol=0) or got == value
        else:
            assert got == value
    assert row == {}
