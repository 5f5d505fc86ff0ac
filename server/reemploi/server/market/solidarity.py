"""Solidarity vouchers: a share of stock per category is held back, NGOs and social
workers issue single-use vouchers, shops redeem them against a unit of the pool.

Data minimisation (RGPD art. 5): nothing identifies the person. The voucher keeps the
category, the social price, the eligibility rule the social worker checked, dates, and
the SHA-256 of its code (the code itself is shown once, as text and QR code, to be
handed to the person). After ``voucher_retention_days`` past its expiry or redemption
the record loses its eligibility rule (:func:`purge`); on request the issuer can export
what is stored about a voucher or erase it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from sqlalchemy import Connection, insert, select, update

from reemploi.domain.custody import Step

from ..db.market_tables import vouchers
from ..db.tables import assets, sites
from .accounts import User
from .config import MarketRules
from .custody_steps import StepTarget, apply_step
from .declarations import check_request_id
from .errors import N_, Conflict, InvalidInput, NotAllowed, NotFound
from .supply import solidarity_pool

ELIGIBILITY = (
    "social_minimum",  # bénéficiaire d'un minimum social
    "student_grant",  # étudiant boursier
    "jobseeker",  # demandeur d'emploi
    "social_referral",  # orientation par un travailleur social
)
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    text = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return f"{text[:4]}-{text[4:8]}-{text[8:12]}" if len(text) == 12 else text


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "replace")).hexdigest()


def qr_svg(code: str) -> str:
    return segno.make(normalise_code(code), error="m").svg_inline(scale=5, title=code)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def issue(
    conn: Connection,
    user: User,
    *,
    request_id: str,
    category: str,
    eligibility: str,
    rules: MarketRules,
    now: datetime | None = None,
) -> tuple[str | None, int]:
    """Issue a voucher; return ``(code, voucher id)`` — code None on a replayed form
    (the code is shown once and never stored)."""
    now = now or datetime.now(UTC)
    request_id = check_request_id(request_id)
    found = conn.execute(
        select(vouchers.c.id).where(
            vouchers.c.issued_by == user.id, vouchers.c.request_id == request_id
        )
    ).scalar()
    if found is not None:
        return None, int(found)
    errors = {}
    if category not in rules.solidarity_share:
        errors["category"] = N_("No solidarity share for this category.")
    if eligibility not in ELIGIBILITY:
        errors["eligibility"] = N_("Choose the eligibility rule you checked.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    code = new_code()
    expires = now + timedelta(days=rules.voucher_days)
    voucher_id = conn.execute(
        insert(vouchers)
        .values(
            request_id=request_id,
            code_hash=code_hash(code),
            issuer_org_id=user.organisation_id,
            issued_by=user.id,
            category=category,
            social_price_cents=rules.social_price_cents.get(category, 0),
            eligibility=eligibility,
            issued_at=now,
            expires_at=expires,
            status="issued",
            purge_after=expires + timedelta(days=rules.voucher_retention_days),
        )
        .returning(vouchers.c.id)
    ).scalar_one()
    return code, int(voucher_id)


def check(conn: Connection, code: str, now: datetime | None = None) -> Any:
    """The voucher for ``code`` if it can be redeemed; otherwise a clear refusal."""
    now = now or datetime.now(UTC)
    row = conn.execute(select(vouchers).where(vouchers.c.code_hash == code_hash(code))).first()
    if row is None:
        raise NotFound(N_("Unknown voucher code."), fields={"code": N_("Unknown voucher code.")})
    if row.status == "redeemed":
        raise Conflict(
            N_("This voucher has already been used."),
            fields={"code": N_("This voucher has already been used.")},
        )
    if row.status != "issued":
        raise Conflict(
            N_("This voucher has been cancelled."),
            fields={"code": N_("This voucher has been cancelled.")},
        )
    if _aware(row.expires_at) < now:
        raise Conflict(
            N_("This voucher expired on {date}."),
            params={"date": _aware(row.expires_at).date().isoformat()},
            fields={"code": N_("This voucher expired on {date}.")},
        )
    return row


def redeem(
    conn: Connection,
    user: User,
    *,
    code: str,
    asset_id: int,
    rules: MarketRules,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give a unit of the solidarity pool against a voucher (``donate`` custody step to
    the issuing organisation, which referred the person: no personal data in the ledger)."""
    now = now or datetime.now(UTC)
    voucher = check(conn, code, now)
    unit = conn.execute(
        select(assets.c.category, assets.c.holder_org_id).where(assets.c.id == asset_id)
    ).first()
    if unit is None:
        raise NotFound(N_("Unknown unit."), fields={"asset_id": N_("Unknown unit.")})
    if unit.holder_org_id != user.organisation_id:
        raise NotAllowed(N_("Only the organisation holding this unit can give it."))
    if unit.category != voucher.category:
        raise InvalidInput(
            N_("This voucher is for another category."),
            fields={"asset_id": N_("This voucher is for another category.")},
        )
    if asset_id not in solidarity_pool(conn, rules):
        raise Conflict(
            N_("This unit is not in the solidarity share."),
            fields={"asset_id": N_("This unit is not in the solidarity share.")},
        )
    used = conn.execute(
        update(vouchers)
        .where(vouchers.c.id == voucher.id, vouchers.c.status == "issued")
        .values(status="redeemed", redeemed_at=now, redeemed_asset_id=asset_id)
    ).rowcount
    if used != 1:
        raise Conflict(N_("This voucher has already been used."))
    issuer_site = conn.execute(
        select(sites.c.id)
        .where(sites.c.organisation_id == voucher.issuer_org_id)
        .order_by(sites.c.id)
    ).scalar()
    if issuer_site is None:
        raise Conflict(N_("The issuing organisation has no site."))
    apply_step(
        conn,
        [asset_id],
        Step.DONATE,
        StepTarget(voucher.issuer_org_id, issuer_site, read_site_id=user.site_id),
        when=now,
        extensions={"reemploi:socialPriceCents": voucher.social_price_cents},
    )
    return {"voucher": voucher.id, "social_price_cents": voucher.social_price_cents}


