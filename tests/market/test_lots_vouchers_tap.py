"""Lots, quotes and reservations (one winner), expiry, sale; solidarity vouchers; the
phone tap through the ingest pipeline; sign-in limits; catalogues."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from reemploi.server import ledger
from reemploi.server.db.market_tables import lots, vouchers
from reemploi.server.db.tables import assets, custody_events
from reemploi.server.market.roles import Role

from .conftest import World, make_world


def ask_lot(client, request_id: str, quantity: int = 5) -> int:  # type: ignore[no-untyped-def]
    reply = client.post(
        "/api/market/lots",
        json={
            "request_id": request_id,
            "category": "laptop",
            "grade": "A",
            "quantity": quantity,
            "min_ram_gb": 8,
        },
    )
    assert reply.status_code == 200, reply.text
    return int(reply.json()["id"])


def states(world: World, ids: list[int]) -> list[str]:
    with world.state.engine.connect() as conn:
        return list(conn.execute(select(assets.c.state).where(assets.c.id.in_(ids))).scalars())


def test_lot_quote_pdf_then_reserve_then_sell(world: World) -> None:
    buyer = world.client(Role.PUBLIC_BODY)
    lot = ask_lot(buyer, "lot-0000001")
    assert ask_lot(buyer, "lot-0000001") == lot  # a double click is one lot
    pdf = buyer.get(f"/api/market/lots/{lot}/quote.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert b"Devis" in pdf.content and b"AGEC" in pdf.content
    too_many = buyer.post(
        "/api/market/lots",
        json={"request_id": "lot-0000002", "category": "laptop", "grade": "A", "quantity": 40},
    )
    assert too_many.status_code == 422
    assert too_many.json()["fields"]["quantity"].startswith(
        "Seules 27 unités"
    )  # a quote does not hold units
    accepted = buyer.post(f"/api/market/lots/{lot}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "reserved"
    units = [u for u in world.listed if states(world, [u]) == ["reserved"]]
    assert len(units) == 5
    assert (
        world.client(Role.RESELLER)
        .post(f"/api/market/lots/{lot}/fulfil", json={"outcome": "sold"})
        .status_code
        == 403
    )  # not the holder
    sold = world.client(Role.WORKSHOP).post(
        f"/api/market/lots/{lot}/fulfil", json={"outcome": "sold"}
    )
    assert sold.json()["status"] == "sold"
    with world.state.engine.connect() as conn:
        owners = set(
            conn.execute(
                select(assets.c.owner_id, assets.c.holder_org_id, assets.c.state).where(
                    assets.c.id.in_(units)
                )
            ).all()
        )
        assert {(h, s) for _o, h, s in owners} == {(world.people[Role.PUBLIC_BODY][1], "sold")}
        steps = list(
            conn.execute(
                select(custody_events.c.step)
                .where(custody_events.c.asset_id == units[0])
                .order_by(custody_events.c.position)
            ).scalars()
        )
        assert steps[-2:] == ["reserve", "sell"]
        assert ledger.verify(conn) == []


def test_two_buyers_reserving_the_same_units_at_once_exactly_one_wins(world: World) -> None:
    assert race_for_the_same_units(world) == [200, 409]


def test_exactly_one_winner_on_postgresql(postgres_database_url: str) -> None:
    """The same race on PostgreSQL: row locks, not SQLite's single writer, decide it."""
    world = make_world(postgres_database_url)
    try:
        assert world.state.engine.dialect.name == "postgresql"  # type: ignore[attr-defined]
        for round_ in range(3):  # a lost race may be luck once, not three times
            race_for_the_same_units(world, f"-{round_}")
            with world.state.engine.begin() as conn:  # type: ignore[attr-defined]
                conn.execute(
                    update(lots)
                    .where(lots.c.status == "reserved")
                    .values(reserved_until=datetime(2020, 1, 1, tzinfo=UTC))
                )
            released = world.client(Role.ADMIN).post("/api/market/maintenance").json()
            assert released["released"] == 1  # the units go back for the next round
    finally:
        world.state.engine.dispose()  # type: ignore[attr-defined]


