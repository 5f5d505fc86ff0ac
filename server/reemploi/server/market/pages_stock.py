"""Pages of the stock: search, forecast, the workshop's units (grade, specifications),
the phone tap page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, supply
from .config import load_rules
from .declarations import CATEGORIES
from .errors import InvalidInput
from .form_values import form_int
from .http import ActorDep, MarketDep, MarketState, perm
from .roles import Permission as P
from .web import on_form, redirect, render, router


def _stock_context(request: Request, m: MarketState) -> dict[str, Any]:
    q = request.query_params
    try:
        flt = supply.StockFilter(
            q.get("category") or None,
            q.get("grade") or None,
            form_int(q.get("min_ram_gb")),
            form_int(q.get("min_storage_gb")),
            q.get("site") or None,
            q.get("commune") or None,
        )
    except InvalidInput:
        flt = supply.StockFilter()
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        return {
            "items": supply.search_stock(conn, flt, rules),
            "summary": supply.stock_summary(conn, rules),
            "communes": supply.communes(conn),
            "categories": CATEGORIES,
            "values": dict(q),
        }


@router.get("/stock", **perm(P.VIEW_STOCK))
def stock_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "stock.html", actor, **_stock_context(request, m))


@router.get("/stock/lignes", **perm(P.VIEW_STOCK))
def stock_rows(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    """The stock tables alone, for the page's live refresh (same filters as the page)."""
    response = render(request, "stock_tables.html", actor, **_stock_context(request, m))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/prevision", **perm(P.VIEW_FORECAST))
def forecast_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        rows = supply.forecast(conn)
        declared = supply.declared_supply(conn)
    months = sorted({r["month"] for r in rows})
    categories = sorted({r["category"] for r in rows})
    table = {(r["month"], r["category"]): r for r in rows}
    return render(
        request,
        "forecast.html",
        actor,
        months=months,
        categories=categories,
        table=table,
        declared=declared,
    )


# ------------------------------------------------------------------ workshop


def _units_context(m: Any, user: accounts.User) -> dict[str, Any]:
    with m.engine.connect() as conn:
        return {"units": supply.held_units(conn, user.organisation_id)}


@router.get("/atelier", **perm(P.GRADE))
def units_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "units.html", actor, **_units_context(m, actor.user))


@router.post("/atelier/{asset_id}", **perm(P.GRADE))
async def grade_submit(asset_id: int, request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()

    def work() -> Any:
        return m.write_stock(
            lambda conn: supply.grade_unit(
                conn,
                actor.user,
                asset_id,
                grade=str(form.get("grade", "")),
                ram_gb=form_int(form.get("ram_gb")),
                storage_gb=form_int(form.get("storage_gb")),
                cpu=str(form.get("cpu", "")),
            ),
        )

    return on_form(
        request,
        actor,
        "units.html",
        lambda: _units_context(m, actor.user),
        work,
        lambda _r: redirect("/m/atelier", "graded"),
    )


@router.get("/badge", **perm(P.TAP))
def tap_page(request: Request, actor: ActorDep) -> Response:
    return render(request, "tap.html", actor)
