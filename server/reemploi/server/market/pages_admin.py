"""Administration pages: invitations, the administrator's rules, solidarity shares and\nprices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, oidc, oidc_accounts, registrations, settings_form, transaction
from .config import GRADES, MarketRules, load_rules, save_rules
from .declarations import CATEGORIES
from .errors import N_, InvalidInput
from .form_values import form_int
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P
from .roles import Role
from .web import on_form, redirect, render, router


def admin_context(m: Any) -> dict[str, Any]:
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        return {
            "organisation_options": [
                (o["id"], o["name"]) for o in accounts.list_organisations(conn)
            ],
            "roles": list(Role),
            "rules": rules,
            "registrations": registrations.pending(conn),
            "prices": settings_form.form_values(rules),
            "price_categories": CATEGORIES,
            "grades": GRADES,
            "oidc_providers": oidc_accounts.list_providers(conn),
            "oidc_return": oidc.return_url(
                m.settings.public_url or "https://<adresse de la plateforme>"
            ),
        }


def admin_form(
    request: Request,
    actor: Any,
    m: Any,
    work: Callable[[], Any],
    ok: str,
    values: dict[str, Any] | None = None,
    context: Callable[[], dict[str, Any]] | None = None,
) -> Response:
    """An administration form: ``work``, then back to the page with the ``ok`` notice; on
    a refusal the page again, errors field by field."""
    return on_form(
        request,
        actor,
        "admin.html",
        context or (lambda: admin_context(m)),
        work,
        lambda _r: redirect("/m/admin", ok),
        values=values,
    )


@router.get("/admin", **perm(P.INVITE))
def admin_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "admin.html", actor, values={}, **admin_context(m))


@router.post("/admin/invitation", **perm(P.INVITE))
async def invite_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        try:
            role = Role(values.get("role", ""))
        except ValueError:
            raise InvalidInput(
                N_("Please correct the highlighted fields."), fields={"role": N_("Choose a role.")}
            ) from None

        def inner(conn: Any) -> str:
            org_id = values.get("organisation_id") or None
            if org_id is None:
                org_id, _site = accounts.create_organisation(
                    conn,
                    name=values.get("organisation_name", ""),
                    kind=role,
                    commune=values.get("commune", ""),
                    gs1_prefix=m.settings.gs1_prefix,
                )
            return accounts.invite(
                conn,
                email=values.get("email", ""),
                role=role,
                organisation_id=org_id,
                invited_by=actor.user.id,
            )

        return transaction.write(m.engine, inner)

    def done(token: str) -> Response:
        return render(
            request,
            "admin.html",
            actor,
            values={},
            invitation_link=f"/m/invitation/{token}",
            **admin_context(m),
        )

    return on_form(
        request, actor, "admin.html", lambda: admin_context(m), work, done, values=values
    )


@router.post("/admin/regles", **perm(P.SETTINGS))
async def rules_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()

    def work() -> MarketRules:
        changes: dict[str, Any] = {
            "open_registration": form.get("open_registration") == "on",
            "claim_rule": str(form.get("claim_rule", "")),
        }
        for name in (
            "pickup_window_days",
            "reservation_days",
            "quote_valid_days",
            "voucher_days",
            "voucher_retention_days",
        ):
            value = form_int(form.get(name))
            if value is not None:
                changes[name] = value
        return transaction.write(m.engine, lambda conn: save_rules(conn, changes))

    return admin_form(request, actor, m, work, "saved")


@router.post("/admin/tarifs", **perm(P.SETTINGS))
async def prices_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    """Solidarity shares, social prices, unit prices and warranties, field by field."""
    form = await request.form()
    submitted = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}

    def work() -> MarketRules:
        changes = settings_form.read_prices_form(submitted)
        return transaction.write(m.engine, lambda conn: save_rules(conn, changes))

    return admin_form(
        request,
        actor,
        m,
        work,
        "prices_saved",
        context=lambda: {**admin_context(m), "prices": submitted},
    )


@router.post("/admin/oidc", **perm(P.SETTINGS))
async def oidc_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    """An organisation's sign-in service (OpenID Connect), checked field by field; the
    client secret is stored encrypted and never shown again."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}

    def work() -> Any:
        if not values.get("oidc_organisation"):
            raise InvalidInput(
                N_("Please correct the highlighted fields."),
                fields={"oidc_organisation": N_("Choose an organisation.")},
            )
        return transaction.write(
            m.engine,
            lambda conn: oidc_accounts.set_provider(
                conn,
                values.get("oidc_organisation", ""),
                issuer=values.get("issuer", ""),
                client_id=values.get("client_id", ""),
                client_secret=values.get("client_secret") or None,
                box=m.secret_box,
            ),
        )

    shown = {k: v for k, v in values.items() if k != "client_secret"}  # never shown back
    return admin_form(request, actor, m, work, "oidc_saved", values=shown)


@router.post("/admin/oidc/{organisation_id}/retirer", **perm(P.SETTINGS))
def oidc_remove(organisation_id: str, actor: ActorDep, m: MarketDep) -> Response:
    transaction.write(m.engine, lambda conn: oidc_accounts.remove_provider(conn, organisation_id))
    return redirect("/m/admin", "oidc_removed")
