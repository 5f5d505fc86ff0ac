"""A reader's ``report`` (error counters, protocol v1) through a real Mosquitto and the real
ingest: the latest one is kept under ``status["report"]`` of the device without losing the
status fields, a later status keeps it, malformed ones are dead letters with a reason, and
``GET /api/devices`` shows it (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_reader import TestReader
from server_world import World, start_ingest
from sqlalchemy import select

from reemploi.protocol import wire
from reemploi.server.api.app import create_app
from reemploi.server.api.live import LiveHub
from reemploi.server.api.state import AppState
from reemploi.server.db.tables import dead_letters, devices
from reemploi.server.ingest.mqtt import SUBSCRIPTIONS, IngestService
from reemploi.server.registry import Registry
from reemploi.server.settings import ServerSettings

SITE, DEVICE = "cp-grenoble-hdv", "cp-grenoble-hdv-comptoir"


@pytest.fixture
def ingest(world: World, mosquitto) -> Iterator[IngestService]:  # type: ignore[no-untyped-def]
    service = start_ingest(world.engine, mosquitto.host, mosquitto.port)
    yield service
    service.stop()


@pytest.fixture
def reader(mosquitto, ingest: IngestService) -> Iterator[TestReader]:  # type: ignore[no-untyped-def]
    test_reader = TestReader(mosquitto.host, mosquitto.port, SITE, DEVICE)
    yield test_reader
    test_reader.close()


def stored_status(world: World) -> dict[str, Any]:
    with world.engine.connect() as conn:
        value = conn.execute(select(devices.c.status).where(devices.c.id == DEVICE)).scalar()
    return value if isinstance(value, dict) else {}


def wait_status(world: World, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    status = stored_status(world)
    while time.monotonic() < deadline and not ok(status):
        time.sleep(0.05)
        status = stored_status(world)
    assert ok(status), status
    return status


def dead_reasons(world: World, topic: str) -> list[str]:
    with world.engine.connect() as conn:
        rows = conn.execute(select(dead_letters.c.reason).where(dead_letters.c.topic == topic))
        return [row.reason for row in rows]


def test_ingest_subscribes_to_the_report_topic() -> None:
    assert "reemploi/v1/+/+/report" in SUBSCRIPTIONS


def test_latest_report_kept_beside_the_status_and_shown_by_the_api(
    world: World, reader: TestReader
) -> None:
    status = wire.Status(DEVICE, "online", "1.2.0", 60, 90000, 0, 0, -60, "power_on", None)
    reader.publish_raw(wire.encode_status(status), kind="status")
    wait_status(world, lambda s: s.get("uptime") == 60)

    first = wire.Report(DEVICE, {"scans": 4, "nfc_crc": 1}, "rep-1", 1_764_000_000_000)
    reader.publish_raw(wire.encode_report(first), kind="report")
    got = wait_status(world, lambda s: "report" in s)
    assert got["report"]["counters"] == {"nfc_crc": 1, "scans": 4}
    assert (got["report"]["id"], got["report"]["clock"]) == ("rep-1", 1_764_000_000_000)
    assert (got["fw"], got["uptime"], got["state"]) == ("1.2.0", 60, "online")  # kept

    latest = wire.Report(DEVICE, {"scans": 9, "nfc_crc": 2}, "rep-2", None)
    reader.publish_raw(wire.encode_report(latest), kind="report")
    wait_status(world, lambda s: s.get("report", {}).get("id") == "rep-2")

    later = wire.Status(DEVICE, "online", "1.2.0", 120, 88000, 1, 0, -61, "power_on", None)
    reader.publish_raw(wire.encode_status(later), kind="status")
    got = wait_status(world, lambda s: s.get("uptime") == 120)
    assert got["report"]["id"] == "rep-2" and got["report"]["counters"]["scans"] == 9
    assert got["queue"] == 1

    reader.publish_raw(wire.offline_status(DEVICE), kind="status")  # the last will
    got = wait_status(world, lambda s: s.get("state") == "offline")
    assert got["report"]["id"] == "rep-2" and "uptime" not in got

    state = AppState(ServerSettings(), world.engine, Registry(), LiveHub())
    with TestClient(create_app(state)) as client:
        listed = client.get("/api/devices")
    assert listed.status_code == 200
    row = next(d for d in listed.json() if d["id"] == DEVICE)
    assert row["online"] is False
    assert row["status"]["report"]["counters"] == {"nfc_crc": 2, "scans": 9}


def test_malformed_report_is_a_dead_letter_and_changes_nothing(
    world: World, reader: TestReader
) -> None:
    good = wire.Report(DEVICE, {"scans": 1}, "rep-ok")
    reader.publish_raw(wire.encode_report(good), kind="report")
    wait_status(world, lambda s: s.get("report", {}).get("id") == "rep-ok")

    topic = wire.topic(SITE, DEVICE, "report")
    reader.publish_raw(
        b'{"v":1,"device":"' + DEVICE.encode() + b'","counters":{"Bad":1}}', "report"
    )
    other = wire.Report("atelier-pdc-quai", {"scans": 2}, "rep-other")
    reader.publish_raw(wire.encode_report(other), kind="report")
    reader.publish_raw(b"{not json", kind="report")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(dead_reasons(world, topic)) < 3:
        time.sleep(0.05)
    assert sorted(dead_reasons(world, topic)) == ["bad_field", "bad_json", "device_mismatch"]
    assert stored_status(world)["report"]["id"] == "rep-ok"