def _owned(conn: Connection, user: User, code: str) -> Any:
    row = conn.execute(select(vouchers).where(vouchers.c.code_hash == code_hash(code))).first()
    if row is None:
        raise NotFound(N_("Unknown voucher code."), fields={"code": N_("Unknown voucher code.")})
    if row.issuer_org_id != user.organisation_id:
        raise NotAllowed(N_("This voucher was issued by another organisation."))
    return row


def export(conn: Connection, user: User, code: str) -> dict[str, Any]:
    """Everything stored about a voucher (right of access, RGPD art. 15)."""
    row = _owned(conn, user, code)
    return {
        "categorie": row.category,
        "prix_solidaire_centimes": row.social_price_cents,
        "critere_eligibilite": row.eligibility,
        "emis_le": _aware(row.issued_at).isoformat(),
        "expire_le": _aware(row.expires_at).isoformat(),
        "statut": row.status,
        "utilise_le": _aware(row.redeemed_at).isoformat() if row.redeemed_at else None,
        "suppression_prevue_le": _aware(row.purge_after).isoformat(),
        "donnees_sur_la_personne": "aucune (ni nom, ni adresse, ni date de naissance)",
    }


def erase(conn: Connection, user: User, code: str) -> None:
    """Erase on request (RGPD art. 17): an unused voucher is cancelled; the eligibility
    rule is removed either way. The code digest stays so that the code cannot be reused."""
    row = _owned(conn, user, code)
    conn.execute(
        update(vouchers)
        .where(vouchers.c.id == row.id)
        .values(eligibility=None, status="erased" if row.status == "issued" else row.status)
    )


def purge(conn: Connection, now: datetime | None = None) -> int:
    """Apply the retention period: drop the eligibility rule of old vouchers."""
    now = now or datetime.now(UTC)
    return int(
        conn.execute(
            update(vouchers)
            .where(vouchers.c.purge_after < now, vouchers.c.eligibility.is_not(None))
            .values(eligibility=None)
        ).rowcount
    )


def issued_by(conn: Connection, organisation_id: str) -> list[dict[str, Any]]:
    return [
        dict(r._mapping)
        for r in conn.execute(
            select(
                vouchers.c.id,
                vouchers.c.category,
                vouchers.c.status,
                vouchers.c.issued_at,
                vouchers.c.expires_at,
                vouchers.c.social_price_cents,
            )
            .where(vouchers.c.issuer_org_id == organisation_id)
            .order_by(vouchers.c.id.desc())
        )
    ]
