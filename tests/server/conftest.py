"""Fixtures for server tests: a migrated database (SQLite or PostgreSQL) loaded with the
demo territory and a few declared assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_reader import TestReader
from server_world import COUNTER, DOCK, World, load_world, start_ingest

from reemploi.server.db.engine import make_engine
from reemploi.server.ingest.mqtt import IngestService


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reemploi.db'}"
    request.applymarker(pytest.mark.postgres)
    url: str = request.getfixturevalue("postgres_database_url")
    return url


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    try:
        yield load_world(engine)
    finally:
        engine.dispose()


@pytest.fixture
def pg_world(postgres_database_url: str) -> Iterator[World]:
    """The same world on PostgreSQL only (what the ledger writer's memory needs)."""
    engine = make_engine(postgres_database_url)
    try:
        yield load_world(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["local", "process", "hybrid"])
def ingest(world: World, mosquitto, request: pytest.FixtureRequest) -> Iterator[IngestService]:  # type: ignore[no-untyped-def]
    """The real ingest on the world's database, with the ledger written from this process,
    from a writer process, and from both by batch size (a module narrows it with an
    indirect parametrize)."""
    service = start_ingest(world.engine, mosquitto.host, mosquitto.port, request.param)
    yield service
    service.stop()


@pytest.fixture
def counter(mosquitto, ingest: IngestService) -> Iterator[TestReader]:  # type: ignore[no-untyped-def]
    reader = TestReader(mosquitto.host, mosquitto.port, *COUNTER)
    yield reader
    reader.close()


@pytest.fixture
def dock(mosquitto, ingest: IngestService) -> Iterator[TestReader]:  # type: ignore[no-untyped-def]
    reader = TestReader(mosquitto.host, mosquitto.port, *DOCK)
    yield reader
    reader.close()
