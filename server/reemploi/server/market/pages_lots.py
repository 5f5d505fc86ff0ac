"""Pages of lots: ask for a homogeneous lot and its quote, accept it, hand reserved
lots over (sold or donated)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, lots, transaction
from .config import load_rules
from .declarations import CATEGORIES
from .form_values import form_int
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P
from .web import on_form, redirect, render, router


def _lots_context(m: Any, user: accounts.User) -> dict[str, Any]:
    transaction.write(m.engine, lots.expire)
    with m.engine.connect() as conn:
        return {"lots": lots.lots_for(conn, user), "categories": CATEGORIES}


@router.get("/lots", **perm(P.BUY))
def lots_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "lots.html", actor, values={}, **_lots_context(m, actor.user))


@router.post("/lots", **perm(P.BUY))
async def lot_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        quantity = form_int(values.get("quantity"))
        return transaction.write(
            m.engine,
            lambda conn: lots.request_lot(
                conn,
                actor.user,
                request_id=values.get("request_id", ""),
                category=values.get("category", ""),
                grade=values.get("grade", ""),
                quantity=quantity or 0,
                min_ram_gb=form_int(values.get("min_ram_gb")),
                rules=load_rules(conn),
            ),
        )

    return on_form(
        request,
        actor,
        "lots.html",
        lambda: _lots_context(m, actor.user),
        work,
        lambda _r: redirect("/m/lots", "quoted"),
        values=values,
    )


@router.post("/lots/{lot_id}/accepter", **perm(P.BUY))
def accept_submit(lot_id: int, request: Request, actor: ActorDep, m: MarketDep) -> Response:
    def work() -> Any:
        def inner(conn: Any) -> Any:
            lots.expire(conn)
            return lots.accept(conn, actor.user, lot_id, load_rules(conn))

        return m.write_stock(inner)

    return on_form(
        request,
        actor,
        "lots.html",
        lambda: _lots_context(m, actor.user),
        work,
        lambda _r: redirect("/m/lots", "reserved"),
    )


@router.get("/remises", **perm(P.FULFIL))
def fulfil_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    ctx = _lots_context(m, actor.user)
    return render(request, "fulfil.html", actor, lots=[x for x in ctx["lots"] if not x["is_buyer"]])


@router.post("/remises/{lot_id}", **perm(P.FULFIL))
async def fulfil_submit(lot_id: int, request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()

    def context() -> dict[str, Any]:
        ctx = _lots_context(m, actor.user)
        return {"lots": [x for x in ctx["lots"] if not x["is_buyer"]]}

    return on_form(
        request,
        actor,
        "fulfil.html",
        context,
        lambda: m.write_stock(
            lambda conn: lots.fulfil(conn, actor.user, lot_id, str(form.get("outcome", ""))),
        ),
        lambda _r: redirect("/m/remises", "handed_over"),
    )
