"""The batch's hot writes go out as one pipeline on PostgreSQL (FastSQL.pipelined): fewer
round trips, and a database error inside the pipeline still fails the whole batch and
keeps nothing (SQLite runs the same code without a pipeline)."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from server_world import (
    COUNTER,
    LAPTOP_GIAI,
    LAPTOP_URI,
    SCREEN_URI,
    World,
    declare_laptops,
    load_world,
)
from sqlalchemy import Connection, func, select, text

from reemploi.domain.event_shape import EventShape
from reemploi.protocol import wire
from reemploi.server import ledger
from reemploi.server.db.engine import make_engine
from reemploi.server.db.fastpath import BULK_MIN_ROWS, FastSQL
from reemploi.server.db.tables import (
    assets,
    custody_events,
    dead_letters,
    devices,
    ingest_counters,
    sightings,
)
from reemploi.server.ingest.pipeline import BatchResult, Incoming, IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import LocalWriter, WriteFailed
from reemploi.server.ledger import verify
from reemploi.server.registry import Registry

SITE, DEVICE = COUNTER


def _tap(seq: int, uri: str) -> Incoming:
    scan = wire.Scan(DEVICE, seq, wire.KIND_NDEF_URI, uri)
    return Incoming(wire.topic(SITE, DEVICE, "scan"), wire.encode_scan(scan), datetime.now(UTC))


def _snapshot(world: World) -> tuple[int, int, int, str]:
    with world.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(sightings)).scalar_one(),
            conn.execute(select(func.count()).select_from(custody_events)).scalar_one(),
            conn.execute(select(func.coalesce(func.sum(ingest_counters.c.count), 0))).scalar_one(),
            conn.execute(
                select(assets.c.state).where(assets.c.id == world.assets[LAPTOP_GIAI])
            ).scalar_one(),
        )


def _refuse_sightings_of(world: World, uri: str) -> None:
    """A trigger that makes the database itself refuse the sighting of ``uri``: the error
    comes from the server, inside the batch's write phase."""
    _refuse_rows(world, "sightings", "data", uri)


def _refuse_rows(world: World, table: str, column: str, value: str) -> None:
    """A trigger refusing the insertion into ``table`` of a row whose ``column`` is
    ``value`` (one refusal at a time; :func:`_drop_refusal` removes it)."""
    with world.engine.begin() as conn:
        if world.engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'refusé'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_row BEFORE INSERT ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_row()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_row BEFORE INSERT ON {table} "
                    f"WHEN NEW.{column} = '{value}' BEGIN SELECT RAISE(ABORT, 'refusé'); END"
                )
            )
    world.refused_table = table  # type: ignore[attr-defined]


def _drop_refusal(world: World) -> None:
    table = getattr(world, "refused_table", "sightings")
    with world.engine.begin() as conn:
        if world.engine.dialect.name == "postgresql":
            conn.execute(text(f"DROP TRIGGER refuse_row ON {table}"))
        else:
            conn.execute(text("DROP TRIGGER refuse_row"))


def test_an_error_inside_the_pipelined_writes_fails_the_batch_and_keeps_nothing(
    world: World,
) -> None:
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    before = _snapshot(world)
    _refuse_sightings_of(world, SCREEN_URI)
    batch = [_tap(1, LAPTOP_URI), _tap(2, SCREEN_URI)]  # the laptop's event, then the refusal
    with world.engine.connect() as conn:
        with pytest.raises(Exception, match="refusé"):
            pipeline.process(batch, conn)
        # the same long-lived connection goes on (as the ledger writer's does)
        result = pipeline.process([_tap(3, LAPTOP_URI)], conn)
    assert b'"accepted","reason":null' in result.acks[0].payload
    after = _snapshot(world)
    # the failed batch left nothing: one sighting, one event, three counts (messages,
    # accepted, event:collect), the laptop collected once
    assert after == (before[0] + 1, before[1] + 1, before[2] + 3, "collected")
    _drop_refusal(world)
    with world.engine.connect() as conn:
        again = pipeline.process(batch, conn)  # the batch, submitted again, now goes in
        assert verify(conn) == []
    assert [b'"duplicate":false' in a.payload for a in again.acks] == [True, True]
    assert _snapshot(world)[:2] == (before[0] + 3, before[1] + 2)


