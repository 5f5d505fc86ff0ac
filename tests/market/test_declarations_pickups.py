"""Declarations (one, CSV, rack), claims, pickups and the hand-over signed by both sides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from reemploi.server import ledger
from reemploi.server.db.market_tables import declarations
from reemploi.server.db.tables import assets, custody_events
from reemploi.server.market.roles import Role

from .conftest import World

SOON = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()


def declare_two(world: World, request_id: str = "decl-000001") -> dict:
    client = world.client(Role.PUBLIC_BODY)
    body = {
        "request_id": request_id,
        "planned_date": SOON,
        "items": [
            {"category": "laptop", "description": "Latitude 5490", "serial": "A1", "ram_gb": 8},
            {"category": "screen", "serial": "B2"},
        ],
    }
    reply = client.post("/api/market/declarations", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_declaration_twice_is_one_declaration(world: World) -> None:
    first = declare_two(world)
    again = declare_two(world)
    assert first["created"] is True and again == {"id": first["id"], "created": False}
    with world.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(declarations)).scalar_one() == 1
        states = conn.execute(select(assets.c.state).where(assets.c.serial.in_(["A1", "B2"])))
        assert sorted(states.scalars()) == ["declared", "declared"]


def test_bad_declaration_is_refused_field_by_field_in_french(world: World) -> None:
    client = world.client(Role.PUBLIC_BODY)
    reply = client.post(
        "/api/market/declarations",
        json={
            "request_id": "decl-bad-01",
            "planned_date": "2001-01-01",
            "items": [{"category": "frigo", "ram_gb": "beaucoup"}],
        },
    )
    assert reply.status_code == 422
    fields = reply.json()["fields"]
    assert fields["items.0.category"] == "Choisissez une catégorie."
    assert fields["items.0.ram_gb"] == "Saisissez un nombre entier valide."
    reply = client.post(
        "/api/market/declarations",
        json={
            "request_id": "decl-bad-02",
            "planned_date": "2001-01-01",
            "items": [{"category": "laptop"}],
        },
    )
    assert reply.json()["fields"] == {"planned_date": "La date prévue ne peut pas être passée."}


def test_csv_declaration_reports_the_bad_line(world: World) -> None:
    client = world.client(Role.COMPANY)
    bad = "category;serial;ram_gb\nlaptop;S1;8\ngrille-pain;S2;4\n"
    reply = client.post(
        "/api/market/declarations/csv",
        data={"request_id": "csv-0000001", "planned_date": SOON},
        files={"file": ("parc.csv", bad.encode(), "text/csv")},
    )
    assert reply.status_code == 422
    assert reply.json()["fields"] == {"line 3: category": "Choisissez une catégorie."}
    good = "category,serial,ram_gb,year\nlaptop,S1,8,2019\ndesktop,S2,16,2018\nscreen,S3,,\n"
    reply = client.post(
        "/api/market/declarations/csv",
        data={"request_id": "csv-0000002", "planned_date": SOON},
        files={"file": ("parc.csv", good.encode(), "text/csv")},
    )
    assert reply.status_code == 200 and reply.json()["items"] == 3


def test_rack_declaration_needs_its_location(world: World) -> None:
    client = world.client(Role.PUBLIC_BODY)
    rack = {
        "request_id": "rack-000001",
        "kind": "rack",
        "planned_date": SOON,
        "items": [{"category": "server", "serial": f"SRV{n}"} for n in range(4)],
    }
    reply = client.post("/api/market/declarations", json=rack)
    assert reply.status_code == 422 and "location" in reply.json()["fields"]
    rack["location"] = "Bâtiment B, salle serveurs, travée 3"
    reply = client.post("/api/market/declarations", json=rack)
    assert reply.status_code == 200
    mine = client.get("/api/market/declarations").json()
    assert mine[0]["kind"] == "rack" and len(mine[0]["items"]) == 4


def test_claim_first_come_then_conflict_then_hand_over_signed_by_both(world: World) -> None:
    declaration = declare_two(world)["id"]
    workshop = world.client(Role.WORKSHOP)
    supply = workshop.get("/api/market/supply/declared").json()
    assert [d["id"] for d in supply] == [declaration] and supply[0]["units"] == 2
    claim = workshop.post(
        f"/api/market/declarations/{declaration}/claim", json={"request_id": "claim-000001"}
    )
    assert claim.status_code == 200 and claim.json()["created"] is True
    replay = workshop.post(
        f"/api/market/declarations/{declaration}/claim", json={"request_id": "claim-000001"}
    )
    assert replay.json() == {"pickup": claim.json()["pickup"], "created": False}
    other = world.client(Role.RESELLER).post(
        f"/api/market/declarations/{declaration}/claim", json={"request_id": "claim-000002"}
    )
    assert other.status_code == 409
    assert other.json()["message"] == "Une autre structure a déjà réservé ce lot."
    pickup = claim.json()["pickup"]
    giver = world.client(Role.PUBLIC_BODY)
    assert giver.post(f"/api/market/pickups/{pickup}/sign").json()["status"] == "scheduled"
    outsider = world.client(Role.COMPANY).post(f"/api/market/pickups/{pickup}/sign")
    assert outsider.status_code == 403
    done = workshop.post(f"/api/market/pickups/{pickup}/sign").json()
    assert done["status"] == "handed_over" and len(done["events"]) == 2
    with world.state.engine.connect() as conn:
        rows = conn.execute(
            select(custody_events.c.document)
            .where(custody_events.c.step == "collect")
            .order_by(custody_events.c.position.desc())
            .limit(2)
        ).scalars()
        for text in rows:
            handover = json.loads(text)["reemploi:handover"]
            assert handover["giver"]["name"].startswith("Mairie de Grenoble")
            assert handover["taker"]["name"].startswith("Atelier Reconditionnement")
        held = conn.execute(
            select(assets.c.state, assets.c.holder_org_id).where(assets.c.serial.in_(["A1", "B2"]))
        ).all()
        assert {(s, o) for s, o in held} == {("collected", world.people[Role.WORKSHOP][1])}
        assert ledger.verify(conn) == []
    again = workshop.post(f"/api/market/pickups/{pickup}/sign")
    assert again.status_code == 409


def test_fair_rotation_holds_back_an_actor_with_an_open_pickup(world: World) -> None:
    admin = world.client(Role.ADMIN)
    assert admin.put("/api/market/settings", json={"claim_rule": "rotation"}).status_code == 200
    assert admin.put("/api/market/settings", json={"claim_rule": "loterie"}).status_code == 422
    first = declare_two(world, "decl-rot-001")["id"]
    second = declare_two(world, "decl-rot-002")["id"]
    workshop = world.client(Role.WORKSHOP)
    assert (
        workshop.post(
            f"/api/market/declarations/{first}/claim", json={"request_id": "claim-rot-01"}
        ).status_code
        == 200
    )
    refused = workshop.post(
        f"/api/market/declarations/{second}/claim", json={"request_id": "claim-rot-02"}
    )
    assert refused.status_code == 409 and "Rotation équitable" in refused.json()["message"]
    assert (
        world.client(Role.RESELLER)
        .post(f"/api/market/declarations/{second}/claim", json={"request_id": "claim-rot-03"})
        .status_code
        == 200
    )


def test_forecast_counts_planned_declarations_by_month(world: World) -> None:
    declare_two(world)
    rows = world.client(Role.METRO_MANAGER).get("/api/market/forecast").json()
    month = SOON[:7]
    planned = {(r["month"], r["category"]): r["planned"] for r in rows}
    assert planned[(month, "laptop")] == 1 and planned[(month, "screen")] == 1
    assert len({r["month"] for r in rows}) == 6
