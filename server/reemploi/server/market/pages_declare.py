"""Pages of the declared flow: declare (one, CSV, rack), my declarations, declared
supply and claims, pickups signed by both sides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, pickups, supply, transaction
from .config import load_rules
from .declarations import CATEGORIES, declare, make_item, my_declarations, parse_csv, parse_date
from .errors import N_, InvalidInput
from .http import ActorDep, MarketDep, MarketState, perm
from .localtime import local_today
from .roles import Permission as P
from .web import on_form, redirect, render, router


def _declare_context(m: Any, user: accounts.User) -> dict[str, Any]:
    with m.engine.connect() as conn:
        sites = accounts.organisation_sites(conn, user.organisation_id)
    return {"categories": CATEGORIES, "sites": sites}


@router.get("/declarer", **perm(P.DECLARE))
def declare_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "declare.html", actor, values={}, **_declare_context(m, actor.user))


@router.post("/declarer", **perm(P.DECLARE))
async def declare_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()
    mode = str(form.get("mode", "single"))
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        planned = parse_date(values.get("planned_date", ""))
        if mode == "csv":
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise InvalidInput(
                    N_("Please correct the highlighted fields."),
                    fields={"file": N_("Choose a CSV file.")},
                )
            raw = upload.file.read(2_000_001)
            if len(raw) > 2_000_000:
                raise InvalidInput(N_("The file is too large (2 MB at most)."))
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
            items = parse_csv(text)
        elif mode == "rack":
            items = []
            errors: dict[str, str] = {}
            for number, line in enumerate(values.get("devices", "").splitlines(), start=1):
                if not line.strip():
                    continue
                parts = [p.strip() for p in line.split(";")]
                raw_item = {
                    "category": parts[0] if parts else "",
                    "serial": parts[1] if len(parts) > 1 else "",
                    "description": parts[2] if len(parts) > 2 else "",
                }
                try:
                    items.append(make_item(raw_item, prefix=f"devices line {number}: "))
                except InvalidInput as exc:
                    errors.update(exc.fields)
            if errors:
                raise InvalidInput(
                    N_("Please correct the highlighted fields."),
                    fields={"devices": "; ".join(f"{k} {v}" for k, v in errors.items())},
                )
        else:
            items = [make_item(values)]
        return transaction.write(
            m.engine,
            lambda conn: declare(
                conn,
                actor.user,
                request_id=values.get("request_id", ""),
                kind=mode if mode in ("csv", "rack") else "single",
                items=items,
                planned_date=planned,
                site_id=values.get("site_id") or None,
                location=values.get("location", ""),
                gs1_prefix=m.settings.gs1_prefix,
            ),
        )

    return on_form(
        request,
        actor,
        "declare.html",
        lambda: _declare_context(m, actor.user),
        work,
        lambda _r: redirect("/m/declarations", "declared"),
        values=values,
    )


@router.get("/declarations", **perm(P.DECLARE))
def declarations_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        found = my_declarations(conn, actor.user.organisation_id)
    return render(request, "declarations.html", actor, declarations=found)


# ------------------------------------------------------------------ supply, claims, pickups


def _declared_context(m: MarketState) -> dict[str, Any]:
    """Declared supply, each with the days its pickup may be scheduled on."""
    today = local_today(datetime.now(UTC))
    with m.engine.connect() as conn:
        found = supply.declared_supply(conn)
        rules = load_rules(conn)
    for item in found:
        item["window_first"], item["window_last"] = pickups.allowed_window(
            item["planned_date"], today, rules
        )
    return {"declared": found, "rules": rules}


@router.get("/gisement", **perm(P.VIEW_DECLARED_SUPPLY))
def declared_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "declared.html", actor, values={}, **_declared_context(m))


@router.post("/gisement/{declaration_id}/reserver", **perm(P.CLAIM))
async def claim_submit(
    declaration_id: int, request: Request, actor: ActorDep, m: MarketDep
) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def work() -> Any:
        return transaction.write(
            m.engine,
            lambda conn: pickups.claim(
                conn,
                actor.user,
                declaration_id=declaration_id,
                request_id=values.get("request_id", ""),
                rules=load_rules(conn),
                window_start=values.get("window_start"),
                window_end=values.get("window_end"),
            ),
        )

    return on_form(
        request,
        actor,
        "declared.html",
        lambda: {**_declared_context(m), "failed_claim": declaration_id},
        work,
        lambda _r: redirect("/m/enlevements", "claimed"),
        values=values,
    )


@router.get("/enlevements", **perm(P.SIGN_PICKUP))
def pickups_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        found = pickups.pickups_for(conn, actor.user)
    return render(request, "pickups.html", actor, pickups=found)


@router.post("/enlevements/{pickup_id}/signer", **perm(P.SIGN_PICKUP))
def sign_submit(pickup_id: int, request: Request, actor: ActorDep, m: MarketDep) -> Response:
    def context() -> dict[str, Any]:
        with m.engine.connect() as conn:
            return {"pickups": pickups.pickups_for(conn, actor.user)}

    return on_form(
        request,
        actor,
        "pickups.html",
        context,
        lambda: transaction.write(m.engine, lambda conn: pickups.sign(conn, actor.user, pickup_id)),
        lambda r: redirect(
            "/m/enlevements", "handed_over" if r["status"] == "handed_over" else "signed"
        ),
    )
