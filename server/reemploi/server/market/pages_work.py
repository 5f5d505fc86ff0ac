"""Pages of each role's work: declare, claim, pick up, search stock, forecast, grade,
lots and quotes, hand lots over, solidarity vouchers, tap a tag, administration."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from . import accounts, lots, pickups, solidarity, supply, transaction
from .config import MarketRules, load_rules, save_rules
from .declarations import CATEGORIES, declare, make_item, my_declarations, parse_csv, parse_date
from .errors import N_, InvalidInput
from .http import ActorDep, MarketDep, perm
from .roles import Permission as P
from .roles import Role
from .web import on_form, redirect, render, router


def _form_int(value: Any) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(N_("Please correct the highlighted fields.")) from None


# ------------------------------------------------------------------ declarations


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


@router.get("/gisement", **perm(P.VIEW_DECLARED_SUPPLY))
def declared_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        found = supply.declared_supply(conn)
        rules = load_rules(conn)
    return render(request, "declared.html", actor, declared=found, rules=rules)


@router.post("/gisement/{declaration_id}/reserver", **perm(P.CLAIM))
async def claim_submit(
    declaration_id: int, request: Request, actor: ActorDep, m: MarketDep
) -> Response:
    form = await request.form()

    def work() -> Any:
        return transaction.write(
            m.engine,
            lambda conn: pickups.claim(
                conn,
                actor.user,
                declaration_id=declaration_id,
                request_id=str(form.get("request_id", "")),
                rules=load_rules(conn),
            ),
        )

    def context() -> dict[str, Any]:
        with m.engine.connect() as conn:
            return {"declared": supply.declared_supply(conn), "rules": load_rules(conn)}

    return on_form(
        request,
        actor,
        "declared.html",
        context,
        work,
        lambda _r: redirect("/m/enlevements", "claimed"),
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


@router.get("/stock", **perm(P.VIEW_STOCK))
def stock_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    q = request.query_params
    try:
        flt = supply.StockFilter(
            q.get("category") or None,
            q.get("grade") or None,
            _form_int(q.get("min_ram_gb")),
            _form_int(q.get("min_storage_gb")),
            q.get("site") or None,
            q.get("commune") or None,
        )
    except InvalidInput:
        flt = supply.StockFilter()
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        items = supply.search_stock(conn, flt, rules)
        summary = supply.stock_summary(conn, rules)
        communes = supply.communes(conn)
    return render(
        request,
        "stock.html",
        actor,
        items=items,
        summary=summary,
        communes=communes,
        categories=CATEGORIES,
        values=dict(q),
    )


@router.get("/prevision", **perm(P.VIEW_FORECAST))
def forecast_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    with m.engine.connect() as conn:
        rows = supply.forecast(conn)
        declared = supply.declared_supply(conn)
    months = sorted({r["month"] for r in rows})
    categories = sorted({r["category"] for r in rows})
    table = {(r["month"], r["category"]): r for r in rows}
    return render(
        request,
        "forecast.html",
        actor,
        months=months,
        categories=categories,
        table=table,
        declared=declared,
    )


# ------------------------------------------------------------------ workshop


def _units_context(m: Any, user: accounts.User) -> dict[str, Any]:
    with m.engine.connect() as conn:
        return {"units": supply.held_units(conn, user.organisation_id)}


@router.get("/atelier", **perm(P.GRADE))
def units_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "units.html", actor, **_units_context(m, actor.user))


@router.post("/atelier/{asset_id}", **perm(P.GRADE))
async def grade_submit(asset_id: int, request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()

    def work() -> Any:
        return transaction.write(
            m.engine,
            lambda conn: supply.grade_unit(
                conn,
                actor.user,
                asset_id,
                grade=str(form.get("grade", "")),
                ram_gb=_form_int(form.get("ram_gb")),
                storage_gb=_form_int(form.get("storage_gb")),
                cpu=str(form.get("cpu", "")),
            ),
        )

    return on_form(
        request,
        actor,
        "units.html",
        lambda: _units_context(m, actor.user),
        work,
        lambda _r: redirect("/m/atelier", "graded"),
    )


# ------------------------------------------------------------------ lots


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
        quantity = _form_int(values.get("quantity"))
        return transaction.write(
            m.engine,
            lambda conn: lots.request_lot(
                conn,
                actor.user,
                request_id=values.get("request_id", ""),
                category=values.get("category", ""),
                grade=values.get("grade", ""),
                quantity=quantity or 0,
                min_ram_gb=_form_int(values.get("min_ram_gb")),
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

        return transaction.write(m.engine, inner)

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
        lambda: transaction.write(
            m.engine,
            lambda conn: lots.fulfil(conn, actor.user, lot_id, str(form.get("outcome", ""))),
        ),
        lambda _r: redirect("/m/remises", "handed_over"),
    )


# ------------------------------------------------------------------ solidarity


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
        asset_id = _form_int(values.get("asset_id"))
        if asset_id is None:
            raise InvalidInput(
                N_("Please correct the highlighted fields."),
                fields={"asset_id": N_("Choose a unit.")},
            )
        return transaction.write(
            m.engine,
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


# ------------------------------------------------------------------ tap


@router.get("/badge", **perm(P.TAP))
def tap_page(request: Request, actor: ActorDep) -> Response:
    return render(request, "tap.html", actor)


# ------------------------------------------------------------------ administration


def _admin_context(m: Any) -> dict[str, Any]:
    with m.engine.connect() as conn:
        return {
            "organisations": accounts.list_organisations(conn),
            "roles": list(Role),
            "rules": load_rules(conn),
        }


@router.get("/admin", **perm(P.INVITE))
def admin_page(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    return render(request, "admin.html", actor, values={}, **_admin_context(m))


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
            **_admin_context(m),
        )

    return on_form(
        request, actor, "admin.html", lambda: _admin_context(m), work, done, values=values
    )


@router.post("/admin/regles", **perm(P.SETTINGS))
async def rules_submit(request: Request, actor: ActorDep, m: MarketDep) -> Response:
    form = await request.form()

    def work() -> MarketRules:
        changes: dict[str, Any] = {
            "open_registration": form.get("open_registration") == "on",
            "claim_rule": str(form.get("claim_rule", "")),
        }
        for name in ("reservation_days", "voucher_days", "voucher_retention_days"):
            value = _form_int(form.get(name))
            if value is not None:
                changes[name] = value
        return transaction.write(m.engine, lambda conn: save_rules(conn, changes))

    return on_form(
        request,
        actor,
        "admin.html",
        lambda: _admin_context(m),
        work,
        lambda _r: redirect("/m/admin", "saved"),
    )
