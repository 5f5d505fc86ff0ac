"""JSON API: declarations, declared supply, claims and pickups, stock, forecast, grading."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, UploadFile
from pydantic import BaseModel, Field

from . import pickups, supply, transaction
from .api import router
from .config import load_rules
from .declarations import Item, declare, make_item, my_declarations, parse_csv, parse_date
from .errors import N_, InvalidInput
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P


class NewDeclaration(BaseModel):
    request_id: str = Field(max_length=64)
    kind: str = Field(default="single", pattern="^(single|rack)$")
    planned_date: str = Field(max_length=10)
    site_id: str | None = Field(default=None, max_length=40)
    location: str = Field(default="", max_length=200)
    items: list[dict[str, Any]] = Field(max_length=500)


def _items(raw: list[dict[str, Any]]) -> list[Item]:
    out, errors = [], {}
    for index, item in enumerate(raw):
        try:
            out.append(make_item(item, prefix=f"items.{index}."))
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    return out


@router.post("/declarations", summary="Déclarer du matériel (un ou une baie)", **perm(P.DECLARE))
def post_declaration(body: NewDeclaration, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    items = _items(body.items)
    planned = parse_date(body.planned_date)
    declaration_id, created = transaction.write(
        m.engine,
        lambda conn: declare(
            conn,
            actor.user,
            request_id=body.request_id,
            kind=body.kind,
            items=items,
            planned_date=planned,
            site_id=body.site_id,
            location=body.location,
            gs1_prefix=m.settings.gs1_prefix,
        ),
    )
    return {"id": declaration_id, "created": created}


@router.post("/declarations/csv", summary="Déclarer depuis un tableur (CSV)", **perm(P.DECLARE))
async def post_declaration_csv(
    actor: ActorDep,
    m: MarketDep,
    file: Annotated[UploadFile, File()],
    request_id: Annotated[str, Form(max_length=64)],
    planned_date: Annotated[str, Form(max_length=10)],
) -> dict[str, Any]:
    raw = await file.read(2_000_001)
    if len(raw) > 2_000_000:
        raise InvalidInput(
            N_("The file is too large (2 MB at most)."),
            fields={"file": N_("The file is too large (2 MB at most).")},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    items = parse_csv(text)
    planned = parse_date(planned_date)
    declaration_id, created = transaction.write(
        m.engine,
        lambda conn: declare(
            conn,
            actor.user,
            request_id=request_id,
            kind="csv",
            items=items,
            planned_date=planned,
            site_id=None,
            location="",
            gs1_prefix=m.settings.gs1_prefix,
        ),
    )
    return {"id": declaration_id, "created": created, "items": len(items)}


@router.get(
    "/declarations", summary="Mes déclarations et le devenir de chaque matériel", **perm(P.DECLARE)
)
def get_declarations(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return my_declarations(conn, actor.user.organisation_id)


@router.get(
    "/supply/declared",
    summary="Gisement déclaré, pas encore collecté",
    **perm(P.VIEW_DECLARED_SUPPLY),
)
def get_declared(m: MarketDep, category: str | None = None) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.declared_supply(conn, category=category)


class ClaimRequest(BaseModel):
    request_id: str = Field(max_length=64)
    window_start: str | None = Field(default=None, max_length=10)  # YYYY-MM-DD
    window_end: str | None = Field(default=None, max_length=10)


@router.post(
    "/declarations/{declaration_id}/claim", summary="Réserver un lot déclaré", **perm(P.CLAIM)
)
def post_claim(
    declaration_id: int, body: ClaimRequest, actor: ActorDep, m: MarketDep
) -> dict[str, Any]:
    def work(conn: Any) -> tuple[int, bool]:
        return pickups.claim(
            conn,
            actor.user,
            declaration_id=declaration_id,
            request_id=body.request_id,
            rules=load_rules(conn),
            window_start=body.window_start,
            window_end=body.window_end,
        )

    pickup_id, created = transaction.write(m.engine, work)
    return {"pickup": pickup_id, "created": created}


@router.get("/pickups", summary="Bons d'enlèvement", **perm(P.SIGN_PICKUP))
def get_pickups(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return pickups.pickups_for(conn, actor.user)


@router.post(
    "/pickups/{pickup_id}/sign", summary="Signer la remise à l'enlèvement", **perm(P.SIGN_PICKUP)
)
def post_sign(pickup_id: int, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    return transaction.write(m.engine, lambda conn: pickups.sign(conn, actor.user, pickup_id))


def _filter(
    category: str | None,
    grade: str | None,
    min_ram_gb: int | None,
    min_storage_gb: int | None,
    site: str | None,
    commune: str | None,
) -> supply.StockFilter:
    return supply.StockFilter(
        category or None, grade or None, min_ram_gb, min_storage_gb, site or None, commune or None
    )


@router.get("/stock", summary="Chercher dans le stock reconditionné", **perm(P.VIEW_STOCK))
def get_stock(
    m: MarketDep,
    category: str | None = None,
    grade: str | None = None,
    min_ram_gb: Annotated[int | None, Field(ge=0, le=4096)] = None,
    min_storage_gb: Annotated[int | None, Field(ge=0)] = None,
    site: str | None = None,
    commune: str | None = None,
) -> dict[str, Any]:
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        items = supply.search_stock(
            conn, _filter(category, grade, min_ram_gb, min_storage_gb, site, commune), rules
        )
        return {"total": len(items), "items": items, "summary": supply.stock_summary(conn, rules)}


@router.get(
    "/forecast", summary="Prévision mensuelle du gisement par catégorie", **perm(P.VIEW_FORECAST)
)
def get_forecast(
    m: MarketDep, months: Annotated[int, Field(ge=1, le=24)] = 6
) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.forecast(conn, months=months)


@router.get("/units", summary="Unités détenues par mon organisation", **perm(P.GRADE))
def get_units(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.held_units(conn, actor.user.organisation_id)


class Grading(BaseModel):
    grade: str = Field(max_length=1)
    ram_gb: int | None = None
    storage_gb: int | None = None
    cpu: str | None = Field(default=None, max_length=80)


@router.put("/units/{asset_id}", summary="Grade et caractéristiques d'une unité", **perm(P.GRADE))
def put_unit(asset_id: int, body: Grading, actor: ActorDep, m: MarketDep) -> dict[str, str]:
    m.write_stock(
        lambda conn: supply.grade_unit(
            conn,
            actor.user,
            asset_id,
            grade=body.grade,
            ram_gb=body.ram_gb,
            storage_gb=body.storage_gb,
            cpu=body.cpu,
        ),
    )
    return {"status": "ok"}
