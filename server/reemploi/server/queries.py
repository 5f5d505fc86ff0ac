"""Read models for the API and the web page (no business rules here, only reads)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlalchemy.orm import aliased

from reemploi.domain.custody import STATE_LABELS_FR, STEP_LABELS_FR, AssetState, Step

from .db.tables import (
    assets,
    custody_events,
    dead_letters,
    devices,
    ledger_head,
    organisations,
    sightings,
    sites,
)
from .ingest.counters import read_all

CATEGORIES_FR = {
    "laptop": "ordinateur portable",
    "desktop": "ordinateur fixe",
    "screen": "écran",
    "phone": "smartphone",
    "tablet": "tablette",
    "server": "serveur",
    "network": "équipement réseau",
}

# Units that can still be reused, by how close they are to a buyer.
REUSABLE_STATES = (
    AssetState.RECEIVED,
    AssetState.INSPECTED,
    AssetState.DATA_ERASED,
    AssetState.REFURBISHED,
    AssetState.LISTED,
)


def state_label(state: str | None) -> str | None:
    return STATE_LABELS_FR[AssetState(state)] if state else None


def step_label(step: str) -> str:
    return STEP_LABELS_FR[Step(step)]


def list_assets(
    conn: Connection,
    *,
    category: str | None,
    site: str | None,
    state: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict[str, Any]]]:
    conds: list[ColumnElement[bool]] = []
    if category:
        conds.append(assets.c.category == category)
    if site:
        conds.append(assets.c.holder_site_id == site)
    if state:
        conds.append(assets.c.state == state)
    if q:
        like = f"%{q}%"
        conds.append(
            or_(
                assets.c.epc.like(like), assets.c.description.like(like), assets.c.serial.like(like)
            )
        )
    where = and_(*conds) if conds else None
    count_q = select(func.count()).select_from(assets)
    rows_q = select(assets).order_by(assets.c.id).limit(limit).offset(offset)
    if where is not None:
        count_q = count_q.where(where)
        rows_q = rows_q.where(where)
    total = int(conn.execute(count_q).scalar_one())
    return total, [_asset_dict(row._mapping) for row in conn.execute(rows_q)]


def _asset_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "epc": row["epc"],
        "category": row["category"],
        "category_label": CATEGORIES_FR.get(row["category"], row["category"]),
        "description": row["description"],
        "serial": row["serial"],
        "state": row["state"],
        "state_label": state_label(row["state"]),
        "grade": row["grade"],
        "owner_id": row["owner_id"],
        "holder_org_id": row["holder_org_id"],
        "holder_site_id": row["holder_site_id"],
        "updated_at": row["updated_at"],
    }


def get_asset(conn: Connection, ref: str) -> dict[str, Any] | None:
    cond = assets.c.id == int(ref) if ref.isdigit() else assets.c.epc == ref
    row = conn.execute(select(assets).where(cond)).first()
    if row is None:
        return None
    asset = _asset_dict(row._mapping)
    site = conn.execute(select(sites).where(sites.c.id == row.holder_site_id)).first()
    org = conn.execute(select(organisations).where(organisations.c.id == row.holder_org_id)).first()
    asset["holder"] = {
        "organisation": dict(org._mapping) if org else None,
        "site": dict(site._mapping) if site else None,
    }
    chain = conn.execute(
        select(custody_events)
        .where(custody_events.c.asset_id == row.id)
        .order_by(custody_events.c.position)
    ).all()
    asset["custody"] = [
        {
            "position": ev.position,
            "event_id": ev.event_id,
            "event_hash": ev.event_hash,
            "event_time": ev.event_time,
            "recorded_at": ev.recorded_at,
            "step": ev.step,
            "step_label": step_label(ev.step),
            "state_from": ev.state_from,
            "state_to": ev.state_to,
            "state_label": state_label(ev.state_to),
            "site_from": ev.site_from,
            "site_to": ev.site_to,
        }
        for ev in chain
    ]
    asset["sightings"] = int(
        conn.execute(
            select(func.count()).select_from(sightings).where(sightings.c.asset_id == row.id)
        ).scalar_one()
    )
    return asset


def list_sites(conn: Connection) -> list[dict[str, Any]]:
    org = aliased(organisations)
    rows = conn.execute(
        select(sites, org.c.name.label("organisation_name"))
        .join(org, org.c.id == sites.c.organisation_id)
        .order_by(sites.c.id)
    )
    return [dict(r._mapping) for r in rows]


def stock(
    conn: Connection, *, category: str | None, site: str | None, grade: str | None
) -> list[dict[str, Any]]:
    conds: list[ColumnElement[bool]] = [assets.c.state.in_([s.value for s in REUSABLE_STATES])]
    if category:
        conds.append(assets.c.category == category)
    if site:
        conds.append(assets.c.holder_site_id == site)
    if grade:
        conds.append(assets.c.grade == grade)
    rows = conn.execute(
        select(
            assets.c.holder_site_id,
            sites.c.name,
            assets.c.category,
            assets.c.grade,
            assets.c.state,
            func.count().label("units"),
        )
        .join(sites, sites.c.id == assets.c.holder_site_id)
        .where(and_(*conds))
        .group_by(
            assets.c.holder_site_id, sites.c.name, assets.c.category, assets.c.grade, assets.c.state
        )
        .order_by(assets.c.holder_site_id, assets.c.category, assets.c.state)
    )
    return [
        {
            "site_id": r.holder_site_id,
            "site_name": r.name,
            "category": r.category,
            "category_label": CATEGORIES_FR.get(r.category, r.category),
            "grade": r.grade,
            "state": r.state,
            "state_label": state_label(r.state),
            "available": r.state == AssetState.LISTED.value,
            "units": int(r.units),
        }
        for r in rows
    ]


def events_for_export(
    conn: Connection,
    *,
    asset_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    q = select(custody_events.c.document).order_by(custody_events.c.position).limit(limit)
    if asset_id is not None:
        q = q.where(custody_events.c.asset_id == asset_id)
    if since is not None:
        q = q.where(custody_events.c.event_time >= since)
    if until is not None:
        q = q.where(custody_events.c.event_time < until)
    return [json.loads(doc) for doc in conn.execute(q).scalars()]


def recent_events(conn: Connection, limit: int = 30) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(custody_events, assets.c.epc, assets.c.category)
        .join(assets, assets.c.id == custody_events.c.asset_id)
        .order_by(custody_events.c.position.desc())
        .limit(limit)
    )
    return [
        {
            "position": r.position,
            "time": r.event_time,
            "asset_id": r.asset_id,
            "epc": r.epc,
            "category": r.category,
            "step": r.step,
            "state": r.state_to,
            "site_from": r.site_from,
            "site_to": r.site_to,
        }
        for r in rows
    ]


def ingest_stats(conn: Connection) -> dict[str, Any]:
    head = conn.execute(select(ledger_head.c.count)).scalar()
    reasons = {
        r.reason: int(r.n)
        for r in conn.execute(
            select(dead_letters.c.reason, func.count().label("n")).group_by(dead_letters.c.reason)
        )
    }
    results = {
        f"{r.result}:{r.reason}" if r.reason else r.result: int(r.n)
        for r in conn.execute(
            select(sightings.c.result, sightings.c.reason, func.count().label("n")).group_by(
                sightings.c.result, sightings.c.reason
            )
        )
    }
    return {
        "ledger_events": int(head or 0),
        "counters": read_all(conn),
        "sightings_by_result": results,
        "dead_letters_by_reason": reasons,
    }


def list_dead_letters(conn: Connection, limit: int, reason: str | None) -> list[dict[str, Any]]:
    q = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if reason:
        q = q.where(dead_letters.c.reason == reason)
    return [
        {
            "id": r.id,
            "received_at": r.received_at,
            "topic": r.topic,
            "reason": r.reason,
            "detail": r.detail,
            "device_id": r.device_id,
            "payload": r.payload.decode("utf-8", "replace")[:4096],
            "size": len(r.payload),
        }
        for r in conn.execute(q)
    ]


def list_devices(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(devices).order_by(devices.c.id))]
