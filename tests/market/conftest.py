"""Fixtures of the marketplace tests: a real app on a real SQLite file, one account per
role, refurbished stock brought to ``listed`` through the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from reemploi.server.api.app import build_state, create_app
from reemploi.server.market.config import MarketSettings
from reemploi.server.market.roles import Role
from reemploi.server.market.seed import DEMO_PASSWORD, seed_listed, seed_people
from reemploi.server.settings import ServerSettings


@dataclass
class World:
    app: object
    state: object
    people: dict[Role, tuple[str, str, str]]
    listed: list[int]

    def client(self, role: Role | None = None) -> TestClient:
        client = TestClient(self.app)  # type: ignore[arg-type]
        if role is not None:
            email = self.people[role][0]
            reply = client.post(
                "/api/market/session", json={"email": email, "password": DEMO_PASSWORD}
            )
            assert reply.status_code == 200, reply.text
            client.headers["X-CSRF-Token"] = reply.json()["csrf"]
        return client


# Argon2id at its lowest cost, for tests only (production keeps RFC 9106's profile).
TEST_SETTINGS = MarketSettings(
    cookie_secure=False,
    password_time_cost=1,
    password_memory_kib=64,
    password_parallelism=1,
    secrets_key=Fernet.generate_key().decode(),  # a fresh key per test session
)


def make_world(db: Path | str, *, laptops: int = 30) -> World:
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    state = build_state(ServerSettings(database_url=url), with_ingest=False)
    app = create_app(state)
    app.state.market.settings = TEST_SETTINGS
    with state.engine.begin() as conn:
        people = seed_people(conn, hasher=TEST_SETTINGS.password_hasher())
        owner = people[Role.PUBLIC_BODY]
        workshop = people[Role.WORKSHOP]
        listed = seed_listed(
            conn,
            owner_org=owner[1],
            owner_site=owner[2],
            holder_org=workshop[1],
            holder_site=workshop[2],
            category="laptop",
            grade="A",
            ram_gb=8,
            count=laptops,
        )
    return World(app, state, people, listed)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = make_world(tmp_path / "market.db")
    yield built
    built.state.engine.dispose()  # type: ignore[attr-defined]
