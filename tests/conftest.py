"""Shared pytest fixtures. Real services: see tests/support and docs/testing.md."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes `support` importable from any test

from support.lifecycle import running, start_or_fail
from support.processes import interrupt_on_sigterm
from support.services import InfluxDB1, Mosquitto, MosquittoSettings, Postgres

# A run stopped by SIGTERM (a CI time limit, `timeout make test`) tears its services down
# as Ctrl-C does, instead of leaving them running beside the next one.
interrupt_on_sigterm()

# Tests that use these fixtures get the matching marker (`-m "not postgres"` works).
_MARKER_FOR_FIXTURE = {
    "postgres": "postgres",
    "postgres_database_url": "postgres",
    "mosquitto": "mosquitto",
    "fresh_mosquitto": "mosquitto",
    "make_mosquitto": "mosquitto",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in _MARKER_FOR_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """A plain anonymous broker shared by the session. Do not stop it; use fresh_mosquitto."""
    yield from running(Mosquitto)


@pytest.fixture
def fresh_mosquitto() -> Iterator[Mosquitto]:
    """A broker of one's own (persistence on), free to stop()/restart() on the same port."""
    yield from running(lambda: Mosquitto(MosquittoSettings(persistence=True)))


@pytest.fixture
def make_mosquitto() -> Iterator[Callable[[MosquittoSettings], Mosquitto]]:
    """Factory: ``make_mosquitto(MosquittoSettings(...))`` → a started broker, closed after."""
    started: list[Mosquitto] = []

    def make(settings: MosquittoSettings) -> Mosquitto:
        broker = start_or_fail(lambda: Mosquitto(settings))
        started.append(broker)
        return broker

    try:
        yield make
    finally:
        for broker in started:
            broker.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster; ``postgres.url`` is a SQLAlchemy psycopg 3 URL."""
    yield from running(Postgres)


@pytest.fixture
def postgres_database_url(postgres: Postgres) -> str:
    """SQLAlchemy URL of a new, empty database for this test alone (same cluster)."""
    return postgres.create_database(f"test_{next(_database_numbers)}")


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def influxdb() -> Iterator[InfluxDB1]:
    """A throwaway InfluxDB 1.x; ``influxdb.url`` is its HTTP base URL."""
    yield from running(InfluxDB1)
