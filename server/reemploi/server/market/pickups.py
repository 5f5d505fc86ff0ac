"""Claims of declared batches and the pickup work orders they create.

A reuse actor claims a declaration (first come, or fair rotation: an organisation with a
pickup still open waits ``rotation_grace_hours`` before claiming another batch). The
claim creates a pickup with a date window. At pickup both sides sign — the declaring
organisation (giver) and the claimant or its carrier (taker) — and the second signature
records the hand-over: one ``collect`` custody event per unit, through the ledger, with
both signatures in the event.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reemploi.domain.custody import AssetState, Step

from ..db.market_tables import claims, declaration_items, declarations, pickups
from ..db.tables import assets, organisations, sites
from .accounts import User
from .config import MarketRules
from .custody_steps import StepTarget, apply_step
from .declarations import check_request_id, parse_date
from .errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from .localtime import LOCAL_ZONE, aware, local_time, local_today
from .roles import Role

# Pickups run from 8:00 to 18:00, Grenoble time (see localtime.py).
WINDOW_OPENS = time(8, 0)
WINDOW_CLOSES = time(18, 0)


def allowed_window(planned: date, today: date, rules: MarketRules) -> tuple[date, date]:
    """The days a pickup may be scheduled on: from the planned date (not before today)
    for ``pickup_window_days`` days."""
    first = max(planned, today)
    return first, first + timedelta(days=rules.pickup_window_days)


def choose_window(
    planned: date,
    today: date,
    rules: MarketRules,
    start: str | None = None,
    end: str | None = None,
) -> tuple[datetime, datetime]:
    """The claimant's window, checked field by field against the allowed range; without
    a choice, the whole range: from 8:00 on the first day to 18:00 on the last, local
    time (aware datetimes in Europe/Paris). Pure."""
    first, last = allowed_window(planned, today, rules)
    errors: dict[str, str] = {}
    chosen: dict[str, date] = {}
    for name, text, default in (("window_start", start, first), ("window_end", end, last)):
        if text is None or not text.strip():
            chosen[name] = default
            continue
        try:
            chosen[name] = parse_date(text, name)
        except InvalidInput as exc:
            errors.update(exc.fields)
    params = {"first": first.strftime("%d/%m/%Y"), "last": last.strftime("%d/%m/%Y")}
    if "window_start" in chosen and not first <= chosen["window_start"] <= last:
        errors["window_start"] = N_("Choose a first day between {first} and {last}.")
    if "window_end" in chosen and not first <= chosen["window_end"] <= last:
        errors["window_end"] = N_("Choose a last day between {first} and {last}.")
    if not errors and chosen["window_end"] < chosen["window_start"]:
        errors["window_end"] = N_("The last day cannot come before the first day.")
    if errors:
        raise InvalidInput(
            N_("Please correct the highlighted fields."), fields=errors, params=params
        )
    return (
        datetime.combine(chosen["window_start"], WINDOW_OPENS, tzinfo=LOCAL_ZONE),
        datetime.combine(chosen["window_end"], WINDOW_CLOSES, tzinfo=LOCAL_ZONE),
    )


def claim(
    conn: Connection,
    user: User,
    *,
    declaration_id: int,
    request_id: str,
    rules: MarketRules,
    now: datetime | None = None,
    window_start: str | None = None,
    window_end: str | None = None,
) -> tuple[int, bool]:
    """Claim a declared batch with a pickup window chosen within the allowed range
    (:func:`choose_window`); return ``(pickup id, created)``."""
    now = now or datetime.now(UTC)
    request_id = check_request_id(request_id)
    replay = conn.execute(
        select(pickups.c.id)
        .join(claims, claims.c.id == pickups.c.claim_id)
        .where(claims.c.created_by == user.id, claims.c.request_id == request_id)
    ).scalar()
    if replay is not None:
        return int(replay), False
    decl = conn.execute(select(declarations).where(declarations.c.id == declaration_id)).first()
    if decl is None:
        raise NotFound(N_("Unknown declaration."))
    if decl.organisation_id == user.organisation_id:
        raise InvalidInput(N_("You cannot claim your own organisation's declaration."))
    still = conn.execute(
        select(func.count())
        .select_from(declaration_items)
        .join(assets, assets.c.id == declaration_items.c.asset_id)
        .where(
            declaration_items.c.declaration_id == declaration_id,
            assets.c.state == AssetState.DECLARED.value,
        )
    ).scalar_one()
    if not still:
        raise Conflict(N_("Nothing is left to collect in this declaration."))
    start, end = choose_window(decl.planned_date, local_today(now), rules, window_start, window_end)
    if rules.claim_rule == "rotation":
        open_pickups = conn.execute(
            select(func.count())
            .select_from(pickups)
            .join(claims, claims.c.id == pickups.c.claim_id)
            .where(
                claims.c.organisation_id == user.organisation_id,
                pickups.c.status == "scheduled",
            )
        ).scalar_one()
        age = now - aware(decl.created_at)
        if open_pickups and age < timedelta(hours=rules.rotation_grace_hours):
            raise Conflict(
                N_(
                    "Fair rotation: your organisation already has a pickup to do. "
                    "Other actors have priority on this batch for {hours} hours."
                ),
                params={"hours": rules.rotation_grace_hours},
            )
    destination = user.site_id
    if destination is None:
        raise InvalidInput(N_("Your account has no site: ask your administrator."))
    try:
        with conn.begin_nested():
            claim_id = conn.execute(
                insert(claims)
                .values(
                    request_id=request_id,
                    declaration_id=declaration_id,
                    organisation_id=user.organisation_id,
                    destination_site_id=destination,
                    created_by=user.id,
                    created_at=now,
                )
                .returning(claims.c.id)
            ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(N_("Another organisation has already claimed this batch.")) from exc
    pickup_id = conn.execute(
        insert(pickups)
        .values(
            claim_id=claim_id,
            window_start=start.astimezone(UTC),
            window_end=end.astimezone(UTC),
            status="scheduled",
        )
        .returning(pickups.c.id)
    ).scalar_one()
    return int(pickup_id), True


def _pickup(conn: Connection, pickup_id: int) -> Any:
    row = conn.execute(
        select(
            pickups,
            claims.c.organisation_id.label("taker_org"),
            claims.c.destination_site_id,
            declarations.c.id.label("declaration_id"),
            declarations.c.organisation_id.label("giver_org"),
            declarations.c.site_id.label("giver_site"),
        )
        .join(claims, claims.c.id == pickups.c.claim_id)
        .join(declarations, declarations.c.id == claims.c.declaration_id)
        .where(pickups.c.id == pickup_id)
    ).first()
    if row is None:
        raise NotFound(N_("Unknown pickup."))
    return row


def sign(
    conn: Connection, user: User, pickup_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Sign the hand-over for the user's side; the second signature records custody."""
    now = now or datetime.now(UTC)
    row = _pickup(conn, pickup_id)
    if row.status != "scheduled":
        raise Conflict(N_("This pickup has already been handed over."))
    pgln = conn.execute(
        select(organisations.c.pgln).where(organisations.c.id == user.organisation_id)
    ).scalar_one()
    signature = {
        "name": user.name,
        "user": user.id,
        "organisation": pgln,
        "at": now.isoformat(timespec="seconds"),
    }
    if user.organisation_id == row.giver_org:
        column = "giver_signature"
    elif user.organisation_id == row.taker_org or user.role is Role.CARRIER:
        column = "taker_signature"
    else:
        raise NotAllowed(N_("You are not a party to this pickup."))
    if row._mapping[column] is None:
        conn.execute(
            update(pickups)
            .where(pickups.c.id == pickup_id, pickups.c[column].is_(None))
            .values({column: signature})
        )
    row = _pickup(conn, pickup_id)
    if row.giver_signature is None or row.taker_signature is None:
        return {"status": "scheduled", "signed": column}
    done = conn.execute(
        update(pickups)
        .where(pickups.c.id == pickup_id, pickups.c.status == "scheduled")
        .values(status="handed_over", handed_over_at=now)
    ).rowcount
    if done != 1:
        raise Conflict(N_("This pickup has already been handed over."))
    asset_ids = [
        int(a)
        for a in conn.execute(
            select(assets.c.id)
            .join(declaration_items, declaration_items.c.asset_id == assets.c.id)
            .where(
                declaration_items.c.declaration_id == row.declaration_id,
                assets.c.state == AssetState.DECLARED.value,
            )
        ).scalars()
    ]
    positions = apply_step(
        conn,
        asset_ids,
        Step.COLLECT,
        StepTarget(row.taker_org, row.destination_site_id, read_site_id=row.giver_site),
        when=now,
        extensions={
            "reemploi:handover": {
                "pickup": row.id,
                "giver": row.giver_signature,
                "taker": row.taker_signature,
            }
        },
    )
    return {"status": "handed_over", "signed": column, "events": positions}


