"""Fixtures for server tests: a migrated database (SQLite or PostgreSQL) loaded with the
demo territory and a few declared assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_world import World, load_world

from reemploi.server.db.engine import make_engine


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
