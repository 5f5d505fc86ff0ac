"""Self-registration, once an administrator opens the platform to the whole
metropolitan area (``MarketRules.open_registration``).

A person asks for an account for their organisation (e-mail, name, password, role,
organisation and commune). Nothing can be done with it until an administrator approves
it: the organisation and the account are created then. Refused while registration is
closed; the platform's own roles (metropolitan manager, administrator) are never
self-granted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..db.market_tables import registrations, users
from .accounts import EMAIL_RE, User, create_organisation, create_user
from .config import MarketRules
from .errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from .passwords import MIN_LENGTH, hash_password
from .roles import Role

SELF_SERVICE_ROLES = (
    Role.COLLECTION_POINT,
    Role.CARRIER,
    Role.WORKSHOP,
    Role.RESELLER,
    Role.PUBLIC_BODY,
    Role.COMPANY,
    Role.NGO,
)
ALREADY = N_("An account or a request already exists for this address.")


def check_open(rules: MarketRules) -> None:
    if not rules.open_registration:
        raise NotAllowed(N_("Registration is closed: ask for an invitation."))


def request_account(
    conn: Connection,
    rules: MarketRules,
    *,
    email: str,
    name: str,
    password: str,
    role: str,
    organisation_name: str,
    commune: str,
    hasher: PasswordHasher | None = None,
    now: datetime | None = None,
) -> int:
    """Record a pending registration; return its id. Checked field by field."""
    check_open(rules)
    email = email.strip().lower()
    errors = {}
    if not EMAIL_RE.match(email) or len(email) > 200:
        errors["email"] = N_("Enter a valid e-mail address.")
    if not 2 <= len(name.strip()) <= 200:
        errors["name"] = N_("Enter your name.")
    if len(password) < MIN_LENGTH:
        errors["password"] = N_("The password needs at least 10 characters.")
    if role not in {r.value for r in SELF_SERVICE_ROLES}:
        errors["role"] = N_("Choose a role.")
    if not 2 <= len(organisation_name.strip()) <= 200:
        errors["organisation_name"] = N_("Enter the organisation's name (2 to 200 characters).")
    if not 2 <= len(commune.strip()) <= 100:
        errors["commune"] = N_("Enter the commune.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    taken = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
    if taken is not None:
        raise Conflict(ALREADY, fields={"email": ALREADY})
    try:
        with conn.begin_nested():
            made = conn.execute(
                insert(registrations)
                .values(
                    email=email,
                    name=name.strip(),
                    password_hash=hash_password(password, hasher),
                    role=role,
                    organisation_name=organisation_name.strip(),
                    commune=commune.strip(),
                    status="pending",
                    created_at=now or datetime.now(UTC),
                )
                .returning(registrations.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(ALREADY, fields={"email": ALREADY}) from exc
    return int(made)


def pending(conn: Connection) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row._mapping.items() if k != "password_hash"}
        for row in conn.execute(
            select(registrations)
            .where(registrations.c.status == "pending")
            .order_by(registrations.c.created_at, registrations.c.id)
        )
    ]


def _take(conn: Connection, registration_id: int, admin: User, status: str) -> Any:
    row = conn.execute(select(registrations).where(registrations.c.id == registration_id)).first()
    if row is None:
        raise NotFound(N_("Unknown registration request."))
    changed = conn.execute(
        update(registrations)
        .where(registrations.c.id == registration_id, registrations.c.status == "pending")
        .values(status=status, decided_by=admin.id, decided_at=datetime.now(UTC))
    ).rowcount
    if changed != 1:
        raise Conflict(N_("This registration request has already been decided."))
    return row


def approve(conn: Connection, registration_id: int, admin: User, *, gs1_prefix: str) -> User:
    """Create the organisation and the account asked for (once)."""
    row = _take(conn, registration_id, admin, "approved")
    role = Role(row.role)
    organisation_id, site_id = create_organisation(
        conn,
        name=row.organisation_name,
        kind=role,
        commune=row.commune,
        gs1_prefix=gs1_prefix,
    )
    return create_user(
        conn,
        email=row.email,
        name=row.name,
        password=None,
        password_hash=row.password_hash,
        role=role,
        organisation_id=organisation_id,
        site_id=site_id,
    )


def refuse(conn: Connection, registration_id: int, admin: User) -> None:
    _take(conn, registration_id, admin, "refused")
