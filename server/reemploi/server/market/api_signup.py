"""JSON API: self-registration (open platform only) and the administrator's decisions."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field

from . import registrations, transaction
from .api import router
from .config import load_rules
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P
from .signup_gate import gated_signup


class Registration(BaseModel):
    email: str = Field(max_length=200)
    name: str = Field(max_length=200)
    password: str = Field(max_length=200)
    role: str = Field(max_length=40)
    organisation_name: str = Field(max_length=200)
    commune: str = Field(max_length=100)


@router.post("/registrations", summary="Demander un compte (inscription ouverte)", **perm(P.PUBLIC))
def post_registration(body: Registration, request: Request, m: MarketDep) -> dict[str, Any]:
    made = gated_signup(
        m,
        request,
        lambda: transaction.write(
            m.engine,
            lambda conn: registrations.request_account(
                conn, load_rules(conn), hasher=m.hasher, **body.model_dump()
            ),
        ),
    )
    return {"id": made, "status": "pending"}


@router.get("/registrations", summary="Demandes d'inscription en attente", **perm(P.SETTINGS))
def get_registrations(m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return registrations.pending(conn)


@router.post(
    "/registrations/{registration_id}/approve",
    summary="Approuver une inscription",
    **perm(P.SETTINGS),
)
def post_approve(registration_id: int, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    user = transaction.write(
        m.engine,
        lambda conn: registrations.approve(
            conn, registration_id, actor.user, gs1_prefix=m.settings.gs1_prefix
        ),
    )
    return {"user": user.__dict__}


@router.post(
    "/registrations/{registration_id}/refuse",
    summary="Refuser une inscription",
    **perm(P.SETTINGS),
)
def post_refuse(registration_id: int, actor: ActorDep, m: MarketDep) -> dict[str, str]:
    transaction.write(
        m.engine, lambda conn: registrations.refuse(conn, registration_id, actor.user)
    )
    return {"status": "refused"}
