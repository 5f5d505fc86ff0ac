"""FastSQL's writes of several rows: from BULK_MIN_ROWS rows PostgreSQL gets one COPY
(inserts) or one statement over arrays (updates), below it one statement with a
``VALUES`` row per row, instead of one statement per row; what is stored is what one
INSERT or UPDATE per row stores, awkward text included (COPY's text format escapes tabs,
newlines and backslashes; its binary format, used when every column's type allows it,
escapes nothing). SQLite always writes row by row."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from server_world import COUNTER, LAPTOP_GIAI, World, declare_laptops
from sqlalchemy import Connection, select

from reemploi.server.db import pgpipe
from reemploi.server.db.fastpath import BULK_MIN_ROWS, ROWS_PER_STATEMENT, FastSQL
from reemploi.server.db.tables import assets, sightings, sites
from reemploi.server.demo.territory import SITES

SITE, DEVICE = COUNTER
AWKWARD = ("tab\there", "line\nbreak", "back\\slash", "\\N", "guillemets « é » 'q' \"dq\"", "")
WHEN = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)


def _sighting(seq: int, asset_id: int) -> dict[str, Any]:
    return {
        "key": f"{seq:032x}",
        "device_id": DEVICE,
        "seq": 2**53 + seq,
        "site_id": SITE,
        "kind": "ndef_uri",
        "data": AWKWARD[seq % len(AWKWARD)] + f" n°{seq}",
        "rssi": None if seq % 2 else -40 - seq,
        "device_clock": None,
        "received_at": WHEN + timedelta(microseconds=seq),
        "asset_id": asset_id if seq % 3 else None,
        "result": "accepted",
        "reason": None if seq % 4 else "already_recorded",
        "event_position": None,
        "anomaly": None,
    }


def _stored(conn: Connection, first_seq: int, n: int) -> list[dict[str, Any]]:
    cols = [sightings.c[name] for name in _sighting(0, 0)]
    rows = conn.execute(
        select(*cols)
        .where(sightings.c.seq.between(2**53 + first_seq, 2**53 + first_seq + n - 1))
        .order_by(sightings.c.seq)
    ).all()
    return [_utc(dict(row._mapping)) for row in rows]


def _utc(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives datetimes back without their time zone (stored in UTC)."""
    for name, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            row[name] = value.replace(tzinfo=UTC)
    return row


@contextlib.contextmanager
def _traced(conn: Connection, path: Path) -> Iterator[None]:
    """libpq's protocol trace of ``conn`` into ``path`` (PostgreSQL); SQLite: nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
    with path.open("w") as out:
        pgconn.trace(out.fileno())
        try:
            yield
        finally:
            pgconn.untrace()
            out.flush()
            os.fsync(out.fileno())


def _copy_formats(path: Path) -> list[int]:
    """The overall format of each COPY the server started in a libpq trace (its
    ``CopyInResponse``): 0 text, 1 binary."""
    formats = []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if fields[1:2] == ["B"] and fields[3:4] == ["CopyInResponse"]:
            first = fields[4].split()[0]  # written as a byte (\\x01) or a number
            formats.append(int(first[2:], 16) if first.startswith("\\x") else int(first))
    return formats


def _completed(path: Path) -> list[str]:
    """The server's CommandComplete tags in a libpq trace (``COPY 20``, ``INSERT 0 1``…),
    but the driver's own ``BEGIN``."""
    tags = []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if fields[1:2] == ["B"] and fields[3:4] == ["CommandComplete"]:
            tags.append(fields[4].split('"')[1])
    return [tag for tag in tags if tag != "BEGIN"]


@pytest.mark.parametrize("n", [1, 2, BULK_MIN_ROWS - 1, BULK_MIN_ROWS, 3 * BULK_MIN_ROWS])
def test_insert_stores_every_value_as_given_in_bulk_or_row_by_row(
    world: World, n: int, tmp_path: Path
) -> None:
    laptop = world.assets[LAPTOP_GIAI]
    rows = [_sighting(seq, laptop) for seq in range(1, n + 1)]
    postgres = world.engine.dialect.name == "postgresql"
    trace = tmp_path / "libpq.trace"
    with world.engine.connect() as conn:
        with conn.begin(), _traced(conn, trace):
            FastSQL(conn).insert(sightings, rows)
        assert _stored(conn, 1, n) == rows
    if postgres:
        tags = _completed(trace)
        if n >= BULK_MIN_ROWS:
            assert tags == [f"COPY {n}"], tags
            assert _copy_formats(trace) == [1]  # binary: every column's type allows it
        else:  # one statement of n rows
            assert tags == [f"INSERT 0 {n}"], tags


