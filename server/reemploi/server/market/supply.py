"""Supply visibility: stock search, declared-but-not-collected supply, the solidarity
pool, unit grading, and a month-by-month forecast per category."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, select, update

from reemploi.domain.custody import FINAL_STATES, AssetState

from ..db.market_tables import asset_specs, claims, declaration_items, declarations, lot_items
from ..db.tables import assets, custody_events, organisations, sites
from .accounts import User
from .config import GRADES, MarketRules
from .declarations import CATEGORIES
from .errors import N_, InvalidInput, NotAllowed, NotFound


@dataclass(frozen=True)
class StockFilter:
    category: str | None = None
    grade: str | None = None
    min_ram_gb: int | None = None
    min_storage_gb: int | None = None
    site_id: str | None = None
    commune: str | None = None


def solidarity_pool(conn: Connection, rules: MarketRules) -> set[int]:
    """Listed units held back for solidarity: the share of each category, oldest first."""
    pool: set[int] = set()
    for category, share in rules.solidarity_share.items():
        ids = list(
            conn.execute(
                select(assets.c.id)
                .where(assets.c.state == AssetState.LISTED.value, assets.c.category == category)
                .order_by(assets.c.id)
            ).scalars()
        )
        pool.update(ids[: math.ceil(share * len(ids))])
    return pool


def _stock_query(flt: StockFilter) -> Select[Any]:
    query = (
        select(
            assets.c.id,
            assets.c.epc,
            assets.c.category,
            assets.c.grade,
            assets.c.description,
            asset_specs.c.ram_gb,
            asset_specs.c.storage_gb,
            asset_specs.c.cpu,
            asset_specs.c.year,
            sites.c.id.label("site_id"),
            sites.c.name.label("site_name"),
            sites.c.commune,
            organisations.c.name.label("holder"),
        )
        .outerjoin(asset_specs, asset_specs.c.asset_id == assets.c.id)
        .join(sites, sites.c.id == assets.c.holder_site_id)
        .join(organisations, organisations.c.id == assets.c.holder_org_id)
        .where(assets.c.state == AssetState.LISTED.value)
        .order_by(assets.c.id)
    )
    if flt.category:
        query = query.where(assets.c.category == flt.category)
    if flt.grade:
        query = query.where(assets.c.grade == flt.grade)
    if flt.min_ram_gb:
        query = query.where(asset_specs.c.ram_gb >= flt.min_ram_gb)
    if flt.min_storage_gb:
        query = query.where(asset_specs.c.storage_gb >= flt.min_storage_gb)
    if flt.site_id:
        query = query.where(sites.c.id == flt.site_id)
    if flt.commune:
        query = query.where(sites.c.commune == flt.commune)
    return query


def search_stock(
    conn: Connection, flt: StockFilter, rules: MarketRules, *, solidarity: bool | None = False
) -> list[dict[str, Any]]:
    """Listed units matching ``flt``; ``solidarity`` False hides the solidarity pool,
    True shows only it, None shows both (each row says which)."""
    pool = solidarity_pool(conn, rules)
    out = []
    for row in conn.execute(_stock_query(flt)):
        in_pool = row.id in pool
        if solidarity is None or in_pool == solidarity:
            out.append({**row._mapping, "solidarity": in_pool})
    return out


def stock_summary(conn: Connection, rules: MarketRules) -> list[dict[str, Any]]:
    """Listed units by category and grade, with the solidarity share apart."""
    pool = solidarity_pool(conn, rules)
    counts: Counter[tuple[str, str]] = Counter()
    held: Counter[str] = Counter()
    for row in conn.execute(_stock_query(StockFilter())):
        if row.id in pool:
            held[row.category] += 1
        else:
            counts[(row.category, row.grade or "?")] += 1
    return [
        {"category": c, "grade": g, "units": n, "solidarity_units": held[c]}
        for (c, g), n in sorted(counts.items())
    ] + [
        {"category": c, "grade": "—", "units": 0, "solidarity_units": n}
        for c, n in sorted(held.items())
        if not any(k[0] == c for k in counts)
    ]


def declared_supply(conn: Connection, *, category: str | None = None) -> list[dict[str, Any]]:
    """Declarations with units not yet collected, by planned date, with their claim."""
    still = (
        select(
            declaration_items.c.declaration_id,
            assets.c.category,
            func.count().label("units"),
        )
        .join(assets, assets.c.id == declaration_items.c.asset_id)
        .where(assets.c.state == AssetState.DECLARED.value)
        .group_by(declaration_items.c.declaration_id, assets.c.category)
    )
    if category:
        still = still.where(assets.c.category == category)
    by_declaration: dict[int, dict[str, int]] = defaultdict(dict)
    for row in conn.execute(still):
        by_declaration[int(row.declaration_id)][row.category] = int(row.units)
    if not by_declaration:
        return []
    rows = conn.execute(
        select(
            declarations.c.id,
            declarations.c.kind,
            declarations.c.planned_date,
            declarations.c.location,
            organisations.c.name.label("organisation"),
            sites.c.name.label("site_name"),
            sites.c.commune,
            claims.c.organisation_id.label("claimed_by"),
        )
        .join(organisations, organisations.c.id == declarations.c.organisation_id)
        .join(sites, sites.c.id == declarations.c.site_id)
        .outerjoin(claims, claims.c.declaration_id == declarations.c.id)
        .where(declarations.c.id.in_(list(by_declaration)))
        .order_by(declarations.c.planned_date, declarations.c.id)
    ).all()
    return [
        {
            **row._mapping,
            "categories": by_declaration[row.id],
            "units": sum(by_declaration[row.id].values()),
        }
        for row in rows
    ]


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def forecast(
    conn: Connection, *, months: int = 6, history_months: int = 6, today: date | None = None
) -> list[dict[str, Any]]:
    """Expected supply per month and category.

    ``planned``: units still declared whose planned date falls in the month (late plans
    count in the current month). ``trend``: the monthly average of units collected over
    the last ``history_months`` that came without a declaration (drop-offs at collection
    points), expected to go on. ``forecast`` = planned + trend.
    """
    today = today or datetime.now(UTC).date()
    first = date(today.year, today.month, 1)
    horizon = [_month(_add_months(first, i)) for i in range(months)]
    planned: Counter[tuple[str, str]] = Counter()
    for row in conn.execute(
        select(declarations.c.planned_date, assets.c.category)
        .join(declaration_items, declaration_items.c.declaration_id == declarations.c.id)
        .join(assets, assets.c.id == declaration_items.c.asset_id)
        .where(assets.c.state == AssetState.DECLARED.value)
    ):
        month = max(_month(row.planned_date), horizon[0])
        planned[(month, row.category)] += 1
    since = datetime.combine(_add_months(first, -history_months), datetime.min.time(), UTC)
    until = datetime.combine(first, datetime.min.time(), UTC)
    collected: Counter[str] = Counter()
    for row in conn.execute(
        select(assets.c.category)
        .join(custody_events, custody_events.c.asset_id == assets.c.id)
        .outerjoin(declaration_items, declaration_items.c.asset_id == assets.c.id)
        .where(
            and_(
                custody_events.c.step == "collect",
                custody_events.c.event_time >= since,
                custody_events.c.event_time < until,
                declaration_items.c.asset_id.is_(None),
            )
        )
    ):
        collected[row.category] += 1
    categories = sorted({c for _, c in planned} | set(collected))
    out = []
    for month in horizon:
        for category in categories:
            trend = round(collected[category] / history_months, 1)
            units = planned[(month, category)]
            out.append(
                {
                    "month": month,
                    "category": category,
                    "planned": units,
                    "trend": trend,
                    "forecast": round(units + trend, 1),
                }
            )
    return out


def grade_unit(
    conn: Connection,
    user: User,
    asset_id: int,
    *,
    grade: str,
    ram_gb: int | None,
    storage_gb: int | None,
    cpu: str | None,
) -> None:
    """A workshop or reseller sets the grade and specifications of a unit it holds."""
    row = conn.execute(select(assets.c.holder_org_id).where(assets.c.id == asset_id)).first()
    if row is None:
        raise NotFound(N_("Unknown unit."))
    if row.holder_org_id != user.organisation_id:
        raise NotAllowed(N_("Only the organisation holding this unit can grade it."))
    errors = {}
    if grade not in GRADES:
        errors["grade"] = N_("Choose grade A, B or C.")
    if ram_gb is not None and not 0 <= ram_gb <= 4096:
        errors["ram_gb"] = N_("Enter a valid whole number.")
    if storage_gb is not None and not 0 <= storage_gb <= 1_000_000:
        errors["storage_gb"] = N_("Enter a valid whole number.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    conn.execute(update(assets).where(assets.c.id == asset_id).values(grade=grade))
    values = {"ram_gb": ram_gb, "storage_gb": storage_gb, "cpu": (cpu or "").strip() or None}
    exists = conn.execute(
        select(asset_specs.c.asset_id).where(asset_specs.c.asset_id == asset_id)
    ).scalar()
    if exists is None:
        conn.execute(insert(asset_specs).values(asset_id=asset_id, **values))
    else:
        conn.execute(update(asset_specs).where(asset_specs.c.asset_id == asset_id).values(values))


def held_units(conn: Connection, organisation_id: str) -> list[dict[str, Any]]:
    """Units an organisation holds that are still on their way to a buyer."""
    rows = conn.execute(
        select(
            assets.c.id,
            assets.c.epc,
            assets.c.category,
            assets.c.state,
            assets.c.grade,
            assets.c.serial,
            asset_specs.c.ram_gb,
            asset_specs.c.storage_gb,
            asset_specs.c.cpu,
            lot_items.c.lot_id,
        )
        .outerjoin(asset_specs, asset_specs.c.asset_id == assets.c.id)
        .outerjoin(lot_items, lot_items.c.asset_id == assets.c.id)
        .where(
            assets.c.holder_org_id == organisation_id,
            assets.c.state.notin_(sorted(state.value for state in FINAL_STATES)),
        )
        .order_by(assets.c.id)
    )
    seen: set[int] = set()
    out = []
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            out.append(dict(row._mapping))
    return out


def known_categories() -> tuple[str, ...]:
    return CATEGORIES


def communes(conn: Connection) -> list[str]:
    return sorted(set(conn.execute(select(sites.c.commune)).scalars()))
