"""Server-rendered pages: the Jinja2 environment, the render helper, the page router."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from .accounts import SessionInfo
from .errors import N_, MarketError
from .http import GuardedRouter, locale_of
from .i18n import translate
from .roles import ROLE_LABELS, Permission, allowed

router = GuardedRouter(prefix="/m", include_in_schema=False)

ENV = Environment(
    loader=PackageLoader("reemploi.server.market", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# The menu: (path, label msgid, permission). Shown only to roles that hold it.
MENU: list[tuple[str, str, Permission]] = [
    ("/m/", N_("Home"), Permission.SIGNED_IN),
    ("/m/declarer", N_("Declare equipment"), Permission.DECLARE),
    ("/m/declarations", N_("My declarations"), Permission.DECLARE),
    ("/m/gisement", N_("Declared supply"), Permission.VIEW_DECLARED_SUPPLY),
    ("/m/enlevements", N_("Pickups"), Permission.SIGN_PICKUP),
    ("/m/stock", N_("Stock"), Permission.VIEW_STOCK),
    ("/m/prevision", N_("Forecast"), Permission.VIEW_FORECAST),
    ("/m/atelier", N_("My units"), Permission.GRADE),
    ("/m/lots", N_("Lots and quotes"), Permission.BUY),
    ("/m/remises", N_("Lots to hand over"), Permission.FULFIL),
    ("/m/bons", N_("Solidarity vouchers"), Permission.ISSUE_VOUCHER),
    ("/m/solidaire", N_("Redeem a voucher"), Permission.REDEEM_VOUCHER),
    ("/m/badge", N_("Tap a tag"), Permission.TAP),
    ("/m/admin", N_("Administration"), Permission.INVITE),
]


OK_MESSAGES = {
    "declared": N_("Declaration recorded."),
    "claimed": N_("Batch claimed: a pickup is scheduled."),
    "signed": N_("Your signature is recorded; waiting for the other side."),
    "handed_over": N_("Hand-over recorded in the custody ledger."),
    "graded": N_("Unit updated."),
    "quoted": N_("Lot built: download the quote."),
    "reserved": N_("Quote accepted: the lot is reserved."),
    "already_issued": N_("This voucher was already issued."),
    "erased": N_("The voucher's data has been erased."),
    "redeemed": N_("Voucher redeemed: the unit is given."),
    "saved": N_("Settings saved."),
    "prices_saved": N_("Solidarity shares and prices saved."),
    "oidc_saved": N_("Sign-in service saved."),
    "oidc_removed": N_("Sign-in service removed."),
    "account_created": N_("Account created: you can sign in."),
    "registration_approved": N_("Registration approved: the account is created."),
    "registration_refused": N_("Registration refused."),
}


LABELS: dict[str, dict[str, str]] = {
    "category": {
        "laptop": N_("Laptop"),
        "desktop": N_("Desktop computer"),
        "screen": N_("Screen"),
        "phone": N_("Smartphone"),
        "tablet": N_("Tablet"),
        "server": N_("Server"),
        "network": N_("Network equipment"),
    },
    "state": {
        "declared": N_("declared"),
        "collected": N_("collected"),
        "in_transit": N_("in transit"),
        "received": N_("received"),
        "inspected": N_("inspected"),
        "data_erased": N_("data erased"),
        "refurbished": N_("refurbished"),
        "listed": N_("for sale"),
        "reserved": N_("reserved"),
        "sold": N_("sold"),
        "donated": N_("donated"),
        "dismantled": N_("dismantled"),
        "recycled": N_("recycled"),
    },
    "status": {
        "scheduled": N_("scheduled"),
        "handed_over": N_("handed over"),
        "quoted": N_("quoted"),
        "released": N_("released"),
        "expired": N_("expired"),
        "issued": N_("issued"),
        "redeemed": N_("used"),
        "erased": N_("erased"),
        "reserved": N_("reserved"),
        "sold": N_("sold"),
        "donated": N_("donated"),
    },
    "eligibility": {
        "social_minimum": N_("Receives a social minimum income"),
        "student_grant": N_("Student with a grant"),
        "jobseeker": N_("Jobseeker"),
        "social_referral": N_("Referred by a social worker"),
    },
    "kind": {"single": N_("item"), "csv": N_("spreadsheet"), "rack": N_("rack")},
}


def new_request_id() -> str:
    return uuid.uuid4().hex


def render(
    request: Request,
    template: str,
    info: SessionInfo | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    locale = locale_of(request, info)

    def _(message: str, **params: Any) -> str:
        return translate(message, locale, params or None)

    def label(kind: str, value: Any) -> str:
        msgid = LABELS.get(kind, {}).get(str(value))
        return _(msgid) if msgid else str(value)

    role = info.user.role if info else None
    menu = [(path, label) for path, label, perm in MENU if info and allowed(role, perm)]
    html = ENV.get_template(template).render(
        _=_,
        locale=locale,
        user=info.user if info else None,
        role_label=_(ROLE_LABELS[role]) if role else "",
        csrf=info.csrf if info else "",
        menu=menu,
        path=request.url.path,
        request_id=new_request_id(),
        ok_message=_(OK_MESSAGES[ok])
        if (ok := request.query_params.get("ok")) in OK_MESSAGES
        else None,
        label=label,
        category_options=[(c, _(m)) for c, m in LABELS["category"].items()],
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        **context,
    )
    return HTMLResponse(html, status_code=status)


def render_error(
    request: Request, exc: MarketError, locale: str, info: SessionInfo | None
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        info,
        status=exc.status,
        message=translate(exc.message, locale, exc.params),
    )


def redirect(path: str, ok: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?ok={ok}" if ok else path, status_code=303)


def on_form(
    request: Request,
    info: SessionInfo | None,
    template: str,
    context: Callable[[], dict[str, Any]],
    work: Callable[[], Any],
    done: Callable[[Any], Response],
    values: dict[str, Any] | None = None,
) -> Response:
    """Run ``work``; on a refusal show the form again with the errors field by field."""
    try:
        result = work()
    except MarketError as exc:
        locale = locale_of(request, info)
        return render(
            request,
            template,
            info,
            status=exc.status,
            error=translate(exc.message, locale, exc.params),
            fields={k: translate(v, locale, exc.params) for k, v in exc.fields.items()},
            values=values or {},
            **context(),
        )
    return done(result)
