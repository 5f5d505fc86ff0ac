"""Organisations, people, invitations and sessions.

Closed groups first: people join by invitation from a manager; an administrator can open
registration to the whole metropolitan area (``MarketRules.open_registration``). Session
tokens and invitation tokens are random, shown once, and stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reemploi.domain.checkdigit import gs1_check_digit
from reemploi.domain.digital_link import gln_uri, pgln_uri

from ..db.market_tables import invitations, sessions, users
from ..db.tables import organisations, sites
from .errors import N_, Conflict, InvalidInput, NotFound
from .passwords import MIN_LENGTH, hash_password, verify_password
from .roles import Role

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
INVITATION_DAYS = 14

# The site kind an organisation's first site gets, from its members' role.
SITE_KIND_FOR_ROLE = {
    Role.COLLECTION_POINT: "collection_point",
    Role.WORKSHOP: "workshop",
    Role.RESELLER: "reseller",
    Role.CARRIER: "depot",
}


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    organisation_id: str
    site_id: str | None
    locale: str


@dataclass(frozen=True)
class SessionInfo:
    user: User
    csrf: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        m["id"],
        m["email"],
        m["name"],
        Role(m["role"]),
        m["organisation_id"],
        m["site_id"],
        m["locale"],
    )


def _slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return (text or "org")[:28]


def create_organisation(
    conn: Connection,
    *,
    name: str,
    kind: Role,
    commune: str,
    gs1_prefix: str,
    latitude: float = 45.1885,
    longitude: float = 5.7245,
) -> tuple[str, str]:
    """Create an organisation and its first site; return ``(organisation_id, site_id)``.

    Identifiers are issued under the platform's GS1 prefix (associations rarely have one).
    """
    name = name.strip()
    commune = commune.strip()
    errors = {}
    if not 2 <= len(name) <= 200:
        errors["organisation_name"] = N_("Enter the organisation's name (2 to 200 characters).")
    if not 2 <= len(commune) <= 100:
        errors["commune"] = N_("Enter the commune.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    count = conn.execute(select(func.count()).select_from(organisations)).scalar_one()
    ref = 40000 + int(count) * 2
    while True:
        org_body = f"{gs1_prefix}{ref:05d}"[:12]
        site_body = f"{gs1_prefix}{ref + 1:05d}"[:12]
        org_id = f"{_slug(name)}-{ref}"
        taken = conn.execute(
            select(func.count())
            .select_from(organisations)
            .where(
                (organisations.c.id == org_id)
                | (organisations.c.pgln == pgln_uri(org_body + gs1_check_digit(org_body)))
            )
        ).scalar_one()
        if not taken:
            break
        ref += 2
    conn.execute(
        insert(organisations).values(
            id=org_id,
            pgln=pgln_uri(org_body + gs1_check_digit(org_body)),
            name=name,
            kind=kind.value,
        )
    )
    site_id = f"s-{org_id}"[:40]
    conn.execute(
        insert(sites).values(
            id=site_id,
            gln=gln_uri(site_body + gs1_check_digit(site_body)),
            name=name,
            kind=SITE_KIND_FOR_ROLE.get(kind, "office"),
            organisation_id=org_id,
            commune=commune,
            latitude=latitude,
            longitude=longitude,
        )
    )
    return org_id, site_id


def _check_person(email: str, name: str, password: str | None) -> dict[str, str]:
    errors = {}
    if not EMAIL_RE.match(email):
        errors["email"] = N_("Enter a valid e-mail address.")
    if not 2 <= len(name.strip()) <= 200:
        errors["name"] = N_("Enter your name.")
    if password is not None and len(password) < MIN_LENGTH:
        errors["password"] = N_("The password needs at least 10 characters.")
    return errors


def create_user(
    conn: Connection,
    *,
    email: str,
    name: str,
    password: str | None,
    role: Role,
    organisation_id: str,
    site_id: str | None = None,
    locale: str = "fr",
    hasher: PasswordHasher | None = None,
    password_hash: str | None = None,
) -> User:
    """A new account; ``password_hash`` when the password was hashed earlier (an approved
    registration), ``password`` None and no hash for an OIDC-only account."""
    email = email.strip().lower()
    errors = _check_person(email, name, password)
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    if site_id is None:
        site_id = conn.execute(
            select(sites.c.id).where(sites.c.organisation_id == organisation_id).limit(1)
        ).scalar()
    try:
        with conn.begin_nested():
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email,
                    name=name.strip(),
                    # None: the account signs in only through its organisation's OIDC
                    password_hash=password_hash
                    if password is None
                    else hash_password(password, hasher),
                    role=role.value,
                    organisation_id=organisation_id,
                    site_id=site_id,
                    active=True,
                    locale=locale,
                    created_at=datetime.now(UTC),
                )
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(
            N_("An account already exists for this address."),
            fields={"email": N_("An account already exists for this address.")},
        ) from exc
    return get_user(conn, int(user_id))


def get_user(conn: Connection, user_id: int) -> User:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound(N_("Unknown account."))
    return _user(row)


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    row = conn.execute(
        select(users).where(users.c.email == email.strip().lower(), users.c.active.is_(True))
    ).first()
    if not verify_password(row.password_hash if row else None, password):
        return None
    return _user(row)


def open_session(conn: Connection, user: User, hours: int) -> tuple[str, str]:
    """A new session for ``user``: ``(token for the cookie, CSRF token)``."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    conn.execute(
        insert(sessions).values(
            token_hash=digest(token),
            user_id=user.id,
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return token, csrf


def session_for(conn: Connection, token: str, now: datetime) -> SessionInfo | None:
    row = conn.execute(
        select(users, sessions.c.csrf, sessions.c.expires_at)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == digest(token), users.c.active.is_(True))
    ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= now:
        return None
    return SessionInfo(_user(row), row.csrf)


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == digest(token)))


