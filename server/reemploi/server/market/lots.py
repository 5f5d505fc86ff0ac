"""Lots, quotes and reservations.

A buyer asks for a homogeneous lot (category, grade, minimum RAM, quantity); the lot is
built from matching listed stock outside the solidarity pool, and quoted (price per
unit by category and grade, warranty by grade). Accepting the quote reserves every unit
through the ledger (EPCIS ``reserving`` / ``reserved``) in one transaction: if another
buyer reserved one of them first, nothing is reserved and the buyer is told which unit.
The holder then hands the lot over as sold or donated; a reservation not completed by
``reserved_until`` is released (``release`` step) by :func:`expire`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from reemploi.domain.custody import AssetState, Step

from ..db.market_tables import lot_items, lots
from ..db.tables import assets, organisations, sites
from .accounts import User
from .config import GRADES, MarketRules
from .custody_steps import StepTarget, apply_step
from .declarations import CATEGORIES, check_request_id
from .errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from .supply import StockFilter, search_stock

MAX_LOT = 1000


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _biz(lot: Any) -> list[tuple[str, str]]:
    return [("po", f"urn:reemploi:quote:{lot.quote_number}")]


def request_lot(
    conn: Connection,
    user: User,
    *,
    request_id: str,
    category: str,
    grade: str,
    quantity: int,
    min_ram_gb: int | None,
    rules: MarketRules,
    now: datetime | None = None,
) -> tuple[int, bool]:
    """Build and quote a lot; return ``(lot id, created)``."""
    now = now or datetime.now(UTC)
    request_id = check_request_id(request_id)
    found = conn.execute(
        select(lots.c.id).where(lots.c.created_by == user.id, lots.c.request_id == request_id)
    ).scalar()
    if found is not None:
        return int(found), False
    errors = {}
    if category not in CATEGORIES:
        errors["category"] = N_("Choose a category.")
    if grade not in GRADES:
        errors["grade"] = N_("Choose grade A, B or C.")
    if not 1 <= quantity <= MAX_LOT:
        errors["quantity"] = N_("Enter a quantity between 1 and 1000.")
    if min_ram_gb is not None and not 0 <= min_ram_gb <= 4096:
        errors["min_ram_gb"] = N_("Enter a valid whole number.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    stock = search_stock(
        conn, StockFilter(category=category, grade=grade, min_ram_gb=min_ram_gb), rules
    )
    if len(stock) < quantity:
        raise InvalidInput(
            N_("Only {available} units match these criteria today."),
            params={"available": len(stock)},
            fields={"quantity": N_("Only {available} units match these criteria today.")},
        )
    chosen = [row["id"] for row in stock[:quantity]]
    lot_id = int(
        conn.execute(
            insert(lots)
            .values(
                request_id=request_id,
                buyer_org_id=user.organisation_id,
                created_by=user.id,
                criteria={
                    "category": category,
                    "grade": grade,
                    "quantity": quantity,
                    "min_ram_gb": min_ram_gb,
                },
                status="quoted",
                unit_price_cents=rules.price_for(category, grade),
                warranty_months=rules.warranty_months.get(grade, 3),
                quote_number=f"DEV-{now:%Y}-{secrets.token_hex(4).upper()}",
                created_at=now,
                quote_valid_until=now + timedelta(days=rules.quote_valid_days),
            )
            .returning(lots.c.id)
        ).scalar_one()
    )
    conn.execute(insert(lot_items), [{"lot_id": lot_id, "asset_id": a} for a in chosen])
    return lot_id, True


def get_lot(conn: Connection, lot_id: int) -> Any:
    row = conn.execute(select(lots).where(lots.c.id == lot_id)).first()
    if row is None:
        raise NotFound(N_("Unknown lot."))
    return row


def lot_units(conn: Connection, lot_id: int) -> list[dict[str, Any]]:
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(
                assets.c.id,
                assets.c.epc,
                assets.c.category,
                assets.c.grade,
                assets.c.state,
                assets.c.holder_org_id,
                assets.c.holder_site_id,
            )
            .join(lot_items, lot_items.c.asset_id == assets.c.id)
            .where(lot_items.c.lot_id == lot_id)
            .order_by(assets.c.id)
        )
    ]


def accept(
    conn: Connection, user: User, lot_id: int, rules: MarketRules, now: datetime | None = None
) -> Any:
    """Accept the quote: reserve every unit of the lot, or none."""
    now = now or datetime.now(UTC)
    lot = get_lot(conn, lot_id)
    if lot.buyer_org_id != user.organisation_id:
        raise NotAllowed(N_("This lot belongs to another organisation."))
    if lot.status == "reserved":
        return lot  # a replayed acceptance
    if lot.status != "quoted":
        raise Conflict(
            N_("This quote can no longer be accepted ({status})."), params={"status": lot.status}
        )
    valid_until = _aware(lot.quote_valid_until)
    if valid_until is not None and valid_until < now:
        raise Conflict(N_("This quote has expired: ask for a new lot."))
    units = lot_units(conn, lot_id)
    apply_step(
        conn, [u["id"] for u in units], Step.RESERVE, None, when=now, biz_transactions=_biz(lot)
    )
    changed = conn.execute(
        update(lots)
        .where(lots.c.id == lot_id, lots.c.status == "quoted")
        .values(status="reserved", reserved_until=now + timedelta(days=rules.reservation_days))
    ).rowcount
    if changed != 1:
        raise Conflict(
            N_("This quote can no longer be accepted ({status})."), params={"status": "changed"}
        )
    return get_lot(conn, lot_id)


def fulfil(
    conn: Connection, user: User, lot_id: int, outcome: str, now: datetime | None = None
) -> Any:
    """The holder hands a reserved lot to its buyer: ``sold`` or ``donated``."""
    now = now or datetime.now(UTC)
    if outcome not in ("sold", "donated"):
        raise InvalidInput(
            N_("Choose sold or donated."), fields={"outcome": N_("Choose sold or donated.")}
        )
    lot = get_lot(conn, lot_id)
    if lot.status == outcome:
        return lot
    if lot.status != "reserved":
        raise Conflict(
            N_("Only a reserved lot can be handed over ({status})."), params={"status": lot.status}
        )
    until = _aware(lot.reserved_until)
    if until is not None and until < now:
        raise Conflict(N_("The reservation has expired."))
    units = lot_units(conn, lot_id)
    if any(u["holder_org_id"] != user.organisation_id for u in units):
        raise NotAllowed(N_("Only the organisation holding the units can hand the lot over."))
    buyer_site = conn.execute(
        select(sites.c.id).where(sites.c.organisation_id == lot.buyer_org_id).order_by(sites.c.id)
    ).scalar()
    if buyer_site is None:
        raise Conflict(N_("The buyer has no site to deliver to."))
    step = Step.SELL if outcome == "sold" else Step.DONATE
    apply_step(
        conn,
        [u["id"] for u in units],
        step,
        StepTarget(lot.buyer_org_id, buyer_site),
        when=now,
        biz_transactions=_biz(lot),
    )
    conn.execute(
        update(lots)
        .where(lots.c.id == lot_id, lots.c.status == "reserved")
        .values(status=outcome, closed_at=now)
    )
    return get_lot(conn, lot_id)


def expire(conn: Connection, now: datetime | None = None) -> int:
    """Release reservations past their date and close stale quotes; return lots released."""
    now = now or datetime.now(UTC)
    released = 0
    for lot in conn.execute(
        select(lots).where(lots.c.status == "reserved", lots.c.reserved_until < now)
    ).all():
        held = [u["id"] for u in lot_units(conn, lot.id) if u["state"] == AssetState.RESERVED.value]
        if held:
            apply_step(conn, held, Step.RELEASE, None, when=now, biz_transactions=_biz(lot))
        conn.execute(
            update(lots)
            .where(lots.c.id == lot.id, lots.c.status == "reserved")
            .values(status="released", closed_at=now)
        )
        released += 1
    conn.execute(
        update(lots)
        .where(lots.c.status == "quoted", lots.c.quote_valid_until < now)
        .values(status="expired", closed_at=now)
    )
    return released


def lots_for(conn: Connection, user: User) -> list[dict[str, Any]]:
    """The buyer's lots, or the lots holding units of the user's organisation."""
    query = select(lots, organisations.c.name.label("buyer")).join(
        organisations, organisations.c.id == lots.c.buyer_org_id
    )
    held = (
        select(lot_items.c.lot_id)
        .join(assets, assets.c.id == lot_items.c.asset_id)
        .where(assets.c.holder_org_id == user.organisation_id)
    )
    query = query.where(
        (lots.c.buyer_org_id == user.organisation_id) | lots.c.id.in_(held)
    ).order_by(lots.c.id.desc())
    out = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        item["units"] = len(lot_units(conn, row.id))
        item["total_cents"] = item["units"] * row.unit_price_cents
        item["is_buyer"] = row.buyer_org_id == user.organisation_id
        out.append(item)
    return out