@pytest.mark.postgres
def test_a_bulk_insert_with_a_column_binary_copy_does_not_handle_goes_as_text(
    pg_world: World, tmp_path: Path
) -> None:
    """Sites have floating-point coordinates, a type outside the binary COPY's list: their
    COPY is in text, and stores every value as given."""
    rows = [
        {
            "id": f"site-{i}",
            "gln": f"gln-{i}",
            "name": AWKWARD[i % len(AWKWARD)] + f" n°{i}",
            "kind": "collection_point",
            "organisation_id": SITES[0].organisation_id,
            "commune": "Grenoble",
            "latitude": 45.1885 + i / 7,
            "longitude": -5.7245e-3 * i,
        }
        for i in range(BULK_MIN_ROWS)
    ]
    trace = tmp_path / "libpq.trace"
    with pg_world.engine.connect() as conn:
        with conn.begin(), _traced(conn, trace):
            FastSQL(conn).insert(sites, rows)
        stored = conn.execute(
            select(*[sites.c[name] for name in rows[0]]).where(sites.c.id.like("site-%"))
        ).all()
    assert {row.id: dict(row._mapping) for row in stored} == {row["id"]: row for row in rows}
    assert _copy_formats(trace) == [0] and _completed(trace) == [f"COPY {BULK_MIN_ROWS}"]


@pytest.mark.postgres
def test_a_naive_time_in_a_binary_copy_is_refused_and_nothing_is_kept(pg_world: World) -> None:
    """A time without its zone cannot be written in binary as ``timestamptz``: the driver
    refuses it, the COPY is cancelled, the transaction keeps nothing."""
    laptop = pg_world.assets[LAPTOP_GIAI]
    rows = [_sighting(seq, laptop) for seq in range(1, BULK_MIN_ROWS + 1)]
    rows[-1]["received_at"] = WHEN.replace(tzinfo=None)
    with pg_world.engine.connect() as conn:
        with pytest.raises(TypeError, match="naive"), conn.begin():
            FastSQL(conn).insert(sightings, rows)
        assert _stored(conn, 1, BULK_MIN_ROWS) == []


@pytest.mark.postgres
def test_a_bulk_insert_inside_a_pipeline_goes_in_statements_of_several_rows(
    pg_world: World, tmp_path: Path
) -> None:
    """COPY cannot run in a pipeline: inside :meth:`FastSQL.pipelined` a large insert
    falls back to INSERTs of ROWS_PER_STATEMENT rows (the last one of what is left), in
    the pipeline, their values sent untyped: stored exactly as given all the same."""
    n = 2 * ROWS_PER_STATEMENT + 3
    rows = [_sighting(seq, pg_world.assets[LAPTOP_GIAI]) for seq in range(1, n + 1)]
    trace = tmp_path / "libpq.trace"
    with pg_world.engine.connect() as conn:
        with conn.begin():
            fast = FastSQL(conn)
            with _traced(conn, trace), fast.pipelined():
                fast.insert(sightings, rows)
        assert _stored(conn, 1, n) == rows
    assert _completed(trace) == [f"INSERT 0 {ROWS_PER_STATEMENT}"] * 2 + ["INSERT 0 3"]


def _parses(path: Path, verb: str) -> list[tuple[str, int]]:
    """The ``Parse`` messages a libpq trace shows for statements starting with ``verb``:
    (statement name, "" when unnamed; how many parameter types were sent)."""
    out = []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if fields[1:2] == ["F"] and fields[3:4] == ["Parse"]:
            parts = fields[4].split('"')  # ' "name" "query" <types> <oid>…'
            if parts[3].startswith(verb):
                out.append((parts[1], int(parts[-1].split()[0])))
    return out


