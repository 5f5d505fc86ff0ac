"""Demonstration people and stock for the marketplace: one organisation and one account
per role, and refurbished units brought to ``listed`` through the ledger (every step is
a chained custody event, as if readers had recorded it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Connection, select

from reemploi.domain.custody import Step

from ..db.market_tables import asset_specs
from ..db.tables import sites
from ..registry import Declaration, declare_asset
from .accounts import create_organisation, create_user
from .custody_steps import StepTarget, apply_step
from .roles import Role

DEMO_PASSWORD = "demo-reemploi-2026"  # demonstration accounts only, never in production
COMMUNES = {
    Role.COLLECTION_POINT: "Échirolles",
    Role.CARRIER: "Saint-Égrève",
    Role.WORKSHOP: "Grenoble",
    Role.RESELLER: "Fontaine",
    Role.PUBLIC_BODY: "Grenoble",
    Role.COMPANY: "Meylan",
    Role.NGO: "Saint-Martin-d'Hères",
    Role.METRO_MANAGER: "Grenoble",
    Role.ADMIN: "Grenoble",
}
NAMES = {
    Role.COLLECTION_POINT: "Ressourcerie d'Échirolles (démo)",
    Role.CARRIER: "Transports Solidaires Alpes (démo)",
    Role.WORKSHOP: "Atelier Reconditionnement Grenoble (démo)",
    Role.RESELLER: "Boutique Réemploi Fontaine (démo)",
    Role.PUBLIC_BODY: "Mairie de Grenoble — DSI (démo)",
    Role.COMPANY: "Entreprise Meylan Tech (démo)",
    Role.NGO: "Association Numérique Pour Tous (démo)",
    Role.METRO_MANAGER: "Grenoble-Alpes Métropole (démo)",
    Role.ADMIN: "Plateforme Réemploi (démo)",
}


def email_for(role: Role) -> str:
    return f"{role.value.replace('_', '-')}@demo.reemploi.example"


def seed_people(
    conn: Connection, gs1_prefix: str = "9521234", hasher: PasswordHasher | None = None
) -> dict[Role, tuple[str, str, str]]:
    """One organisation and one account per role: ``role -> (email, org id, site id)``."""
    out = {}
    for role in Role:
        org_id, site_id = create_organisation(
            conn, name=NAMES[role], kind=role, commune=COMMUNES[role], gs1_prefix=gs1_prefix
        )
        create_user(
            conn,
            email=email_for(role),
            name=f"{NAMES[role].split(' (')[0]} — démo",
            password=DEMO_PASSWORD,
            role=role,
            organisation_id=org_id,
            site_id=site_id,
            hasher=hasher,
        )
        out[role] = (email_for(role), org_id, site_id)
    return out


def seed_listed(
    conn: Connection,
    *,
    owner_org: str,
    owner_site: str,
    holder_org: str,
    holder_site: str,
    category: str,
    grade: str,
    ram_gb: int | None,
    count: int,
    prefix: str = "9521234L",
    start: int = 1,
    when: datetime | None = None,
    until: Step = Step.LIST,
) -> list[int]:
    """Declare ``count`` units and bring them to ``listed`` (or to the state after
    ``until``) at the holder's site."""
    from sqlalchemy import update

    from reemploi.domain.digital_link import giai_uri

    from ..db.tables import assets

    when = when or datetime.now(UTC) - timedelta(days=20)
    ids = []
    for n in range(start, start + count):
        asset_id = declare_asset(
            conn,
            Declaration(
                epc=giai_uri(f"{prefix}{category[:3].upper()}{n:06d}"),
                category=category,
                owner_id=owner_org,
                site_id=owner_site,
                description=f"{category} démo {n}",
                serial=f"SN{n:08d}",
            ),
            when=when,
        )
        ids.append(asset_id)
    target = StepTarget(holder_org, holder_site)
    apply_step(conn, ids, Step.COLLECT, target, when=when + timedelta(days=1))
    steps = (Step.RECEIVE, Step.INSPECT, Step.ERASE_DATA, Step.REFURBISH, Step.LIST)
    for offset, step in enumerate(steps[: steps.index(until) + 1], start=2):
        apply_step(conn, ids, step, target, when=when + timedelta(days=offset))
    conn.execute(update(assets).where(assets.c.id.in_(ids)).values(grade=grade))
    if ram_gb is not None:
        conn.execute(
            asset_specs.insert(),
            [{"asset_id": a, "ram_gb": ram_gb, "storage_gb": 256} for a in ids],
        )
    return ids


def first_site(conn: Connection, organisation_id: str) -> str:
    return str(
        conn.execute(
            select(sites.c.id).where(sites.c.organisation_id == organisation_id).limit(1)
        ).scalar_one()
    )
