"""Self-registration: refused while the platform is closed (the default); once an
administrator opens it, a request is checked field by field in French, stays pending
(no sign-in) until an administrator approves it, which creates the organisation and the
account; a refused request never signs in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reemploi.server.db.market_tables import registrations, users
from reemploi.server.db.tables import organisations
from reemploi.server.market.roles import Role

from .conftest import World, make_world

REQUEST = {
    "email": "Contact@Repair-Cafe.example",
    "name": "Dominique Martin",
    "password": "un-mot-de-passe-solide",
    "role": "workshop",
    "organisation_name": "Repair Café de Sassenage",
    "commune": "Sassenage",
}
CLOSED = "L’inscription est fermée : demandez une invitation."


def open_registration(world: World, value: bool = True) -> None:
    reply = world.client(Role.ADMIN).put("/api/market/settings", json={"open_registration": value})
    assert reply.status_code == 200 and reply.json()["open_registration"] is value


def test_registration_is_refused_while_the_platform_is_closed(world: World) -> None:
    anonymous = world.client()
    assert "/m/inscription" not in anonymous.get("/m/connexion").text
    page = anonymous.get("/m/inscription")
    assert page.status_code == 403 and CLOSED in page.text
    form = anonymous.post("/m/inscription", data=REQUEST)
    assert form.status_code == 403 and CLOSED in form.text
    api = anonymous.post("/api/market/registrations", json=REQUEST)
    assert api.status_code == 403 and api.json()["message"] == CLOSED
    with world.state.engine.connect() as conn:
        assert conn.execute(select(registrations)).all() == []


def test_open_registration_pending_until_an_administrator_approves(world: World) -> None:
    open_registration(world)
    anonymous = world.client()
    assert 'href="/m/inscription"' in anonymous.get("/m/connexion").text
    assert "Demander un compte" in anonymous.get("/m/inscription").text
    bad = anonymous.post(
        "/m/inscription",
        data={**REQUEST, "email": "pas-une-adresse", "password": "court", "role": "admin"},
    )
    assert bad.status_code == 422
    assert 'id="e-email">Saisissez une adresse électronique valide.' in bad.text
    assert 'id="e-password">Le mot de passe doit comporter au moins 10 caractères.' in bad.text
    assert 'id="e-role">Choisissez un rôle.' in bad.text
    assert "un-mot-de-passe" not in bad.text and 'value="Repair Café de Sassenage"' in bad.text
    sent = anonymous.post("/m/inscription", data=REQUEST)
    assert sent.status_code == 200 and "Votre demande est enregistrée" in sent.text
    again = anonymous.post("/api/market/registrations", json=REQUEST)
    assert again.status_code == 409
    assert (
        again.json()["fields"]["email"]
        == "Un compte ou une demande existe déjà pour cette adresse."
    )
    pending_login = anonymous.post(
        "/api/market/session", json={"email": REQUEST["email"], "password": REQUEST["password"]}
    )
    assert pending_login.status_code == 422  # nothing can be done before approval
    admin = world.client(Role.ADMIN)
    listed = admin.get("/api/market/registrations").json()
    assert [r["email"] for r in listed] == ["contact@repair-cafe.example"]
    assert "password_hash" not in listed[0]
    assert "Dominique Martin" in admin.get("/m/admin").text
    csrf = admin.headers["X-CSRF-Token"]
    decided = admin.post(
        f"/m/admin/inscriptions/{listed[0]['id']}/approuver",
        data={"csrf": csrf},
        follow_redirects=False,
    )
    assert decided.status_code == 303 and "registration_approved" in decided.headers["location"]
    twice = admin.post(f"/api/market/registrations/{listed[0]['id']}/approve")
    assert twice.status_code == 409
    signed = world.client().post(
        "/api/market/session", json={"email": REQUEST["email"], "password": REQUEST["password"]}
    )
    assert signed.status_code == 200 and signed.json()["user"]["role"] == "workshop"
    with world.state.engine.connect() as conn:
        org = signed.json()["user"]["organisation_id"]
        name = conn.execute(select(organisations.c.name).where(organisations.c.id == org))
        assert name.scalar_one() == "Repair Café de Sassenage"
    assert admin.get("/api/market/registrations").json() == []


def test_refused_registration_never_signs_in(world: World) -> None:
    open_registration(world)
    made = world.client().post("/api/market/registrations", json=REQUEST).json()
    manager = world.client(Role.METRO_MANAGER)  # invites, but does not decide registrations
    assert manager.post(f"/api/market/registrations/{made['id']}/approve").status_code == 403
    admin = world.client(Role.ADMIN)
    assert admin.post(f"/api/market/registrations/{made['id']}/refuse").status_code == 200
    assert admin.post(f"/api/market/registrations/{made['id']}/approve").status_code == 409
    login = world.client().post(
        "/api/market/session", json={"email": REQUEST["email"], "password": REQUEST["password"]}
    )
    assert login.status_code == 422
    with world.state.engine.connect() as conn:
        assert conn.execute(select(users).where(users.c.email == REQUEST["email"])).all() == []
    open_registration(world, False)  # closing again stops new requests
    other = world.client().post(
        "/api/market/registrations", json={**REQUEST, "email": "autre@exemple.example"}
    )
    assert other.status_code == 403


LIMITED = "Trop de demandes d’inscription depuis cette adresse : réessayez dans {} secondes."


def _request(n: int) -> dict[str, str]:
    return {**REQUEST, "email": f"atelier{n}@exemple.example"}


def test_one_address_records_at_most_five_requests_an_hour(world: World) -> None:
    open_registration(world)
    here = world.client()
    # refused requests (bad fields) are not counted: only recorded ones fill the queue
    assert here.post("/api/market/registrations", json={**REQUEST, "email": "x"}).status_code == 422
    for n in range(5):
        reply = here.post("/api/market/registrations", json=_request(n))
        assert reply.status_code == 200, reply.text
    sixth = here.post("/api/market/registrations", json=_request(5))
    assert sixth.status_code == 429
    message = sixth.json()["message"]
    seconds = int(message.split("dans ")[1].split(" ")[0])
    assert 3500 < seconds <= 3601 and message == LIMITED.format(seconds)
    page = here.post("/m/inscription", data=_request(6))  # the form is held back too
    assert page.status_code == 429 and "Trop de demandes d’inscription" in page.text
    assert 'value="atelier6@exemple.example"' in page.text  # what was typed is kept
    with world.state.engine.connect() as conn:
        stored = {row.email for row in conn.execute(select(registrations))}
    assert stored == {f"atelier{n}@exemple.example" for n in range(5)}
    # another address is not held back by this one
    elsewhere = TestClient(world.app, client=("203.0.113.7", 50000))  # type: ignore[arg-type]
    assert elsewhere.post("/api/market/registrations", json=_request(7)).status_code == 200


def test_the_limit_and_the_window_come_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEMPLOI_MARKET_SIGNUP_REQUESTS", "1")
    monkeypatch.setenv("REEMPLOI_MARKET_SIGNUP_WINDOW_S", "0.5")
    world = make_world(tmp_path / "market.db")
    open_registration(world)
    here = world.client()
    assert here.post("/api/market/registrations", json=_request(0)).status_code == 200
    assert here.post("/api/market/registrations", json=_request(1)).status_code == 429
    time.sleep(0.6)  # the window has passed
    assert here.post("/api/market/registrations", json=_request(1)).status_code == 200
