"""JSON API: the phone as a reader (its device, then each tap through the ingest)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from . import tap, transaction
from .api import router
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P


@router.get(
    "/tap/device", summary="Le téléphone comme lecteur : appareil et numéro suivant", **perm(P.TAP)
)
def get_tap_device(actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    device_id, site_id, next_seq = transaction.write(
        m.engine, lambda conn: tap.ensure_phone(conn, actor.user)
    )
    return {"device": device_id, "site": site_id, "next_seq": next_seq}


class PhoneTap(BaseModel):
    seq: int = Field(ge=0)
    kind: str = Field(max_length=20)
    data: str = Field(max_length=2048)
    clock: int | None = Field(default=None, ge=0)


@router.post("/tap", summary="Enregistrer un passage de badge depuis un téléphone", **perm(P.TAP))
def post_tap(body: PhoneTap, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    result, batch = tap.tap(
        m.engine,
        m.pipeline,
        actor.user,
        seq=body.seq,
        kind=body.kind,
        data=body.data,
        clock_ms=body.clock,
    )
    m.app_state.live.on_batch(batch)
    return result.__dict__