@pytest.mark.postgres
def test_rows_of_any_python_types_share_one_prepared_statement(
    pg_world: World, tmp_path: Path
) -> None:
    """A statement of several rows goes with untyped values: batches of the same row
    count whose values differ in Python type (``None`` or a number, a small or a large
    integer) run one statement, prepared at its second use and reused after; typed,
    each mix of types would be a statement of its own, parsed again and again."""
    laptop = pg_world.assets[LAPTOP_GIAI]
    batches = [
        [_sighting(seq, laptop) for seq in range(first, first + 4)] for first in (1, 11, 21, 31)
    ]
    batches[1][0]["rssi"], batches[2][3]["asset_id"] = -(2**20), None  # other wire types
    traces = [tmp_path / f"libpq-{k}.trace" for k in range(len(batches))]
    with pg_world.engine.connect() as conn:
        pgpipe.own_statements(conn.connection.driver_connection)
        for batch, trace in zip(batches, traces, strict=True):
            with conn.begin():
                fast = FastSQL(conn)
                with _traced(conn, trace), fast.pipelined():
                    fast.insert(sightings, batch)
        for batch in batches:
            assert _stored(conn, batch[0]["seq"] - 2**53, 4) == batch
    parses = [parse for trace in traces for parse in _parses(trace, "INSERT INTO sightings")]
    named = [name for name, _ in parses if name]
    assert len(named) == 1 and all(types == 0 for _, types in parses), parses
    assert len(parses) == 2  # unnamed at its first use, prepared at its second, then reused


def _sent_unanswered(path: Path) -> tuple[bool, list[str]]:
    """Whether the client sent a COPY's end (``CopyDone``) in a libpq trace, and the
    CommandComplete tags read so far."""
    lines = path.read_text().splitlines()
    done = any(line.split("\t")[1:2] == ["F"] and "CopyDone" in line for line in lines)
    return done, _completed(path)


@pytest.mark.postgres
def test_a_copy_answered_later_is_stored_while_the_caller_goes_on(
    pg_world: World, tmp_path: Path
) -> None:
    """``insert(…, answer_later=True)``: every row and the COPY's end are sent, the
    server's answer is not waited for; the next statement reads it first, and the rows
    are stored as a plain COPY stores them."""
    n = 3 * BULK_MIN_ROWS
    rows = [_sighting(seq, pg_world.assets[LAPTOP_GIAI]) for seq in range(1, n + 1)]
    trace = tmp_path / "libpq.trace"
    with pg_world.engine.connect() as conn:
        fast = FastSQL(conn)
        with conn.begin(), fast.transaction():
            with _traced(conn, trace):
                fast.insert(sightings, rows, answer_later=True)
                pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
                pgconn.untrace()
                sent, answered = _sent_unanswered(trace)
                assert sent and answered == [], answered
                pgconn.trace(os.open(trace, os.O_WRONLY | os.O_APPEND))
                assert fast.rows(
                    "SELECT count(*) FROM sightings WHERE device_id = :d", {"d": DEVICE}
                ) == [(n,)]
            assert _completed(trace) == [f"COPY {n}", "SELECT 1"]
        assert _stored(conn, 1, n) == rows


@pytest.mark.postgres
def test_the_error_of_a_copy_answered_later_comes_with_the_next_statement(
    pg_world: World,
) -> None:
    """A COPY the server refuses (a sequence number already stored) raises at the next
    statement of the transaction, which rolls back: nothing of it is kept, and the same
    connection goes on. Outside :meth:`FastSQL.transaction` its answer is read at once
    (the driver's own COMMIT would find the connection busy)."""
    laptop = pg_world.assets[LAPTOP_GIAI]
    with pg_world.engine.connect() as conn:
        with conn.begin():
            FastSQL(conn).insert(sightings, [_sighting(5, laptop)])
        rows = [_sighting(seq, laptop) for seq in range(1, 2 * BULK_MIN_ROWS + 1)]
        fast = FastSQL(conn)
        with pytest.raises(psycopg.errors.UniqueViolation), conn.begin(), fast.transaction():
            fast.insert(sightings, rows, answer_later=True)  # no error yet
            fast.run("UPDATE ledger_head SET count = count WHERE id = 1")
        assert _stored(conn, 1, 2 * BULK_MIN_ROWS) == [_sighting(5, laptop)]
        conn.rollback()
        with conn.begin():  # outside FastSQL.transaction(): answered at once
            outside = FastSQL(conn)
            outside.insert(sightings, rows[5:], answer_later=True)
            assert outside._sent is None
        assert len(_stored(conn, 1, 2 * BULK_MIN_ROWS)) == 2 * BULK_MIN_ROWS - 4


