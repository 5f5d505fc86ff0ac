"""OIDC sign-in (authorization code + PKCE) against a real provider on 127.0.0.1: the
happy path through an invitation, then every check that must refuse: bad signature,
wrong audience, wrong nonce, expired token, wrong issuer, unverified or unknown
address, another organisation's account, a replayed or foreign answer."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import select, update

from reemploi.server.db.market_tables import oidc_providers, oidc_requests, users
from reemploi.server.market.config import MarketSettings
from reemploi.server.market.roles import Role

from .conftest import World
from .oidc_provider import LocalProvider, Person


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    running = LocalProvider().start()
    yield running
    running.close()


def org_of(world: World, role: Role) -> str:
    return world.people[role][1]


def configure(world: World, provider: LocalProvider, role: Role = Role.PUBLIC_BODY) -> str:
    org = org_of(world, role)
    reply = world.client(Role.ADMIN).put(
        f"/api/market/organisations/{org}/oidc",
        json={
            "issuer": provider.url,
            "client_id": provider.client_id,
            "client_secret": provider.client_secret,
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["client_secret_set"] is True and "client_secret" not in reply.json()
    return org


def invite(world: World, email: str, org: str, role: str = "public_body") -> None:
    reply = world.client(Role.METRO_MANAGER).post(
        "/api/market/invitations", json={"email": email, "role": role, "organisation_id": org}
    )
    assert reply.status_code == 200, reply.text


def start(client: TestClient, org: str) -> str:
    """Start at the app; return the provider's authorisation URL."""
    reply = client.get(
        "/m/oidc/debut", params={"organisation": org, "suite": "/m/stock"}, follow_redirects=False
    )
    assert reply.status_code == 303, reply.text
    return str(reply.headers["location"])


def at_provider(url: str) -> str:
    """The browser at the provider (already signed in there): the redirect back."""
    reply = httpx.get(url, follow_redirects=False)
    assert reply.status_code == 302, reply.text
    return str(reply.headers["location"])


def sign_in(client: TestClient, org: str) -> httpx.Response:
    return client.get(at_provider(start(client, org)), follow_redirects=False)


def test_oidc_sign_in_through_an_invitation_then_as_the_account(
    world: World, provider: LocalProvider
) -> None:
    org = configure(world, provider)
    invite(world, "agent@ville.example", org)
    client = world.client()
    login_page = client.get("/m/connexion")
    assert "Continuer avec ma structure" in login_page.text and org in login_page.text
    url = start(client, org)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.url + "/authorize")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["response_type"] == ["code"] and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == ["http://testserver/m/oidc/retour"]
    assert query["nonce"][0] and query["state"][0]
    back = client.get(at_provider(url), follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/m/stock"
    me = client.get("/api/market/me").json()["user"]
    assert me["email"] == "agent@ville.example" and me["role"] == "public_body"
    assert me["organisation_id"] == org and me["name"] == "Personne de test"
    sent = provider.token_requests[-1]
    assert sent["client_secret"] == provider.client_secret and len(sent["code_verifier"]) == 64
    with world.state.engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == "agent@ville.example")).one()
        assert row.password_hash is None  # OIDC-only account: no password to steal
        assert conn.execute(select(oidc_requests)).all() == []  # the request was used up
    again = world.client()
    assert sign_in(again, org).status_code == 303  # the invitation is spent: the account
    assert again.get("/api/market/me").json()["user"]["id"] == me["id"]
    password = world.client().post(
        "/api/market/session", json={"email": "agent@ville.example", "password": ""}
    )
    assert password.status_code == 422


REFUSALS = {
    "bad_signature": "La signature de l’identité n’est pas valide",
    "wrong_audience": "L’identité a été émise pour une autre application",
    "wrong_nonce": "L’identité ne répond pas à cette demande de connexion",
    "expired": "L’identité a expiré",
    "wrong_issuer": "L’identité a été émise par un autre service",
}


@pytest.mark.parametrize("fault", sorted(REFUSALS))
def test_oidc_refuses_a_bad_id_token(world: World, provider: LocalProvider, fault: str) -> None:
    org = configure(world, provider)
    invite(world, "agent@ville.example", org)
    provider.fault = fault
    client = world.client()
    refused = sign_in(client, org)
    assert refused.status_code == 401
    assert REFUSALS[fault] in refused.text and 'role="alert"' in refused.text
    assert client.get("/api/market/me").status_code == 401
    with world.state.engine.connect() as conn:
        made = conn.execute(select(users.c.id).where(users.c.email == "agent@ville.example"))
        assert made.all() == []
    provider.fault = None  # the same invitation still works with a good token
    assert sign_in(client, org).status_code == 303


