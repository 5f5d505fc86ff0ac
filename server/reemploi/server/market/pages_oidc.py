"""Sign-in through an organisation's own OpenID Connect provider: start (redirect to the
provider with PKCE) and return (check everything, then open a session).

The ``state`` travels in the URL and in a short-lived cookie of this browser: an answer
that comes back to another browser is refused (login CSRF).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from . import accounts, oidc, oidc_accounts, transaction
from .errors import N_, MarketError, NotFound
from .http import MarketDep, MarketState, locale_of, perm
from .i18n import translate
from .pages import login_context
from .roles import Permission as P
from .signin import set_session_cookie
from .web import render, router

log = logging.getLogger("reemploi.market.oidc")
STATE_COOKIE = "reemploi_oidc"


def safe_next(value: str | None) -> str:
    return value if value and value.startswith("/m/") and "//" not in value else "/m/"


def redirect_uri(request: Request, m: MarketState) -> str:
    return oidc.return_url(m.settings.public_url or str(request.base_url))


@router.get("/oidc/debut", **perm(P.PUBLIC))
def oidc_start(request: Request, m: MarketDep) -> Response:
    organisation = request.query_params.get("organisation", "")
    with m.engine.connect() as conn:
        provider = oidc_accounts.get_provider(conn, organisation, m.secret_box)
    if provider is None:
        raise NotFound(N_("This organisation has no sign-in service of its own."))
    endpoints = m.oidc.endpoints(provider.issuer)
    back = redirect_uri(request, m)
    made = oidc.authorisation_request(provider, endpoints, back)
    target = safe_next(request.query_params.get("suite"))
    with m.engine.begin() as conn:
        oidc_accounts.save_request(conn, provider, made, redirect_uri=back, next_path=target)
    response = RedirectResponse(made.url, 303)
    response.set_cookie(
        STATE_COOKIE,
        made.state,
        max_age=oidc_accounts.REQUEST_MINUTES * 60,
        httponly=True,
        secure=m.settings.cookie_secure,
        samesite="lax",
        path="/m/oidc",
    )
    return response


def _finish(request: Request, m: MarketState) -> tuple[str, str]:
    """Check the provider's answer; return ``(session token, next path)``."""
    query = request.query_params
    state = query.get("state", "")
    if not state or not hmac.compare_digest(request.cookies.get(STATE_COOKIE, ""), state):
        raise oidc.OidcRefused(
            "browser",
            N_("This sign-in was started in another browser or has expired: start again."),
        )
    with m.engine.begin() as conn:
        pending = oidc_accounts.take_request(conn, state)
        provider = oidc_accounts.get_provider(conn, pending.organisation_id, m.secret_box)
    if provider is None:
        raise oidc.OidcRefused(
            "no_provider", N_("This organisation has no sign-in service of its own.")
        )
    if query.get("error") or not query.get("code"):
        raise oidc.OidcRefused(
            "provider_error",
            N_("Your organisation's sign-in service refused the sign-in: start again."),
        )
    endpoints = m.oidc.endpoints(provider.issuer)
    id_token = oidc.exchange_code(
        provider,
        endpoints,
        code=query["code"],
        code_verifier=pending.code_verifier,
        redirect_uri=pending.redirect_uri,
    )
    claims = oidc.verify_with_fresh_keys(m.oidc, provider, id_token, pending.nonce)
    email = oidc.verified_email(claims)
    name = claims.get("name")

    def work(conn: Connection) -> str:
        user = oidc_accounts.account_for(
            conn, provider.organisation_id, email, name if isinstance(name, str) else ""
        )
        token, _csrf = accounts.open_session(conn, user, m.settings.session_hours)
        return token

    return transaction.write(m.engine, work), str(pending.next_path)


@router.get("/oidc/retour", **perm(P.PUBLIC))
def oidc_return(request: Request, m: MarketDep) -> Response:
    try:
        token, target = _finish(request, m)
    except MarketError as exc:
        log.info("OIDC sign-in refused: %s", getattr(exc, "reason", type(exc).__name__))
        locale = locale_of(request, None)
        response: Response = render(
            request,
            "login.html",
            None,
            status=exc.status,
            error=translate(exc.message, locale, exc.params),
            values={},
            suite="/m/",
            **login_context(m),
        )
    else:
        response = RedirectResponse(target, 303)
        set_session_cookie(response, token, m)
    response.delete_cookie(STATE_COOKIE, path="/m/oidc")
    return response
