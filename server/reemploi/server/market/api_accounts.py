"""JSON API: sessions, invitations, the administrator's rules and maintenance."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, Field

from . import accounts, lots, solidarity, transaction
from .api import router
from .config import load_rules, rules_dict, save_rules
from .http import COOKIE, ActorDep, MarketDep, perm
from .roles import Permission as P
from .roles import Role
from .signin import set_session_cookie, sign_in


class Login(BaseModel):
    email: str = Field(max_length=200)
    password: str = Field(max_length=200)


@router.post("/session", summary="Se connecter", **perm(P.PUBLIC))
def login(body: Login, request: Request, response: Response, m: MarketDep) -> dict[str, Any]:
    user, token, csrf = sign_in(m, request, body.email, body.password)
    set_session_cookie(response, token, m)
    return {"user": user.__dict__, "csrf": csrf}


@router.delete("/session", summary="Se déconnecter", **perm(P.SIGNED_IN))
def logout(request: Request, response: Response, m: MarketDep) -> dict[str, str]:
    with m.engine.begin() as conn:
        accounts.close_session(conn, request.cookies.get(COOKIE, ""))
    response.delete_cookie(COOKIE, path="/")
    return {"status": "ok"}


@router.get("/me", summary="Mon compte", **perm(P.SIGNED_IN))
def me(actor: ActorDep) -> dict[str, Any]:
    return {"user": actor.user.__dict__, "csrf": actor.csrf}


class NewInvitation(BaseModel):
    email: str = Field(max_length=200)
    role: Role
    organisation_id: str | None = Field(default=None, max_length=40)
    organisation_name: str | None = Field(default=None, max_length=200)
    commune: str | None = Field(default=None, max_length=100)


@router.post("/invitations", summary="Inviter une personne", **perm(P.INVITE))
def create_invitation(body: NewInvitation, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    def work(conn: Any) -> dict[str, Any]:
        org_id = body.organisation_id
        if not org_id:
            org_id, _site = accounts.create_organisation(
                conn,
                name=body.organisation_name or "",
                kind=body.role,
                commune=body.commune or "",
                gs1_prefix=m.settings.gs1_prefix,
            )
        token = accounts.invite(
            conn,
            email=body.email,
            role=body.role,
            organisation_id=org_id,
            invited_by=actor.user.id,
        )
        return {"token": token, "link": f"/m/invitation/{token}", "organisation_id": org_id}

    return transaction.write(m.engine, work)


class Acceptance(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=200)


@router.post("/invitations/{token}/accept", summary="Accepter une invitation", **perm(P.PUBLIC))
def accept_invitation(token: str, body: Acceptance, m: MarketDep) -> dict[str, Any]:
    user = transaction.write(
        m.engine,
        lambda conn: accounts.accept_invitation(conn, token, body.name, body.password, m.hasher),
    )
    return {"user": user.__dict__}


@router.get("/settings", summary="Règles de la place de marché", **perm(P.SETTINGS))
def get_settings(m: MarketDep) -> dict[str, Any]:
    with m.engine.connect() as conn:
        return rules_dict(load_rules(conn))


@router.put("/settings", summary="Changer les règles", **perm(P.SETTINGS))
def put_settings(body: dict[str, Any], m: MarketDep) -> dict[str, Any]:
    return rules_dict(transaction.write(m.engine, lambda conn: save_rules(conn, body)))


@router.post("/maintenance", summary="Lever les réservations échues, purger", **perm(P.SETTINGS))
def maintenance(m: MarketDep) -> dict[str, int]:
    def work(conn: Any) -> dict[str, int]:
        return {"released": lots.expire(conn), "purged": solidarity.purge(conn)}

    return m.write_stock(work)