def pickups_for(conn: Connection, user: User) -> list[dict[str, Any]]:
    """Work orders the user's organisation gives or takes (carriers see all open ones)."""
    giver_site = sites.alias("giver_site")
    query = (
        select(
            pickups.c.id,
            pickups.c.window_start,
            pickups.c.window_end,
            pickups.c.status,
            pickups.c.giver_signature,
            pickups.c.taker_signature,
            declarations.c.id.label("declaration_id"),
            declarations.c.kind,
            declarations.c.location,
            declarations.c.organisation_id.label("giver_org"),
            claims.c.organisation_id.label("taker_org"),
            giver_site.c.name.label("site_name"),
            giver_site.c.commune,
        )
        .join(claims, claims.c.id == pickups.c.claim_id)
        .join(declarations, declarations.c.id == claims.c.declaration_id)
        .join(giver_site, giver_site.c.id == declarations.c.site_id)
        .order_by(pickups.c.window_start, pickups.c.id)
    )
    if user.role is Role.CARRIER:
        query = query.where(pickups.c.status == "scheduled")
    else:
        query = query.where(
            (declarations.c.organisation_id == user.organisation_id)
            | (claims.c.organisation_id == user.organisation_id)
        )
    out = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        item["window_start"] = local_time(row.window_start)
        item["window_end"] = local_time(row.window_end)
        item["units"] = conn.execute(
            select(func.count())
            .select_from(declaration_items)
            .where(declaration_items.c.declaration_id == row.declaration_id)
        ).scalar_one()
        item["side"] = (
            "giver"
            if row.giver_org == user.organisation_id
            else "taker"
            if row.taker_org == user.organisation_id or user.role is Role.CARRIER
            else None
        )
        out.append(item)
    return out
