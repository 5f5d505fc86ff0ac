"""JSON API of the marketplace (``/api/market``). Thin: every rule lives in the services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from ..db.tables import organisations
from . import accounts, lots, pickups, solidarity, supply, tap, transaction
from .config import load_rules, rules_dict, save_rules
from .declarations import Item, declare, make_item, my_declarations, parse_csv, parse_date
from .errors import N_, InvalidInput, NotFound, TooManyAttempts
from .http import COOKIE, ActorDep, GuardedRouter, MarketDep, login_key, now_s, perm
from .quote_pdf import quote_pdf
from .roles import Permission as P
from .roles import Role

router = GuardedRouter(prefix="/api/market", tags=["marketplace"])


class Login(BaseModel):
    email: str = Field(max_length=200)
    password: str = Field(max_length=200)


def set_session_cookie(response: Response, token: str, m: Any) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=m.settings.session_hours * 3600,
        httponly=True,
        secure=m.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def sign_in(m: Any, request: Request, email: str, password: str) -> tuple[accounts.User, str, str]:
    key = login_key(request, email)
    if m.limiter.blocked(key, now_s()):
        raise TooManyAttempts(
            N_("Too many failed attempts: try again in {seconds} seconds."),
            params={"seconds": m.limiter.retry_after(key, now_s())},
        )
    with m.engine.begin() as conn:
        user = accounts.authenticate(conn, email, password)
        if user is None:
            m.limiter.fail(key, now_s())
            raise InvalidInput(
                N_("Wrong e-mail address or password."),
                fields={"password": N_("Wrong e-mail address or password.")},
            )
        m.limiter.succeed(key)
        token, csrf = accounts.open_session(conn, user, m.settings.session_hours)
    return user, token, csrf


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

    return transaction.write(m.engine, work)


class NewDeclaration(BaseModel):
    request_id: str = Field(max_length=64)
    kind: str = Field(default="single", pattern="^(single|rack)$")
    planned_date: str = Field(max_length=10)
    site_id: str | None = Field(default=None, max_length=40)
    location: str = Field(default="", max_length=200)
    items: list[dict[str, Any]] = Field(max_length=500)


def _items(raw: list[dict[str, Any]]) -> list[Item]:
    out, errors = [], {}
    for index, item in enumerate(raw):
        try:
            out.append(make_item(item, prefix=f"items.{index}."))
        except InvalidInput as exc:
            errors.update(exc.fields)
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    return out


@router.post("/declarations", summary="Déclarer du matériel (un ou une baie)", **perm(P.DECLARE))
def post_declaration(body: NewDeclaration, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    items = _items(body.items)
    planned = parse_date(body.planned_date)
    declaration_id, created = transaction.write(
        m.engine,
        lambda conn: declare(
            conn,
            actor.user,
            request_id=body.request_id,
            kind=body.kind,
            items=items,
            planned_date=planned,
            site_id=body.site_id,
            location=body.location,
            gs1_prefix=m.settings.gs1_prefix,
        ),
    )
    return {"id": declaration_id, "created": created}


@router.post("/declarations/csv", summary="Déclarer depuis un tableur (CSV)", **perm(P.DECLARE))
async def post_declaration_csv(
    actor: ActorDep,
    m: MarketDep,
    file: Annotated[UploadFile, File()],
    request_id: Annotated[str, Form(max_length=64)],
    planned_date: Annotated[str, Form(max_length=10)],
) -> dict[str, Any]:
    raw = await file.read(2_000_001)
    if len(raw) > 2_000_000:
        raise InvalidInput(
            N_("The file is too large (2 MB at most)."),
            fields={"file": N_("The file is too large (2 MB at most).")},
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    items = parse_csv(text)
    planned = parse_date(planned_date)
    declaration_id, created = transaction.write(
        m.engine,
        lambda conn: declare(
            conn,
            actor.user,
            request_id=request_id,
            kind="csv",
            items=items,
            planned_date=planned,
            site_id=None,
            location="",
            gs1_prefix=m.settings.gs1_prefix,
        ),
    )
    return {"id": declaration_id, "created": created, "items": len(items)}


@router.get(
    "/declarations", summary="Mes déclarations et le devenir de chaque matériel", **perm(P.DECLARE)
)
def get_declarations(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return my_declarations(conn, actor.user.organisation_id)


@router.get(
    "/supply/declared",
    summary="Gisement déclaré, pas encore collecté",
    **perm(P.VIEW_DECLARED_SUPPLY),
)
def get_declared(m: MarketDep, category: str | None = None) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.declared_supply(conn, category=category)


class RequestOnly(BaseModel):
    request_id: str = Field(max_length=64)


@router.post(
    "/declarations/{declaration_id}/claim", summary="Réserver un lot déclaré", **perm(P.CLAIM)
)
def post_claim(
    declaration_id: int, body: RequestOnly, actor: ActorDep, m: MarketDep
) -> dict[str, Any]:
    def work(conn: Any) -> tuple[int, bool]:
        return pickups.claim(
            conn,
            actor.user,
            declaration_id=declaration_id,
            request_id=body.request_id,
            rules=load_rules(conn),
        )

    pickup_id, created = transaction.write(m.engine, work)
    return {"pickup": pickup_id, "created": created}


@router.get("/pickups", summary="Bons d'enlèvement", **perm(P.SIGN_PICKUP))
def get_pickups(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return pickups.pickups_for(conn, actor.user)


@router.post(
    "/pickups/{pickup_id}/sign", summary="Signer la remise à l'enlèvement", **perm(P.SIGN_PICKUP)
)
def post_sign(pickup_id: int, actor: ActorDep, m: MarketDep) -> dict[str, Any]:
    return transaction.write(m.engine, lambda conn: pickups.sign(conn, actor.user, pickup_id))


def _filter(
    category: str | None,
    grade: str | None,
    min_ram_gb: int | None,
    min_storage_gb: int | None,
    site: str | None,
    commune: str | None,
) -> supply.StockFilter:
    return supply.StockFilter(
        category or None, grade or None, min_ram_gb, min_storage_gb, site or None, commune or None
    )


@router.get("/stock", summary="Chercher dans le stock reconditionné", **perm(P.VIEW_STOCK))
def get_stock(
    m: MarketDep,
    category: str | None = None,
    grade: str | None = None,
    min_ram_gb: Annotated[int | None, Field(ge=0, le=4096)] = None,
    min_storage_gb: Annotated[int | None, Field(ge=0)] = None,
    site: str | None = None,
    commune: str | None = None,
) -> dict[str, Any]:
    with m.engine.connect() as conn:
        rules = load_rules(conn)
        items = supply.search_stock(
            conn, _filter(category, grade, min_ram_gb, min_storage_gb, site, commune), rules
        )
        return {"total": len(items), "items": items, "summary": supply.stock_summary(conn, rules)}


@router.get(
    "/forecast", summary="Prévision mensuelle du gisement par catégorie", **perm(P.VIEW_FORECAST)
)
def get_forecast(
    m: MarketDep, months: Annotated[int, Field(ge=1, le=24)] = 6
) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.forecast(conn, months=months)


@router.get("/units", summary="Unités détenues par mon organisation", **perm(P.GRADE))
def get_units(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        return supply.held_units(conn, actor.user.organisation_id)


class Grading(BaseModel):
    grade: str = Field(max_length=1)
    ram_gb: int | None = None
    storage_gb: int | None = None
    cpu: str | None = Field(default=None, max_length=80)


@router.put("/units/{asset_id}", summary="Grade et caractéristiques d'une unité", **perm(P.GRADE))
def put_unit(asset_id: int, body: Grading, actor: ActorDep, m: MarketDep) -> dict[str, str]:
    transaction.write(
        m.engine,
        lambda conn: supply.grade_unit(
            conn,
            actor.user,
            asset_id,
            grade=body.grade,
            ram_gb=body.ram_gb,
            storage_gb=body.storage_gb,
            cpu=body.cpu,
        ),
    )
    return {"status": "ok"}


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

    lot = transaction.write(m.engine, work)
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

    lot = transaction.write(m.engine, work)
    return {"id": lot.id, "status": lot.status}


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
    return transaction.write(
        m.engine,
        lambda conn: solidarity.redeem(
            conn, actor.user, code=body.code, asset_id=body.asset_id, rules=load_rules(conn)
        ),
    )


@router.get("/solidarity/stock", summary="Stock de la part solidaire", **perm(P.REDEEM_VOUCHER))
def get_solidarity_stock(actor: ActorDep, m: MarketDep) -> list[dict[str, Any]]:
    with m.engine.connect() as conn:
        items = supply.search_stock(conn, supply.StockFilter(), load_rules(conn), solidarity=True)
    return [i for i in items if i["holder"] and i["site_id"]]


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


def today() -> date:
    return datetime.now(UTC).date()
