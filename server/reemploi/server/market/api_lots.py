"""JSON API: lots, quotes (PDF), reservations, hand-over of reserved lots."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..db.tables import organisations
from . import lots, transaction
from .api import router
from .config import load_rules
from .errors import N_, NotFound
from .http import ActorDep, MarketDep, perm
from .quote_pdf import quote_pdf
from .roles import Permission as P


class LotRequest(BaseModel):
    request_id: str = Field(max_length=64)
    category: str = Field(max_length=40)
    grade: str = Field(max_length=1)
    quantity: int
    min_ram_gb: int | None = None


@router.post("/lots", summary="Demander un lot homogène et son devis", **perm(P.BUY))
def post_lot(body: LotRequest, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    def work(conn: Any) -> tuple[int, bool]:
        lots.expire(conn)
        return lots.request_lot(
            conn,
            actor.user,
            request_id=body.request_id,
            category=body.category,
            grade=body.grade,
            quantity=body.quantity,
            min_ram_gb=body.min_ram_gb,
            rules=load_rules(conn),
        )

    lot_id, created = transaction.write(m.engine, work)
    return {"id": lot_id, "created": created, "quote": f"/api/market/lots/{lot_id}/quote.pdf"}


@router.get("/lots", summary="Mes lots et devis", **perm(P.BUY))
def get_lots(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    transaction.write(m.engine, lots.expire)
    with m.engine.connect() as conn:
        return lots.lots_for(conn, actor.user)


@router.get("/lots/{lot_id}/quote.pdf", summary="Devis PDF", **perm(P.BUY))
def get_quote(lot_id: int, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        lot = lots.get_lot(conn, lot_id)
        if lot.buyer_org_id != actor.user.organisation_id:
            raise NotFound(N_("Unknown lot."))
        buyer = conn.execute(
            select(organisations.c.name).where(organisations.c.id == lot.buyer_org_id)
        ).scalar_one()
        pdf = quote_pdf(lot, buyer, lots.lot_units(conn, lot_id), m.settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="devis-{lot.quote_number}.pdf"'},
    )


@router.post("/lots/{lot_id}/accept", summary="Accepter le devis : réserver le lot", **perm(P.BUY))
def post_accept(lot_id: int, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    def work(conn: Any) -> Any:
        lots.expire(conn)
        return lots.accept(conn, actor.user, lot_id, load_rules(conn))

    lot = m.write_stock(work)
    return {"id": lot.id, "status": lot.status, "reserved_until": lot.reserved_until}


@router.get("/lots/to-fulfil", summary="Lots réservés à remettre", **perm(P.FULFIL))
def get_lots_to_fulfil(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    transaction.write(m.engine, lots.expire)
    with m.engine.connect() as conn:
        return [lot for lot in lots.lots_for(conn, actor.user) if not lot["is_buyer"]]


class Fulfilment(BaseModel):
    outcome: str = Field(pattern="^(sold|donated)$")


@router.post("/lots/{lot_id}/fulfil", summary="Remettre un lot : vendu ou donné", **perm(P.FULFIL))
def post_fulfil(lot_id: int, body: Fulfilment, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    def work(conn: Any) -> Any:
        lots.expire(conn)
        return lots.fulfil(conn, actor.user, lot_id, body.outcome)

    lot = m.write_stock(work)
    return {"id": lot.id, "status": lot.status}
