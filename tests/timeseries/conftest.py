"""Fixtures of the time-series tests: a fresh database per test, InfluxQL, VictoriaMetrics."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from influx_target import InfluxTarget
from support.lifecycle import running
from support.services import InfluxDB1
from victoria import VictoriaMetrics

_numbers = itertools.count(1)


@pytest.fixture
def influx_db(influxdb: InfluxDB1) -> InfluxTarget:
    name = f"ts_{next(_numbers)}"
    influxdb.create_database(name)
    return InfluxTarget(influxdb.url, name)


@pytest.fixture(scope="session")
def victoria() -> Iterator[VictoriaMetrics]:
    yield from running(VictoriaMetrics)


@pytest.fixture
def victoria_with_auth() -> Iterator[VictoriaMetrics]:
    yield from running(lambda: VictoriaMetrics(basic_auth=("reemploi", "le-bon-secret")))