@pytest.mark.parametrize("with_scan", [True, False], ids=["with-a-scan", "without-scans"])
def test_a_failed_batch_keeps_none_of_its_dead_letters_or_statuses(
    world: World, with_scan: bool
) -> None:
    """Dead letters and device statuses are written by SQLAlchemy before the pipelined
    writes, inside the same transaction (PostgreSQL: after the batch's own BEGIN, sent
    with the scans' reads or, in a batch without scans, just before them): when the
    database refuses a row later in the batch (a sighting, or the batch's ``status``
    counter), they are rolled back with it, and the batch submitted again records each
    once."""
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    status = wire.Status(DEVICE, wire.STATE_ONLINE, "1.4.2", 3600, 51_200, 0, 0)
    batch = [
        Incoming(wire.topic(SITE, DEVICE, "scan"), b"{not json", datetime.now(UTC)),
        Incoming(wire.topic(SITE, DEVICE, "status"), wire.encode_status(status), datetime.now(UTC)),
    ]
    if with_scan:
        batch.append(_tap(1, SCREEN_URI))
        _refuse_sightings_of(world, SCREEN_URI)
    else:
        _refuse_rows(world, "ingest_counters", "name", "status")

    def stored() -> tuple[int, object]:
        with world.engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(dead_letters)).scalar_one(),
                conn.execute(select(devices.c.status).where(devices.c.id == DEVICE)).scalar_one(),
            )

    before = stored()
    with world.engine.connect() as conn, pytest.raises(Exception, match="refusé"):
        pipeline.process(batch, conn)
    assert stored() == before
    _drop_refusal(world)
    with world.engine.connect() as conn:
        pipeline.process(batch, conn)
    dead, device_status = stored()
    assert dead == before[0] + 1
    assert isinstance(device_status, dict) and device_status.get("fw") == "1.4.2"


def _waits(lines: list[str]) -> int:
    """Round trips in a libpq protocol trace (``[timestamp]\tF|B\tlength\tMessage …``):
    each run of messages we sent (F) followed by the server's answer (B) is one wait."""
    directions = [d for line in lines for d in line.split("\t")[1:2] if d in ("F", "B")]
    return sum(1 for pair in itertools.pairwise(directions) if pair == ("F", "B"))


def _traced(
    conn: Connection, trace: Path, pipeline: IngestPipeline, batch: list[Incoming]
) -> tuple[BatchResult, list[str]]:
    """``pipeline.process(batch)`` under libpq's protocol trace: (result, trace lines)."""
    pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
    with trace.open("w") as out:
        pgconn.trace(out.fileno())
        result = pipeline.process(batch, conn)
        pgconn.untrace()
        out.flush()
        os.fsync(out.fileno())
    return result, trace.read_text().splitlines()


def _statements(lines: list[str]) -> list[str]:
    """The server's CommandComplete tags, in order (``BEGIN``, ``SELECT 1``, …)."""
    tags = []
    for line in lines:
        fields = line.split("\t")
        if fields[1:2] == ["B"] and fields[3:4] == ["CommandComplete"]:
            tags.append(fields[4].split('"')[1])
    return tags


