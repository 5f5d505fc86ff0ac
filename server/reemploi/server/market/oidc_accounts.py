"""OpenID Connect, database side: each organisation's provider, the authorisation
requests in flight (single use), and who a verified e-mail address is.

Deny by default: a verified address signs in only as an active account of the
provider's own organisation, or through a pending invitation into that organisation
(which creates the account, without a password). Anything else is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..db.market_tables import invitations, oidc_providers, oidc_requests, users
from ..db.tables import organisations
from .accounts import User, create_user, digest, get_user
from .errors import N_, InvalidInput, NotFound
from .oidc import AuthorisationRequest, OidcRefused, Provider, issuer_is_acceptable
from .roles import Role
from .secretbox import SecretBox

REQUEST_MINUTES = 10


def set_provider(
    conn: Connection,
    organisation_id: str,
    *,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    box: SecretBox,
) -> Provider:
    """Record (or replace) the organisation's provider, checked field by field; the
    client secret is stored encrypted by ``box``."""
    issuer, client_id = issuer.strip().rstrip("/"), client_id.strip()
    errors = {}
    if not issuer_is_acceptable(issuer) or len(issuer) > 300:
        errors["issuer"] = N_("Enter the provider's address, starting with https://.")
    if not 1 <= len(client_id) <= 200:
        errors["client_id"] = N_("Enter the client identifier given by the provider.")
    if client_secret is not None and len(client_secret) > 300:
        errors["client_secret"] = N_("The client secret is too long (300 characters at most).")
    exists = conn.execute(
        select(organisations.c.id).where(organisations.c.id == organisation_id)
    ).scalar()
    if exists is None:
        raise NotFound(N_("Unknown organisation."))
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    sealed = box.seal(client_secret) if client_secret else None
    conn.execute(delete(oidc_providers).where(oidc_providers.c.organisation_id == organisation_id))
    conn.execute(
        insert(oidc_providers).values(
            organisation_id=organisation_id,
            issuer=issuer,
            client_id=client_id,
            client_secret=sealed,
            updated_at=datetime.now(UTC),
        )
    )
    return Provider(organisation_id, issuer, client_id, client_secret or None)


def get_provider(conn: Connection, organisation_id: str, box: SecretBox) -> Provider | None:
    """The organisation's provider with its client secret decrypted, for signing in."""
    row = conn.execute(
        select(oidc_providers).where(oidc_providers.c.organisation_id == organisation_id)
    ).first()
    if row is None:
        return None
    secret = box.open(row.client_secret) if row.client_secret else None
    return Provider(row.organisation_id, row.issuer, row.client_id, secret)


def provider_summary(conn: Connection, organisation_id: str) -> dict[str, Any] | None:
    """What an administrator may read back: never the secret, only whether one is set."""
    row = conn.execute(
        select(oidc_providers).where(oidc_providers.c.organisation_id == organisation_id)
    ).first()
    if row is None:
        return None
    return {
        "organisation_id": row.organisation_id,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "client_secret_set": row.client_secret is not None,
    }


def list_providers(conn: Connection) -> list[dict[str, Any]]:
    """Every organisation's provider, for the administration page (no secret)."""
    rows = conn.execute(
        select(
            oidc_providers.c.organisation_id,
            organisations.c.name.label("organisation_name"),
            oidc_providers.c.issuer,
            oidc_providers.c.client_id,
            oidc_providers.c.client_secret.is_not(None).label("client_secret_set"),
        )
        .join(organisations, organisations.c.id == oidc_providers.c.organisation_id)
        .order_by(organisations.c.name)
    )
    return [dict(row._mapping) for row in rows]


def remove_provider(conn: Connection, organisation_id: str) -> None:
    conn.execute(delete(oidc_providers).where(oidc_providers.c.organisation_id == organisation_id))


def providers_for_login(conn: Connection) -> list[dict[str, Any]]:
    """Organisations whose people may sign in through their own provider."""
    return [
        {"id": row.id, "name": row.name}
        for row in conn.execute(
            select(organisations.c.id, organisations.c.name)
            .join(oidc_providers, oidc_providers.c.organisation_id == organisations.c.id)
            .order_by(organisations.c.name)
        )
    ]


def save_request(
    conn: Connection,
    provider: Provider,
    request: AuthorisationRequest,
    *,
    redirect_uri: str,
    next_path: str,
    now: datetime | None = None,
) -> None:
    now = now or datetime.now(UTC)
    conn.execute(delete(oidc_requests).where(oidc_requests.c.expires_at < now))
    conn.execute(
        insert(oidc_requests).values(
            state_hash=digest(request.state),
            organisation_id=provider.organisation_id,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            redirect_uri=redirect_uri,
            next_path=next_path,
            expires_at=now + timedelta(minutes=REQUEST_MINUTES),
        )
    )


def take_request(conn: Connection, state: str, now: datetime | None = None) -> Any:
    """The request this answer belongs to, deleted as it is read: a replay finds nothing."""
    now = now or datetime.now(UTC)
    row = conn.execute(
        select(oidc_requests).where(oidc_requests.c.state_hash == digest(state))
    ).first()
    if row is None:
        raise OidcRefused(
            "state", N_("This sign-in request is unknown or already used: start again.")
        )
    conn.execute(delete(oidc_requests).where(oidc_requests.c.state_hash == row.state_hash))
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= now:
        raise OidcRefused("state", N_("This sign-in request has expired: start again."))
    return row


def account_for(conn: Connection, organisation_id: str, email: str, name: str) -> User:
    """The account a verified address signs in as (see the module's rules)."""
    row = conn.execute(select(users).where(users.c.email == email)).first()
    if row is not None:
        if row.organisation_id != organisation_id or not row.active:
            raise OidcRefused(
                "other_organisation",
                N_("This address has no account in this organisation: sign-in refused."),
            )
        return get_user(conn, int(row.id))
    now = datetime.now(UTC)
    invited = conn.execute(
        select(invitations)
        .where(
            invitations.c.email == email,
            invitations.c.organisation_id == organisation_id,
            invitations.c.used_at.is_(None),
            invitations.c.expires_at > now,
        )
        .order_by(invitations.c.created_at.desc())
        .limit(1)
    ).first()
    if invited is None:
        raise OidcRefused(
            "not_invited",
            N_("This address has no account in this organisation: sign-in refused."),
        )
    conn.execute(
        update(invitations)
        .where(invitations.c.token_hash == invited.token_hash)
        .values(used_at=now)
    )
    return create_user(
        conn,
        email=email,
        name=name.strip() or email.split("@")[0],
        password=None,
        role=Role(invited.role),
        organisation_id=organisation_id,
    )