def test_oidc_denies_by_default(world: World, provider: LocalProvider) -> None:
    org = configure(world, provider)
    client = world.client()
    unknown = sign_in(client, org)  # verified address, but no account and no invitation
    assert unknown.status_code == 401 and "aucun compte dans cette structure" in unknown.text
    invite(world, "agent@ville.example", org)
    provider.person = Person("u-1", "agent@ville.example", email_verified=False)
    unverified = sign_in(client, org)
    assert unverified.status_code == 401 and "n’a pas vérifié votre adresse" in unverified.text
    # An account of another organisation cannot be taken over through this provider.
    provider.person = Person("u-2", world.people[Role.NGO][0])
    other = sign_in(client, org)
    assert other.status_code == 401 and "aucun compte dans cette structure" in other.text
    # The answer is single use, and only for the browser that started the request.
    provider.person = Person("u-1", "agent@ville.example")
    back = at_provider(start(client, org))
    stranger = world.client()
    foreign = stranger.get(back, follow_redirects=False)
    assert foreign.status_code == 401 and "un autre navigateur" in foreign.text
    assert client.get(back, follow_redirects=False).status_code == 303
    replayed = client.get(back, follow_redirects=False)
    assert replayed.status_code == 401
    # An organisation without a provider has no OIDC sign-in at all.
    none = world.client().get(
        "/m/oidc/debut", params={"organisation": org_of(world, Role.NGO)}, follow_redirects=False
    )
    assert none.status_code == 404


def test_provider_settings_are_checked_and_reserved_to_the_administrator(
    world: World, provider: LocalProvider
) -> None:
    org = org_of(world, Role.COMPANY)
    admin = world.client(Role.ADMIN)
    bad = admin.put(
        f"/api/market/organisations/{org}/oidc",
        json={"issuer": "http://annuaire.example", "client_id": ""},
    )
    assert bad.status_code == 422
    assert bad.json()["fields"] == {
        "issuer": "Saisissez l’adresse du fournisseur, commençant par https://.",
        "client_id": "Saisissez l’identifiant client donné par le fournisseur.",
    }
    assert (
        admin.put(
            "/api/market/organisations/inconnue/oidc",
            json={"issuer": provider.url, "client_id": "x"},
        ).status_code
        == 404
    )
    manager = world.client(Role.METRO_MANAGER)
    assert (
        manager.put(
            f"/api/market/organisations/{org}/oidc",
            json={"issuer": provider.url, "client_id": "x"},
        ).status_code
        == 403
    )
    public = admin.put(
        f"/api/market/organisations/{org}/oidc",
        json={"issuer": provider.url + "/", "client_id": "public-client"},
    ).json()
    assert public["issuer"] == provider.url and public["client_secret_set"] is False
    assert admin.get(f"/api/market/organisations/{org}/oidc").json()["client_id"] == "public-client"
    assert admin.delete(f"/api/market/organisations/{org}/oidc").status_code == 200
    assert admin.get(f"/api/market/organisations/{org}/oidc").status_code == 404


def _stored_secret(world: World, org: str) -> str | None:
    with world.state.engine.connect() as conn:
        return conn.execute(
            select(oidc_providers.c.client_secret).where(oidc_providers.c.organisation_id == org)
        ).scalar_one()


def test_the_client_secret_is_kept_encrypted(world: World, provider: LocalProvider) -> None:
    org = configure(world, provider)
    stored = _stored_secret(world, org)
    assert stored is not None and stored.startswith("fernet:")
    assert provider.client_secret not in stored  # a copy of the database does not give it
    invite(world, provider.person.email, org)
    assert sign_in(world.client(), org).status_code == 303
    assert provider.token_requests[-1]["client_secret"] == provider.client_secret


def test_without_a_key_no_secret_is_stored(world: World, provider: LocalProvider) -> None:
    market = world.app.state.market  # type: ignore[attr-defined]
    market.settings = market.settings.model_copy(update={"secrets_key": None})
    org = org_of(world, Role.PUBLIC_BODY)
    admin = world.client(Role.ADMIN)
    body = {"issuer": provider.url, "client_id": provider.client_id}
    refused = admin.put(
        f"/api/market/organisations/{org}/oidc", json={**body, "client_secret": "s3cret"}
    )
    assert refused.status_code == 422
    assert refused.json()["fields"]["client_secret"] == (
        "Ce serveur ne peut pas garder de secret : son administrateur doit définir"
        " REEMPLOI_MARKET_SECRETS_KEY."
    )
    assert admin.get(f"/api/market/organisations/{org}/oidc").status_code == 404  # nothing kept
    public = admin.put(f"/api/market/organisations/{org}/oidc", json=body)  # PKCE only
    assert public.status_code == 200 and public.json()["client_secret_set"] is False