@pytest.mark.postgres
def test_a_one_scan_batch_is_two_round_trips_on_postgresql(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """libpq's protocol trace of one tap that records a custody event: the transaction's
    BEGIN goes with the batch's three reads (chain head, stored sightings, assets) and its
    COMMIT with the writes: two waits for the server. Statement by statement it took 7;
    with the writes pipelined, 6; with the reads pipelined too, 4 (BEGIN and COMMIT
    each on their own)."""
    engine = make_engine(postgres_database_url)
    try:
        world = load_world(engine)
        pipeline = IngestPipeline(engine, Registry(), IngestOptions())
        trace = tmp_path / "libpq.trace"
        with engine.connect() as conn:
            pipeline.process([_tap(1, SCREEN_URI)], conn)  # registry and statements warm
            result, lines = _traced(conn, trace, pipeline, [_tap(2, LAPTOP_URI)])
            # the connection is back to the driver's usual transactions
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert b'"accepted","reason":null' in result.acks[0].payload
        assert _snapshot(world)[1] >= 4  # three declarations and this collect
        done = _statements(lines)
        assert done[0] == "BEGIN" and done[-1] == "COMMIT", done
        assert done.count("BEGIN") == 1 and done.count("COMMIT") == 1, done
        assert _waits(lines) == 2, "\n".join(lines)
        # the event, the sighting, then every counter of the batch in one upsert
        bumped = sum(1 for count in result.counts.values() if count)
        inserts = [tag for tag in done if tag.startswith("INSERT ")]
        assert bumped >= 2 and inserts == ["INSERT 0 1"] * 2 + [f"INSERT 0 {bumped}"], done
    finally:
        engine.dispose()


def test_a_tap_event_is_written_from_its_shape(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The ingest writes a tap's event from the step's shape (not the full build), and
    the stored row is the one the full build gives: the chain verifies."""
    rendered: list[bool] = []
    real_render = EventShape.render

    def spy(self: EventShape, document):  # type: ignore[no-untyped-def]
        out = real_render(self, document)
        rendered.append(out is not None)
        return out

    monkeypatch.setattr(EventShape, "render", spy)
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    with world.engine.connect() as conn:
        pipeline.process([_tap(1, LAPTOP_URI), _tap(2, SCREEN_URI)], conn)
        assert verify(conn) == []
    assert rendered == [True, True]


@pytest.mark.postgres
def test_a_killed_postgresql_connection_fails_the_batch_with_its_cause_and_the_next_goes_in(
    postgres_database_url: str,
) -> None:
    """The server ends the writer's connection between two batches (a restart, a
    failover): the batch fails with the database's own error (not with a complaint about
    the driver's transaction mode), nothing of it is kept, the writer opens a new
    connection and the batch, submitted again, goes in once."""
    engine = make_engine(postgres_database_url)
    try:
        world = load_world(engine)
        writer = LocalWriter(IngestPipeline(engine, Registry(), IngestOptions()))
        writer.start()
        tap = _tap(2, LAPTOP_URI)
        item = (tap.topic, tap.payload, tap.received_at)
        writer.submit([(t.topic, t.payload, t.received_at) for t in [_tap(1, SCREEN_URI)]])
        writer.collect()
        pid = writer._connection().connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
        with engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        before = _snapshot(world)
        writer.submit([item])
        with pytest.raises(WriteFailed) as failed:
            writer.collect()
        cause = str(failed.value)  # the server's own words, not the failed ROLLBACK's
        assert "terminating connection" in cause or "server closed the connection" in cause
        assert "connection is lost" not in cause and "autocommit" not in cause
        assert _snapshot(world) == before
        writer.submit([item])
        result = writer.collect()
        assert [b'"accepted","reason":null' in a.payload for a in result.acks] == [True]
        assert _snapshot(world)[:2] == (before[0] + 1, before[1] + 1)
        writer.stop()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_large_batch_on_postgresql_copies_its_events_and_sightings(
    postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From BULK_MIN_ROWS scans, the batch's events and sightings each go by one COPY and
    the assets by one UPDATE over arrays (one INSERT or UPDATE per row cost ≈ 30 µs of CPU
    more per row, writer and server together); the ledger is the one row by row writes
    give: it verifies, every event has its sighting. The sightings go first and the
    events are rendered while the server stores them (their COPY's answer still owed)."""
    owed: list[bool] = []
    extend = ledger.extend

    def watched(target: Any, *args: Any, **kwargs: Any) -> ledger.Appended:
        if isinstance(target, FastSQL):  # the batch's (the world's set-up uses its own)
            owed.append(target._sent is not None and target._sent.pending)
        return extend(target, *args, **kwargs)

    monkeypatch.setattr(ledger, "extend", watched)
    engine = make_engine(postgres_database_url)
    try:
        world = load_world(engine)
        uris = list(declare_laptops(engine, BULK_MIN_ROWS))
        batch = [_tap(i, uri) for i, uri in enumerate(uris, start=1)]
        batch.append(_tap(len(batch) + 1, uris[0]))  # a repeat tap: a sighting, no event
        pipeline = IngestPipeline(engine, Registry(), IngestOptions())
        trace = tmp_path / "libpq.trace"
        before = _snapshot(world)
        with engine.connect() as conn:
            result, lines = _traced(conn, trace, pipeline, batch)
            assert verify(conn) == []
            linked = conn.execute(
                select(func.count())
                .select_from(sightings)
                .join(custody_events, custody_events.c.position == sightings.c.event_position)
                .where(sightings.c.seq <= len(batch), sightings.c.device_id == DEVICE)
            ).scalar_one()
            collected = conn.execute(
                select(func.count()).where(assets.c.state == "collected")
            ).scalar_one()
        n = BULK_MIN_ROWS
        assert [b'"accepted","reason":null' in a.payload for a in result.acks] == [True] * n + [
            False
        ]
        assert _snapshot(world)[:2] == (before[0] + n + 1, before[1] + n)
        assert linked == n and collected == n
        done = _statements(lines)
        assert f"COPY {n}" in done and f"COPY {n + 1}" in done, done  # events, sightings
        assert done.index(f"COPY {n + 1}") < done.index(f"COPY {n}"), done  # sightings first
        assert owed == [True]
        assert f"UPDATE {n}" in done, done
        bumped = sum(1 for count in result.counts.values() if count)
        assert bumped >= 2 and done.count(f"INSERT 0 {bumped}") == 1, done  # one upsert
        assert "INSERT 0 1" not in done, done  # the counters' rows in one statement
        assert done.count("BEGIN") == 1 and done[-1] == "COMMIT", done
    finally:
        engine.dispose()


def test_a_large_batch_the_database_refuses_keeps_nothing(world: World) -> None:
    """A sighting refused by the database in a large batch (PostgreSQL: inside its COPY)
    fails the whole batch: no event, sighting or asset move is kept, and the same
    connection takes the batch again once the refusal is gone."""
    uris = list(declare_laptops(world.engine, BULK_MIN_ROWS + 4))
    batch = [_tap(i, uri) for i, uri in enumerate(uris, start=1)]
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    before = _snapshot(world)
    _refuse_sightings_of(world, uris[-1])
    with world.engine.connect() as conn:
        with pytest.raises(Exception, match="refusé"):
            pipeline.process(batch, conn)
        assert _snapshot(world) == before
        moved = conn.execute(select(func.count()).where(assets.c.state != "declared"))
        assert moved.scalar_one() == 0
        conn.rollback()  # end the read's transaction: the batch opens its own
        _drop_refusal(world)
        again = pipeline.process(batch, conn)
        assert verify(conn) == []
    assert all(b'"accepted","reason":null' in a.payload for a in again.acks)
    assert _snapshot(world)[:2] == (before[0] + len(batch), before[1] + len(batch))
