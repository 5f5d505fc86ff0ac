"""Every marketplace route × every role: 401 without a session, 403 for a role without
the route's permission, never 401/403 for a role that holds it (deny by default)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from reemploi.server.market.http import PERMISSION_KEY
from reemploi.server.market.roles import GRANTS, Permission, Role, allowed

from .conftest import World

ROLE_REFUSAL = "Votre rôle ne permet pas cette action."
SIGN_OUT = {("DELETE", "/api/market/session"), ("POST", "/m/deconnexion")}


def all_routes() -> list[APIRoute]:
    """The marketplace's routes (FastAPI mounts included routers lazily)."""
    from reemploi.server.market.api import router as api_router
    from reemploi.server.market.web import router as pages_router

    return [r for r in (*api_router.routes, *pages_router.routes) if isinstance(r, APIRoute)]


def market_routes(_app: object) -> list[tuple[str, str, Permission]]:
    out = []
    for route in all_routes():
        permission = Permission((route.openapi_extra or {})[PERMISSION_KEY])
        for method in sorted(route.methods):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            out.append((method, path, permission))
    return out


def test_every_marketplace_route_names_its_permission(world: World) -> None:
    routes = market_routes(world.app)
    assert len(routes) > 50
    for route in all_routes():
        assert route.path.startswith(("/api/market/", "/m/"))
        assert PERMISSION_KEY in (route.openapi_extra or {}), route.path


def test_a_route_without_permission_cannot_be_registered() -> None:
    from reemploi.server.market.http import GuardedRouter

    router = GuardedRouter()
    with pytest.raises(TypeError):

        @router.get("/oubli")
        def forgotten() -> None:  # pragma: no cover - never registered
            return None


def test_unknown_permission_is_granted_to_nobody() -> None:
    for role in Role:
        assert allowed(role, Permission.SETTINGS) == (role is Role.ADMIN)
        assert not allowed(None, Permission.SIGNED_IN)
        assert not allowed("intrus", Permission.SIGNED_IN)
    assert set(GRANTS) == set(Permission) - {Permission.PUBLIC}


def test_matrix_role_by_endpoint(world: World) -> None:
    routes = market_routes(world.app)
    anonymous = world.client()
    checked = 0
    for method, path, permission in routes:
        if permission is Permission.PUBLIC:
            continue
        reply = anonymous.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert reply.status_code == 401, (method, path, reply.status_code)
        else:
            assert reply.status_code == 303, (method, path, reply.status_code)
            assert reply.headers["location"].startswith("/m/connexion")
    for role in Role:
        client = world.client(role)
        for method, path, permission in routes:
            if permission is Permission.PUBLIC or (method, path) in SIGN_OUT:
                continue
            reply = client.request(method, path, follow_redirects=False)
            if allowed(role, permission):
                # Allowed by role; a 403 may still come from ownership (not your unit).
                assert reply.status_code != 401, (role, method, path)
                assert ROLE_REFUSAL not in reply.text, (role, method, path)
                assert "expiré" not in reply.text or reply.status_code != 403, (role, path)
            else:
                assert reply.status_code == 403, (role, method, path, reply.status_code)
                if path.startswith("/api/"):
                    assert reply.json()["message"] == ROLE_REFUSAL
                else:
                    assert ROLE_REFUSAL in reply.text
            checked += 1
        for method, path in SIGN_OUT:  # last: they end the session
            reply = client.request(method, path, follow_redirects=False)
            assert reply.status_code in (200, 303), (role, method, path)
            assert client.get("/api/market/me").status_code == 401
            client = world.client(role)
    assert checked > 9 * 50


def test_unsafe_request_without_csrf_token_is_refused(world: World) -> None:
    client = world.client(Role.PUBLIC_BODY)
    del client.headers["X-CSRF-Token"]
    reply = client.post(
        "/api/market/lots",
        json={"request_id": "sans-jeton-01", "category": "laptop", "grade": "A", "quantity": 1},
    )
    assert reply.status_code == 403
    assert "expiré" in reply.json()["message"]


ADMIN_ONLY = {
    ("POST", "/m/admin/regles"),
    ("POST", "/m/admin/tarifs"),
    ("POST", "/m/admin/inscriptions/1/1"),
    ("GET", "/api/market/settings"),
    ("PUT", "/api/market/settings"),
    ("POST", "/api/market/maintenance"),
    ("GET", "/api/market/registrations"),
    ("POST", "/api/market/registrations/1/approve"),
    ("POST", "/api/market/registrations/1/refuse"),
    ("GET", "/api/market/organisations/1/oidc"),
    ("PUT", "/api/market/organisations/1/oidc"),
    ("DELETE", "/api/market/organisations/1/oidc"),
}


def test_settings_routes_are_reserved_to_the_administrator(world: World) -> None:
    """Rules, prices, registrations and identity providers: SETTINGS, held by admin only."""
    found = {(m, p): perm for m, p, perm in market_routes(world.app)}
    assert {route: found.get(route) for route in ADMIN_ONLY} == dict.fromkeys(
        ADMIN_ONLY, Permission.SETTINGS
    )
    assert GRANTS[Permission.SETTINGS] == frozenset({Role.ADMIN})