def test_a_secret_kept_in_clear_earlier_still_works_and_a_wrong_key_says_so(
    world: World, provider: LocalProvider
) -> None:
    org = configure(world, provider)
    with world.state.engine.begin() as conn:  # as an earlier version stored it
        conn.execute(
            update(oidc_providers)
            .where(oidc_providers.c.organisation_id == org)
            .values(client_secret=provider.client_secret)
        )
    invite(world, provider.person.email, org)
    assert sign_in(world.client(), org).status_code == 303
    assert provider.token_requests[-1]["client_secret"] == provider.client_secret
    configure(world, provider)  # saved again: now encrypted
    assert str(_stored_secret(world, org)).startswith("fernet:")
    market = world.app.state.market  # type: ignore[attr-defined]
    market.settings = market.settings.model_copy(
        update={"secrets_key": SecretStr(Fernet.generate_key().decode())}
    )
    wrong = world.client().get(
        "/m/oidc/debut", params={"organisation": org}, follow_redirects=False
    )
    assert wrong.status_code == 503
    assert "Le secret du service de connexion est illisible avec la clé du serveur." in wrong.text


def test_the_key_must_be_a_fernet_key() -> None:
    with pytest.raises(ValidationError, match="REEMPLOI_MARKET_SECRETS_KEY"):
        MarketSettings(secrets_key="pas-une-cle")
    assert MarketSettings(secrets_key="").secrets_key is None  # empty: no key


def test_the_administrator_sets_and_removes_a_provider_on_the_admin_page(
    world: World, provider: LocalProvider
) -> None:
    org = org_of(world, Role.PUBLIC_BODY)
    admin = world.client(Role.ADMIN)
    page = admin.get("/m/admin")
    assert "Connexion par l’annuaire d’une structure (OpenID Connect)" in page.text
    assert "<code>https://&lt;adresse de la plateforme&gt;/m/oidc/retour</code>" in page.text
    # the organisation is offered by both forms that name one (invitation, sign-in service)
    assert page.text.count(f'<option value="{org}">') == 2
    csrf = admin.headers["X-CSRF-Token"]
    form = {
        "csrf": csrf,
        "oidc_organisation": org,
        "issuer": "http://pas-en-https.example",
        "client_id": provider.client_id,
        "client_secret": "ne-pas-reafficher",
    }
    bad = admin.post("/m/admin/oidc", data=form)
    assert bad.status_code == 422
    assert (
        '<p class="field-error" id="e-issuer">'
        "Saisissez l’adresse du fournisseur, commençant par https://.</p>"
    ) in bad.text
    assert "ne-pas-reafficher" not in bad.text  # the secret is never shown back
    unchosen = admin.post("/m/admin/oidc", data={**form, "oidc_organisation": ""})
    assert unchosen.status_code == 422 and "Choisissez une structure." in unchosen.text
    saved = admin.post(
        "/m/admin/oidc",
        data={**form, "issuer": provider.url, "client_secret": provider.client_secret},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/m/admin?ok=oidc_saved"
    listed = admin.get("/m/admin?ok=oidc_saved")
    assert "Service de connexion enregistré." in listed.text
    assert provider.url in listed.text and "conservé (chiffré)" in listed.text
    assert provider.client_secret not in listed.text
    assert str(_stored_secret(world, org)).startswith("fernet:")
    invite(world, provider.person.email, org)
    assert sign_in(world.client(), org).status_code == 303  # the page's settings work
    manager = world.client(Role.METRO_MANAGER)  # sees the admin page, may not set this
    refused = manager.post(
        "/m/admin/oidc",
        data={**form, "csrf": manager.headers["X-CSRF-Token"], "issuer": provider.url},
    )
    assert refused.status_code == 403
    gone = admin.post(f"/m/admin/oidc/{org}/retirer", data={"csrf": csrf}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/m/admin?ok=oidc_removed"
    assert admin.get(f"/api/market/organisations/{org}/oidc").status_code == 404
