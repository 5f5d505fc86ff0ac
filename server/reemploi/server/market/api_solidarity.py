"""JSON API: solidarity vouchers (issue, RGPD export and erasure, check, redeem)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from . import solidarity, supply, transaction
from .api import router
from .config import load_rules
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P


class NewVoucher(BaseModel):
    request_id: str = Field(max_length=64)
    category: str = Field(max_length=40)
    eligibility: str = Field(max_length=40)


@router.post("/vouchers", summary="Émettre un bon solidaire", **perm(P.ISSUE_VOUCHER))
def post_voucher(body: NewVoucher, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    code, voucher_id = transaction.write(
        m.engine,
        lambda conn: solidarity.issue(
            conn,
            actor.user,
            request_id=body.request_id,
            category=body.category,
            eligibility=body.eligibility,
            rules=load_rules(conn),
        ),
    )
    return {"id": voucher_id, "code": code, "qr_svg": solidarity.qr_svg(code) if code else None}


@router.get("/vouchers", summary="Bons émis par mon organisation", **perm(P.ISSUE_VOUCHER))
def get_vouchers(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return solidarity.issued_by(conn, actor.user.organisation_id)


class VoucherCode(BaseModel):
    code: str = Field(max_length=40)


@router.post("/vouchers/export", summary="RGPD : données d'un bon", **perm(P.ISSUE_VOUCHER))
def post_voucher_export(body: VoucherCode, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    with m.engine.connect() as conn:
        return solidarity.export(conn, actor.user, body.code)


@router.post("/vouchers/erase", summary="RGPD : effacer un bon", **perm(P.ISSUE_VOUCHER))
def post_voucher_erase(body: VoucherCode, actor: ActorDep, m: MarketDep) -> dict[str, str]:
    transaction.write(m.engine, lambda conn: solidarity.erase(conn, actor.user, body.code))
    return {"status": "erased"}


@router.post("/vouchers/check", summary="Vérifier un bon solidaire", **perm(P.REDEEM_VOUCHER))
def post_voucher_check(body: VoucherCode, m: MarketDep) -> dict[str, Any]:
    with m.engine.connect() as conn:
        row = solidarity.check(conn, body.code)
        return {
            "category": row.category,
            "social_price_cents": row.social_price_cents,
            "expires_at": row.expires_at,
        }


class Redemption(BaseModel):
    code: str = Field(max_length=40)
    asset_id: int


@router.post(
    "/vouchers/redeem", summary="Remettre un matériel contre un bon", **perm(P.REDEEM_VOUCHER)
)
def post_voucher_redeem(body: Redemption, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    return m.write_stock(
        lambda conn: solidarity.redeem(
            conn, actor.user, code=body.code, asset_id=body.asset_id, rules=load_rules(conn)
        ),
    )


@router.get("/solidarity/stock", summary="Stock de la part solidaire", **perm(P.REDEEM_VOUCHER))
def get_solidarity_stock(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        items = supply.search_stock(conn, supply.StockFilter(), load_rules(conn), solidarity=True)
    return [i for i in items if i["holder"] and i["site_id"]]
