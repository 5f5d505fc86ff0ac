"""The writer's warm-up: a batch through the whole ingest code, rolled back, before the
first real one (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from server_world import World
from sqlalchemy import Engine, func, select

from reemploi.server.db.tables import (
    custody_events,
    dead_letters,
    devices,
    ingest_counters,
    ledger_head,
    sightings,
)
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import LocalWriter
from reemploi.server.registry import Registry


def _snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "sightings": conn.execute(select(func.count()).select_from(sightings)).scalar(),
            "events": conn.execute(select(func.count()).select_from(custody_events)).scalar(),
            "dead": conn.execute(select(func.count()).select_from(dead_letters)).scalar(),
            "counters": sorted(conn.execute(select(ingest_counters)).all()),
            "head": conn.execute(select(ledger_head)).all(),
            "seen": sorted(conn.execute(select(devices.c.id, devices.c.last_seen)).all()),
        }


def test_rehearsal_runs_every_device_through_ingest_and_writes_nothing(world: World) -> None:
    before = _snapshot(world.engine)
    registry = Registry(ttl_s=3600)
    pipeline = IngestPipeline(world.engine, registry, IngestOptions())
    with world.engine.connect() as conn:
        rehearsed = pipeline.rehearse(conn, devices_max=8)
    assert rehearsed == 8
    # the registry now holds the devices (and their sites): the first batch finds them
    cached = {key for key in registry._cache if key[0] == "device"}
    assert len(cached) == 8
    assert _snapshot(world.engine) == before


def test_writer_rehearses_on_the_connection_it_keeps(world: World) -> None:
    before = _snapshot(world.engine)
    writer = LocalWriter(IngestPipeline(world.engine, Registry(ttl_s=3600), IngestOptions()))
    writer.start()
    try:
        assert writer._conn is not None  # opened and warmed before any batch
        assert writer.pipeline.registry._cache
    finally:
        writer.stop()
    assert _snapshot(world.engine) == before


def test_rehearsal_on_an_empty_database_does_nothing(tmp_path: Any) -> None:
    from reemploi.server.db.engine import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        migrate(engine)
        pipeline = IngestPipeline(engine, Registry(), IngestOptions())
        with engine.connect() as conn:
            assert pipeline.rehearse(conn) == 0
    finally:
        engine.dispose()
