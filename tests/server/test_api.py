"""HTTP API on a real database: search, one asset with its chain of custody, sites,
stock, ingest counters, the EPCIS 2.0 export validated against the official schema, and
errors as JSON in French."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient
from server_world import LAPTOP_GIAI, RESOLVER, SCREEN_GIAI, World

from reemploi.protocol import wire
from reemploi.server.api.app import create_app
from reemploi.server.api.live import LiveHub
from reemploi.server.api.state import AppState
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.registry import Registry
from reemploi.server.settings import ServerSettings

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "standards" / "EPCIS-JSON-Schema.json"


def feed(world: World, device: str, site: str, seq: int, uri: str) -> None:
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    scan = wire.Scan(device, seq, wire.KIND_NDEF_URI, uri, None, None)
    result = pipeline.process(
        [Incoming(wire.topic(site, device, "scan"), wire.encode_scan(scan), datetime.now(UTC))]
    )
    assert [wire.decode_ack(a.payload).result for a in result.acks] == ["accepted"]


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    state = AppState(ServerSettings(), world.engine, Registry(), LiveHub())
    feed(world, "cp-grenoble-hdv-comptoir", "cp-grenoble-hdv", 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
    feed(world, "atelier-pdc-quai", "atelier-pont-de-claix", 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
    feed(world, "atelier-pdc-diag", "atelier-pont-de-claix", 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
    feed(world, "cp-grenoble-hdv-comptoir", "cp-grenoble-hdv", 1, f"{RESOLVER}/8004/{SCREEN_GIAI}")
    with TestClient(create_app(state)) as test_client:
        yield test_client


def test_asset_search_filters_by_category_state_and_site(client: TestClient) -> None:
    body = client.get("/api/assets", params={"category": "laptop"}).json()
    assert body["total"] == 1 and body["items"][0]["epc"].endswith(LAPTOP_GIAI)
    body = client.get("/api/assets", params={"state": "collected"}).json()
    assert [i["epc"].rsplit("/", 1)[1] for i in body["items"]] == [SCREEN_GIAI]
    assert body["items"][0]["state_label"] == "collecté"
    body = client.get("/api/assets", params={"site": "atelier-pont-de-claix"}).json()
    assert body["total"] == 1
    assert client.get("/api/assets", params={"q": "SCR0000"}).json()["total"] == 1


def test_one_asset_shows_current_holder_and_full_chain(client: TestClient, world: World) -> None:
    laptop = world.assets[LAPTOP_GIAI]
    body = client.get(f"/api/assets/{laptop}").json()
    assert body["state"] == "inspected"
    assert body["holder"]["site"]["id"] == "atelier-pont-de-claix"
    assert body["holder"]["organisation"]["id"] == "atelier-sud"
    assert [e["step"] for e in body["custody"]] == ["declare", "collect", "receive", "inspect"]
    assert [e["step_label"] for e in body["custody"]][-1] == "diagnostiquer"
    assert all(e["event_hash"].startswith("ni:///sha-256;") for e in body["custody"])
    by_epc = client.get(f"/api/assets/https://id.gs1.org/8004/{LAPTOP_GIAI}").json()
    assert by_epc["id"] == laptop


def test_sites_and_stock_per_site(client: TestClient) -> None:
    sites = client.get("/api/sites").json()
    assert {s["id"] for s in sites} >= {"cp-grenoble-hdv", "tri-sassenage", "recyclage-domene"}
    stock = client.get("/api/stock").json()
    assert stock["total"] == 1
    (row,) = stock["items"]
    assert (row["site_id"], row["category"], row["state"], row["units"]) == (
        "atelier-pont-de-claix",
        "laptop",
        "inspected",
        1,
    )
    assert client.get("/api/stock", params={"category": "screen"}).json()["total"] == 0


def test_epcis_export_is_valid_against_the_official_schema(client: TestClient) -> None:
    assert SCHEMA.exists(), f"official EPCIS schema missing at {SCHEMA} (../shared/standards)"
    assert "uri" in jsonschema.FormatChecker().checkers, "rfc3987 missing: URIs would go unchecked"
    response = client.get("/api/epcis/events")
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    validator = jsonschema.Draft7Validator(
        json.loads(SCHEMA.read_text(encoding="utf-8")), format_checker=jsonschema.FormatChecker()
    )
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []
    steps = [e.get("bizStep") for e in document["epcisBody"]["eventList"]]
    assert steps.count("commissioning") == 3 and "receiving" in steps and "inspecting" in steps
    laptop_only = client.get("/api/epcis/events", params={"asset_id": 1}).json()
    assert len(laptop_only["epcisBody"]["eventList"]) == 4


def test_ingest_stats_and_dead_letters_are_visible(client: TestClient, world: World) -> None:
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    pipeline.process(
        [
            Incoming(
                "reemploi/v1/cp-grenoble-hdv/cp-grenoble-hdv-comptoir/scan",
                b"not json",
                datetime.now(UTC),
            )
        ]
    )
    stats = client.get("/api/ingest/stats").json()
    assert stats["dead_letters_by_reason"] == {"bad_json": 1}
    assert stats["counters"]["dead_letter:bad_json"] == 1
    assert stats["sightings_by_result"]["accepted"] == 4
    assert stats["ledger_events"] == 7
    letters = client.get("/api/ingest/dead-letters").json()
    assert letters[0]["payload"] == "not json" and letters[0]["reason"] == "bad_json"


def test_errors_are_json_in_french(client: TestClient) -> None:
    missing = client.get("/api/assets/99999")
    assert missing.status_code == 404
    assert missing.json() == {"error": 404, "message": "Matériel introuvable : 99999"}
    bad = client.get("/api/assets", params={"state": "flying", "limit": 0})
    assert bad.status_code == 422
    body = bad.json()
    assert body["message"] == "Paramètres invalides"
    assert {d["champ"] for d in body["details"]} == {"query.state", "query.limit"}
    assert client.get("/nulle-part").json()["message"] == "Ressource introuvable"


def test_health_reports_database_and_openapi_is_served(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["database"] is True
    assert body["mqtt"] == {"configured": False}
    spec = client.get("/openapi.json").json()
    assert {"/api/assets", "/api/stock", "/api/epcis/events", "/api/health"} <= set(spec["paths"])


def test_home_page_is_french(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text and "Stock réemployable par site" in page.text
    assert client.get("/static/app.js").status_code == 200
