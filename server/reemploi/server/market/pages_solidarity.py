"""Pages of solidarity: issue vouchers (RGPD export and erasure), redeem them."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, solidarity, supply, transaction
from .config import load_rules
from .errors import N_, InvalidInput
from .form_values import form_int
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P
from .web import on_form, redirect, render, router


def _vouchers_context(m: Any, user: accounts.User) -> dict[str, Any]:
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        return {
            "vouchers": solidarity.issued_by(conn, user.organisation_id),
            "categories": sorted(rules.solidarity_share),
            "eligibility": solidarity.ELIGIBILITY,
            "rules": rules,
        }


@router.get("/bons", **perm(P.ISSUE_VOUCHER))
def vouchers_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "vouchers.html", actor, values={}, **_vouchers_context(m, actor.user))


@router.post("/bons", **perm(P.ISSUE_VOUCHER))
async def voucher_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        return transaction.write(
            m.engine,
            lambda conn: solidarity.issue(
                conn,
                actor.user,
                request_id=values.get("request_id", ""),
                category=values.get("category", ""),
                eligibility=values.get("eligibility", ""),
                rules=load_rules(conn),
            ),
        )

    def done(result: tuple[str | None, int]) -> Response:
        code, _id = result
        if code is None:
            return redirect("/m/bons", "already_issued")
        return render(
            request,
            "voucher_issued.html",
            actor,
            code=code,
            qr=solidarity.qr_svg(code),
            **_vouchers_context(m, actor.user),
        )

    return on_form(
        request,
        actor,
        "vouchers.html",
        lambda: _vouchers_context(m, actor.user),
        work,
        done,
        values=values,
    )


@router.post("/bons/rgpd", **perm(P.ISSUE_VOUCHER))
async def voucher_rgpd(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    code = str(form.get("code", ""))
    action = str(form.get("action", "export"))

    def work() -> Any:
        if action == "erase":
            transaction.write(m.engine, lambda conn: solidarity.erase(conn, actor.user, code))
            return None
        with m.engine.connect() as conn:
            return solidarity.export(conn, actor.user, code)

    def done(data: Any) -> Response:
        if data is None:
            return redirect("/m/bons", "erased")
        return render(
            request,
            "vouchers.html",
            actor,
            export=data,
            values={},
            **_vouchers_context(m, actor.user),
        )

    return on_form(
        request,
        actor,
        "vouchers.html",
        lambda: _vouchers_context(m, actor.user),
        work,
        done,
        values={"code": code},
    )


def _redeem_context(m: Any, user: accounts.User) -> dict[str, Any]:
    with m.engine.connect() as conn:
        items = supply.search_stock(conn, supply.StockFilter(), load_rules(conn), solidarity=True)
    return {"units": [i for i in items if i["site_id"] == user.site_id or True]}


@router.get("/solidaire", **perm(P.REDEEM_VOUCHER))
def redeem_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "redeem.html", actor, values={}, **_redeem_context(m, actor.user))


@router.post("/solidaire", **perm(P.REDEEM_VOUCHER))
async def redeem_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        asset_id = form_int(values.get("asset_id"))
        if asset_id is None:
            raise InvalidInput(
                N_("Please correct the highlighted fields."),
                fields={"asset_id": N_("Choose a unit.")},
            )
        return m.write_stock(
            lambda conn: solidarity.redeem(
                conn,
                actor.user,
                code=values.get("code", ""),
                asset_id=asset_id,
                rules=load_rules(conn),
            ),
        )

    return on_form(
        request,
        actor,
        "redeem.html",
        lambda: _redeem_context(m, actor.user),
        work,
        lambda _r: redirect("/m/solidaire", "redeemed"),
        values=values,
    )