@pytest.mark.parametrize("n", [1, 3, BULK_MIN_ROWS - 1, 2 * BULK_MIN_ROWS])
def test_update_moves_each_row_by_its_key_in_bulk_or_row_by_row(
    world: World, n: int, tmp_path: Path
) -> None:
    ids = list(declare_laptops(world.engine, n + 1).values())
    untouched = ids.pop()
    later = WHEN + timedelta(days=1)
    changes = [
        {
            "id": asset_id,
            "state": "collected" if i % 2 else "received",
            "holder_site_id": "tri-sassenage" if i % 2 else SITE,
            "updated_at": later + timedelta(seconds=i),
        }
        for i, asset_id in enumerate(ids)
    ]
    postgres = world.engine.dialect.name == "postgresql"
    trace = tmp_path / "libpq.trace"
    with world.engine.connect() as conn:
        with conn.begin(), _traced(conn, trace):
            FastSQL(conn).update(assets, "id", changes)
        cols = (assets.c.id, assets.c.state, assets.c.holder_site_id, assets.c.updated_at)
        got = conn.execute(select(*cols).where(assets.c.id.in_(ids)).order_by(assets.c.id))
        assert [_utc(dict(row._mapping)) for row in got] == changes
        still = conn.execute(select(assets.c.state).where(assets.c.id == untouched)).scalar()
        assert still == "declared"
    if postgres:
        assert _completed(trace) == [f"UPDATE {n}"]  # one statement, whatever n


def test_update_refuses_rows_without_their_key_or_with_a_key_twice(world: World) -> None:
    with world.engine.connect() as conn, conn.begin():
        fast = FastSQL(conn)
        with pytest.raises(ValueError, match="no 'id'"):
            fast.update(assets, "id", [{"state": "collected"}])
        laptop = world.assets[LAPTOP_GIAI]
        for n in (2, BULK_MIN_ROWS):
            twice = [{"id": laptop, "state": "collected"}] * n
            if fast.postgres:  # one statement for all: a key twice is ambiguous
                with pytest.raises(ValueError, match="twice"):
                    fast.update(assets, "id", twice)


@pytest.mark.postgres
@pytest.mark.parametrize("n", [1, 3, BULK_MIN_ROWS])
def test_a_value_too_long_for_its_column_is_refused_not_cut(pg_world: World, n: int) -> None:
    """The statements of several rows cast each value to its column's type without the
    length (an explicit cast to ``varchar(40)`` would cut the value silently): an update
    or an insert of a value too long for its column fails as a one-row statement does,
    and nothing of it is kept."""
    ids = list(declare_laptops(pg_world.engine, n).values())
    too_long = "x" * 41  # assets.state and sightings.device_id are VARCHAR(40)
    changes = [{"id": asset_id, "state": "collected"} for asset_id in ids]
    changes[-1]["state"] = too_long
    laptop = pg_world.assets[LAPTOP_GIAI]
    rows = [_sighting(seq, laptop) for seq in range(1, n + 1)]
    rows[-1]["device_id"] = too_long
    with pg_world.engine.connect() as conn:
        for write in (
            lambda fast: fast.update(assets, "id", changes),
            lambda fast: fast.insert(sightings, rows),
        ):
            with pytest.raises(psycopg.errors.StringDataRightTruncation), conn.begin():
                fast = FastSQL(conn)
                with fast.pipelined():
                    write(fast)
            conn.rollback()
        states = conn.execute(select(assets.c.state).where(assets.c.id.in_(ids))).scalars()
        assert set(states) == {"declared"}
        assert _stored(conn, 1, n) == []