def invite(
    conn: Connection,
    *,
    email: str,
    role: Role,
    organisation_id: str,
    invited_by: int | None,
) -> str:
    """Invite ``email`` into an organisation with ``role``; return the one-time token."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(
            N_("Please correct the highlighted fields."),
            fields={"email": N_("Enter a valid e-mail address.")},
        )
    exists = conn.execute(
        select(organisations.c.id).where(organisations.c.id == organisation_id)
    ).scalar()
    if exists is None:
        raise InvalidInput(
            N_("Please correct the highlighted fields."),
            fields={"organisation_id": N_("Unknown organisation.")},
        )
    token = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    conn.execute(
        insert(invitations).values(
            token_hash=digest(token),
            email=email,
            role=role.value,
            organisation_id=organisation_id,
            invited_by=invited_by,
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
    )
    return token


def invitation(conn: Connection, token: str) -> dict[str, str] | None:
    row = conn.execute(
        select(invitations, organisations.c.name.label("organisation_name"))
        .join(organisations, organisations.c.id == invitations.c.organisation_id)
        .where(invitations.c.token_hash == digest(token), invitations.c.used_at.is_(None))
    ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        return None
    return {
        "email": row.email,
        "role": row.role,
        "organisation_id": row.organisation_id,
        "organisation_name": row.organisation_name,
    }


def accept_invitation(
    conn: Connection,
    token: str,
    name: str,
    password: str,
    hasher: PasswordHasher | None = None,
) -> User:
    found = invitation(conn, token)
    if found is None:
        raise NotFound(N_("This invitation is unknown, expired or already used."))
    used = conn.execute(
        update(invitations)
        .where(invitations.c.token_hash == digest(token), invitations.c.used_at.is_(None))
        .values(used_at=datetime.now(UTC))
    ).rowcount
    if used != 1:
        raise Conflict(N_("This invitation is unknown, expired or already used."))
    return create_user(
        conn,
        email=found["email"],
        name=name,
        password=password,
        role=Role(found["role"]),
        organisation_id=found["organisation_id"],
        hasher=hasher,
    )


def list_organisations(conn: Connection) -> list[dict[str, str]]:
    return [
        dict(row._mapping)
        for row in conn.execute(
            select(organisations.c.id, organisations.c.name, organisations.c.kind).order_by(
                organisations.c.name
            )
        )
    ]


def organisation_sites(conn: Connection, organisation_id: str) -> list[dict[str, str]]:
    return [
        dict(row._mapping)
        for row in conn.execute(
            select(sites.c.id, sites.c.name, sites.c.kind, sites.c.commune)
            .where(sites.c.organisation_id == organisation_id)
            .order_by(sites.c.name)
        )
    ]
