"""Declarations of equipment to be decommissioned: one item, a CSV file, or a whole rack.

Each item becomes an asset in state ``declared`` through the registry (its commissioning
event is chained in the ledger). A declaration carries the planned date; the same
submission (same ``request_id`` by the same person) returns the first declaration.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from reemploi.domain.custody import AssetState
from reemploi.domain.digital_link import giai_uri

from ..db.market_tables import asset_specs, claims, declaration_items, declarations, pickups
from ..db.tables import assets, sites
from ..registry import Declaration, declare_asset
from .accounts import User
from .errors import N_, InvalidInput
from .localtime import local_time

CATEGORIES = ("laptop", "desktop", "screen", "phone", "tablet", "server", "network")
CSV_COLUMNS = ("category", "description", "serial", "ram_gb", "storage_gb", "year")
MAX_ITEMS = 500
REQUEST_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Item:
    category: str
    description: str = ""
    serial: str | None = None
    ram_gb: int | None = None
    storage_gb: int | None = None
    year: int | None = None


def check_request_id(value: str) -> str:
    value = (value or "").strip().lower()
    if not 8 <= len(value) <= 64 or not set(value) <= REQUEST_ID_CHARS:
        raise InvalidInput(
            N_("This form has expired: reload the page."),
            fields={"request_id": N_("This form has expired: reload the page.")},
        )
    return value


def parse_date(value: str, field: str = "planned_date") -> date:
    try:
        parsed = date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput(
            N_("Please correct the highlighted fields."),
            fields={field: N_("Enter a date (YYYY-MM-DD).")},
        ) from None
    if not 2000 <= parsed.year <= 2100:
        raise InvalidInput(
            N_("Please correct the highlighted fields."),
            fields={field: N_("Enter a date (YYYY-MM-DD).")},
        )
    return parsed


def _int_or_none(value: Any, low: int, high: int) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    number = int(str(value).strip())
    if not low <= number <= high:
        raise ValueError(value)
    return number


def make_item(raw: dict[str, Any], prefix: str = "") -> Item:
    """Check one item's fields; errors are keyed ``<prefix><field>``."""
    errors: dict[str, str] = {}
    category = str(raw.get("category") or "").strip().lower()
    if category not in CATEGORIES:
        errors[prefix + "category"] = N_("Choose a category.")
    description = str(raw.get("description") or "").strip()
    if len(description) > 200:
        errors[prefix + "description"] = N_("At most 200 characters.")
    serial = str(raw.get("serial") or "").strip() or None
    if serial is not None and len(serial) > 80:
        errors[prefix + "serial"] = N_("At most 80 characters.")
    numbers: dict[str, int | None] = {}
    for name, low, high in (
        ("ram_gb", 0, 4096),
        ("storage_gb", 0, 1_000_000),
        ("year", 1980, 2100),
    ):
        try:
            numbers[name] = _int_or_none(raw.get(name), low, high)
        except ValueError:
            errors[prefix + name] = N_("Enter a valid whole number.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    return Item(category, description, serial, **numbers)


def parse_csv(text: str) -> list[Item]:
    """Items from a spreadsheet saved as CSV (comma or semicolon, header row)."""
    sample = text[:2000]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "category" not in header:
        raise InvalidInput(
            N_("The file needs a header row with at least the column category."),
            fields={"file": N_("The file needs a header row with at least the column category.")},
        )
    items: list[Item] = []
    errors: dict[str, str] = {}
    for line, row in enumerate(reader, start=2):
        clean = {(k or "").strip().lower(): v for k, v in row.items()}
        try:
            items.append(make_item(clean, prefix=f"line {line}: "))
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput(N_("Some lines of the file are not valid."), fields=errors)
    return items


def _existing(conn: Connection, user: User, request_id: str) -> int | None:
    return conn.execute(
        select(declarations.c.id).where(
            declarations.c.created_by == user.id, declarations.c.request_id == request_id
        )
    ).scalar()


def declare(
    conn: Connection,
    user: User,
    *,
    request_id: str,
    kind: str,
    items: list[Item],
    planned_date: date,
    site_id: str | None,
    location: str,
    gs1_prefix: str,
    today: date | None = None,
) -> tuple[int, bool]:
    """Record a declaration; return ``(declaration id, created)`` (False on a replay)."""
    request_id = check_request_id(request_id)
    found = _existing(conn, user, request_id)
    if found is not None:
        return found, False
    errors: dict[str, str] = {}
    if not items:
        errors["items"] = N_("Declare at least one item.")
    if len(items) > MAX_ITEMS:
        errors["items"] = N_("At most 500 items per declaration.")
    if planned_date < (today or datetime.now(UTC).date()):
        errors["planned_date"] = N_("The planned date cannot be in the past.")
    site_id = site_id or user.site_id
    owner = conn.execute(select(sites.c.organisation_id).where(sites.c.id == site_id)).scalar()
    if owner != user.organisation_id:
        errors["site_id"] = N_("Choose one of your organisation's sites.")
    if kind == "rack" and not location.strip():
        errors["location"] = N_("Enter where the rack is (building, room, bay).")
    if len(location) > 200:
        errors["location"] = N_("At most 200 characters.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    assert site_id is not None
    declaration_id = int(
        conn.execute(
            insert(declarations)
            .values(
                request_id=request_id,
                kind=kind,
                organisation_id=user.organisation_id,
                site_id=site_id,
                location=location.strip(),
                planned_date=planned_date,
                created_by=user.id,
                created_at=datetime.now(UTC),
            )
            .returning(declarations.c.id)
        ).scalar_one()
    )
    for item in items:
        giai = f"{gs1_prefix}D{secrets.token_hex(6).upper()}"
        asset_id = declare_asset(
            conn,
            Declaration(
                epc=giai_uri(giai),
                category=item.category,
                owner_id=user.organisation_id,
                site_id=site_id,
                description=item.description,
                serial=item.serial,
            ),
        )
        conn.execute(
            insert(declaration_items).values(asset_id=asset_id, declaration_id=declaration_id)
        )
        if item.ram_gb is not None or item.storage_gb is not None or item.year is not None:
            conn.execute(
                insert(asset_specs).values(
                    asset_id=asset_id,
                    ram_gb=item.ram_gb,
                    storage_gb=item.storage_gb,
                    year=item.year,
                )
            )
    return declaration_id, True


def my_declarations(conn: Connection, organisation_id: str) -> list[dict[str, Any]]:
    """The organisation's declarations, each with its items and their current state."""
    rows = conn.execute(
        select(
            declarations,
            claims.c.organisation_id.label("claimed_by"),
            pickups.c.window_start,
            pickups.c.window_end,
            pickups.c.status.label("pickup_status"),
        )
        .outerjoin(claims, claims.c.declaration_id == declarations.c.id)
        .outerjoin(pickups, pickups.c.claim_id == claims.c.id)
        .where(declarations.c.organisation_id == organisation_id)
        .order_by(declarations.c.id.desc())
    ).all()
    out = []
    for row in rows:
        items = conn.execute(
            select(
                assets.c.id,
                assets.c.epc,
                assets.c.category,
                assets.c.serial,
                assets.c.description,
                assets.c.state,
            )
            .join(declaration_items, declaration_items.c.asset_id == assets.c.id)
            .where(declaration_items.c.declaration_id == row.id)
            .order_by(assets.c.id)
        ).all()
        out.append(
            {
                **row._mapping,
                # pickup hours in Grenoble's local time (stored as UTC instants)
                "window_start": local_time(row.window_start),
                "window_end": local_time(row.window_end),
                "items": [dict(i._mapping) for i in items],
            }
        )
    return out


def declared_counts(conn: Connection, declaration_id: int) -> tuple[int, int]:
    """(items, items still declared) of a declaration."""
    total = conn.execute(
        select(func.count())
        .select_from(declaration_items)
        .where(declaration_items.c.declaration_id == declaration_id)
    ).scalar_one()
    still = conn.execute(
        select(func.count())
        .select_from(declaration_items)
        .join(assets, assets.c.id == declaration_items.c.asset_id)
        .where(
            declaration_items.c.declaration_id == declaration_id,
            assets.c.state == AssetState.DECLARED.value,
        )
    ).scalar_one()
    return int(total), int(still)
