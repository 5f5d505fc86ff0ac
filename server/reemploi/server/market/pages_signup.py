"""Self-registration pages: ask for an account (when the platform is open), and the
administrator's decision on pending requests."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import registrations, transaction
from .config import load_rules
from .errors import N_, NotFound
from .http import ActorDep, MarketDep, MarketState, perm
from .pages_admin import admin_form
from .roles import Permission as P
from .signup_gate import gated_signup
from .web import on_form, render, router

OUTCOME = {"approuver": "registration_approved", "refuser": "registration_refused"}


def _signup_context(m: MarketState) -> dict[str, Any]:
    with m.engine.connect() as conn:
        registrations.check_open(load_rules(conn))
    return {"roles": [r.value for r in registrations.SELF_SERVICE_ROLES]}


@router.get("/inscription", **perm(P.PUBLIC))
def signup_page(request: Request, m: MarketDep) -> Response:
    return render(request, "signup.html", None, values={}, **_signup_context(m))


@router.post("/inscription", **perm(P.PUBLIC))
async def signup_submit(request: Request, m: MarketDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def record() -> int:
        return transaction.write(
            m.engine,
            lambda conn: registrations.request_account(
                conn,
                load_rules(conn),
                email=values.get("email", ""),
                name=values.get("name", ""),
                password=values.get("password", ""),
                role=values.get("role", ""),
                organisation_name=values.get("organisation_name", ""),
                commune=values.get("commune", ""),
                hasher=m.hasher,
            ),
        )

    def work() -> int:
        return gated_signup(m, request, record)

    def done(_id: int) -> Response:
        return render(request, "signup.html", None, sent=True, values={}, roles=[])

    shown = {k: v for k, v in values.items() if k != "password"}  # never shown back
    return on_form(
        request, None, "signup.html", lambda: _signup_context(m), work, done, values=shown
    )


@router.post("/admin/inscriptions/{registration_id}/{decision}", **perm(P.SETTINGS))
def decide_submit(
    registration_id: int, decision: str, request: Request, actor: ActorDep, m: MarketDep
) -> Response:
    def work() -> Any:
        if decision not in OUTCOME:
            raise NotFound(N_("Page not found."))
        if decision == "approuver":
            return transaction.write(
                m.engine,
                lambda conn: registrations.approve(
                    conn, registration_id, actor.user, gs1_prefix=m.settings.gs1_prefix
                ),
            )
        return transaction.write(
            m.engine, lambda conn: registrations.refuse(conn, registration_id, actor.user)
        )

    return admin_form(request, actor, m, work, OUTCOME.get(decision, ""))
