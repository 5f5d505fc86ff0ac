"""The batch's hot writes go out as one pipeline on PostgreSQL (FastSQL.pipelined): fewer
round trips, and a database error inside the pipeline still fails the whole batch and
keeps nothing (SQLite runs the same code without a pipeline)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from server_world import COUNTER, LAPTOP_GIAI, LAPTOP_URI, SCREEN_URI, World, load_world
from sqlalchemy import func, select, text

from reemploi.domain.event_shape import EventShape
from reemploi.protocol import wire
from reemploi.server.db.engine import make_engine
from reemploi.server.db.tables import assets, custody_events, ingest_counters, sightings
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
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
    with world.engine.begin() as conn:
        if world.engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_tap() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.data = '" + uri + "' THEN RAISE EXCEPTION 'refusé'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_tap BEFORE INSERT ON sightings "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_tap()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_tap BEFORE INSERT ON sightings "
                    f"WHEN NEW.data = '{uri}' BEGIN SELECT RAISE(ABORT, 'refusé'); END"
                )
            )


def _drop_refusal(world: World) -> None:
    with world.engine.begin() as conn:
        if world.engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER refuse_tap ON sightings"))
        else:
            conn.execute(text("DROP TRIGGER refuse_tap"))


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


def _frontend_sync(line: str) -> bool:
    """A libpq trace line (``[timestamp]\tF|B\tlength\tMessage …``) for a Sync we sent."""
    fields = line.split("\t")
    return "F" in fields[:2] and any(f.startswith("Sync") for f in fields[2:4])


@pytest.mark.postgres
def test_a_one_scan_batch_waits_for_few_answers_on_postgresql(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """libpq's protocol trace of one tap (a custody event): each Sync is one wait for the
    server. Statement by statement it took 7 (psycopg already sends an executemany as
    one pipeline); with the writes pipelined, 3."""
    engine = make_engine(postgres_database_url)
    try:
        world = load_world(engine)
        pipeline = IngestPipeline(engine, Registry(), IngestOptions())
        trace = tmp_path / "libpq.trace"
        with engine.connect() as conn:
            pipeline.process([_tap(1, SCREEN_URI)], conn)  # registry and statements warm
            pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
            with trace.open("w") as out:
                pgconn.trace(out.fileno())
                result = pipeline.process([_tap(2, LAPTOP_URI)], conn)
                pgconn.untrace()
                out.flush()
                os.fsync(out.fileno())
        assert b'"accepted","reason":null' in result.acks[0].payload
        assert _snapshot(world)[1] >= 4  # three declarations and this collect
        lines = trace.read_text().splitlines()
        syncs = [line for line in lines if _frontend_sync(line)]
        assert 0 < len(syncs) <= 4, "\n".join(lines[-60:])
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