def race_for_the_same_units(world: World, tag: str = "") -> list[int]:
    a = world.client(Role.PUBLIC_BODY)
    b = world.client(Role.COMPANY)
    lot_a, lot_b = ask_lot(a, f"lot-race-a{tag}", 10), ask_lot(b, f"lot-race-b{tag}", 10)
    barrier = threading.Barrier(2)
    replies: dict[str, object] = {}

    def accept(name: str, client, lot: int) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        replies[name] = client.post(f"/api/market/lots/{lot}/accept")

    threads = [
        threading.Thread(target=accept, args=("a", a, lot_a)),
        threading.Thread(target=accept, args=("b", b, lot_b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in replies.values())  # type: ignore[attr-defined]
    assert codes == [200, 409]
    loser = next(r for r in replies.values() if r.status_code == 409)  # type: ignore[attr-defined]
    assert "n’est plus disponible" in loser.json()["message"]  # type: ignore[attr-defined]
    with world.state.engine.connect() as conn:
        reserved = conn.execute(select(assets.c.id).where(assets.c.state == "reserved")).all()
        assert len(reserved) == 10
        statuses = conn.execute(select(lots.c.status).where(lots.c.id.in_([lot_a, lot_b])))
        assert sorted(statuses.scalars()) == ["quoted", "reserved"]
        assert ledger.verify(conn) == []
    return codes


def test_expired_reservation_is_released_through_the_ledger(world: World) -> None:
    buyer = world.client(Role.PUBLIC_BODY)
    lot = ask_lot(buyer, "lot-expire-1", 3)
    buyer.post(f"/api/market/lots/{lot}/accept")
    with world.state.engine.begin() as conn:
        conn.execute(update(lots).values(reserved_until=datetime.now(UTC) - timedelta(hours=1)))
    result = world.client(Role.ADMIN).post("/api/market/maintenance").json()
    assert result["released"] == 1
    with world.state.engine.connect() as conn:
        assert conn.execute(select(lots.c.status)).scalar_one() == "released"
        released = conn.execute(
            select(custody_events.c.step, custody_events.c.state_to).where(
                custody_events.c.step == "release"
            )
        ).all()
        assert [tuple(r) for r in released] == [("release", "listed")] * 3
    late = world.client(Role.WORKSHOP).post(
        f"/api/market/lots/{lot}/fulfil", json={"outcome": "sold"}
    )
    assert late.status_code == 409


def test_voucher_single_use_expiry_and_rgpd(world: World) -> None:
    ngo = world.client(Role.NGO)
    issued = ngo.post(
        "/api/market/vouchers",
        json={"request_id": "bon-0000001", "category": "laptop", "eligibility": "social_minimum"},
    )
    assert issued.status_code == 200
    code = issued.json()["code"]
    assert "<svg" in issued.json()["qr_svg"]
    replay = ngo.post(
        "/api/market/vouchers",
        json={"request_id": "bon-0000001", "category": "laptop", "eligibility": "social_minimum"},
    )
    assert replay.json()["id"] == issued.json()["id"] and replay.json()["code"] is None
    shop = world.client(Role.WORKSHOP)
    pool = shop.get("/api/market/solidarity/stock").json()
    assert len(pool) == 3 and all(u["solidarity"] for u in pool)
    not_pool = shop.post(
        "/api/market/vouchers/redeem", json={"code": code, "asset_id": world.listed[-1]}
    )
    assert not_pool.status_code == 409
    assert shop.post("/api/market/vouchers/check", json={"code": code.lower()}).status_code == 200
    done = shop.post("/api/market/vouchers/redeem", json={"code": code, "asset_id": pool[0]["id"]})
    assert done.status_code == 200 and states(world, [pool[0]["id"]]) == ["donated"]
    reused = shop.post(
        "/api/market/vouchers/redeem", json={"code": code, "asset_id": pool[1]["id"]}
    )
    assert reused.status_code == 409 and reused.json()["message"] == "Ce bon a déjà été utilisé."
    old = ngo.post(
        "/api/market/vouchers",
        json={"request_id": "bon-0000002", "category": "laptop", "eligibility": "jobseeker"},
    ).json()
    with world.state.engine.begin() as conn:
        conn.execute(
            update(vouchers)
            .where(vouchers.c.id == old["id"])
            .values(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    expired = shop.post(
        "/api/market/vouchers/redeem", json={"code": old["code"], "asset_id": pool[1]["id"]}
    )
    assert (
        expired.status_code == 409 and expired.json()["message"] == "Ce bon a expiré le 2020-01-01."
    )
    exported = ngo.post("/api/market/vouchers/export", json={"code": code}).json()
    assert exported["critere_eligibilite"] == "social_minimum" and exported["statut"] == "redeemed"
    assert (
        world.client(Role.COMPANY)
        .post("/api/market/vouchers/export", json={"code": code})
        .status_code
        == 403
    )
    assert ngo.post("/api/market/vouchers/erase", json={"code": code}).status_code == 200
    assert (
        ngo.post("/api/market/vouchers/export", json={"code": code}).json()["critere_eligibilite"]
        is None
    )
    with world.state.engine.connect() as conn:
        columns = set(vouchers.c.keys())
        assert not columns & {"name", "first_name", "birth_date", "address", "phone", "email"}
        assert ledger.verify(conn) == []


def test_phone_tap_goes_through_the_ingest_pipeline(world: World) -> None:
    owner = world.client(Role.PUBLIC_BODY)
    soon = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    owner.post(
        "/api/market/declarations",
        json={"request_id": "decl-tap-01", "planned_date": soon, "items": [{"category": "laptop"}]},
    )
    epc = owner.get("/api/market/declarations").json()[0]["items"][0]["epc"]
    staff = world.client(Role.COLLECTION_POINT)
    device = staff.get("/api/market/tap/device").json()
    assert device["device"].startswith("phone-u") and device["next_seq"] == 1
    first = staff.post("/api/market/tap", json={"seq": 1, "kind": "qr", "data": epc, "clock": None})
    assert first.json() == {
        "result": "accepted",
        "reason": None,
        "duplicate": False,
        "feedback": "accept",
        "seq": 1,
    }
    replay = staff.post("/api/market/tap", json={"seq": 1, "kind": "qr", "data": epc})
    assert replay.json()["duplicate"] is True and replay.json()["result"] == "accepted"
    unknown = staff.post(
        "/api/market/tap",
        json={"seq": 2, "kind": "qr", "data": "https://id.gs1.org/8004/9521234INCONNU"},
    )
    assert unknown.json()["result"] == "unknown_tag"
    garbage = staff.post(
        "/api/market/tap", json={"seq": 3, "kind": "ndef_uri", "data": "pas une url"}
    )
    assert garbage.status_code == 422
    with world.state.engine.connect() as conn:
        assert (
            conn.execute(select(assets.c.state).where(assets.c.epc == epc)).scalar_one()
            == "collected"
        )
    assert staff.get("/api/market/tap/device").json()["next_seq"] == 3


def test_login_is_rate_limited(world: World) -> None:
    client = world.client()
    email = world.people[Role.NGO][0]
    for _ in range(5):
        wrong = client.post("/api/market/session", json={"email": email, "password": "mauvais-mdp"})
        assert wrong.status_code == 422
        assert wrong.json()["message"] == "Adresse électronique ou mot de passe incorrect."
    blocked = client.post("/api/market/session", json={"email": email, "password": "mauvais-mdp"})
    assert blocked.status_code == 429 and "Trop de tentatives" in blocked.json()["message"]


def test_invitation_creates_an_account_once(world: World) -> None:
    manager = world.client(Role.METRO_MANAGER)
    made = manager.post(
        "/api/market/invitations",
        json={
            "email": "dsi@saint-egreve.example",
            "role": "public_body",
            "organisation_name": "Mairie de Saint-Égrève",
            "commune": "Saint-Égrève",
        },
    ).json()
    anonymous = world.client()
    page = anonymous.get(made["link"])
    assert page.status_code == 200 and "Mairie de Saint-Égrève" in page.text
    short = anonymous.post(
        f"/api/market/invitations/{made['token']}/accept",
        json={"name": "Camille", "password": "court"},
    )
    assert short.status_code == 422 and "10 caractères" in short.json()["fields"]["password"]
    ok = anonymous.post(
        f"/api/market/invitations/{made['token']}/accept",
        json={"name": "Camille", "password": "un-mot-de-passe-long"},
    )
    assert ok.status_code == 200 and ok.json()["user"]["role"] == "public_body"
    again = anonymous.post(
        f"/api/market/invitations/{made['token']}/accept",
        json={"name": "Camille", "password": "un-mot-de-passe-long"},
    )
    assert again.status_code == 404
