"""Plug the marketplace into the FastAPI app: routers, static files, error responses."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from . import (  # noqa: F401  (register the routes)
    api_accounts,
    api_lots,
    api_oidc,
    api_signup,
    api_solidarity,
    api_supply,
    api_tap,
    pages,
    pages_admin,
    pages_declare,
    pages_lots,
    pages_oidc,
    pages_signup,
    pages_solidarity,
    pages_stock,
)
from .api import router as api_router
from .config import MarketSettings
from .errors import MarketError, NotSignedIn
from .http import PERMISSION_KEY, MarketState, current_session, locale_of
from .i18n import translate
from .ratelimit import FailureWindow
from .web import render_error
from .web import router as pages_router

STATIC = resources.files("reemploi.server.market") / "static"


def error_body(exc: MarketError, locale: str) -> dict[str, Any]:
    return {
        "error": exc.status,
        "message": translate(exc.message, locale, exc.params),
        "fields": {name: translate(msg, locale, exc.params) for name, msg in exc.fields.items()},
    }


def install_market(app: FastAPI, settings: MarketSettings | None = None) -> None:
    """Add the marketplace to ``app`` (whose ``state.reemploi`` is the server's AppState)."""
    settings = settings or MarketSettings()
    app.state.market = MarketState(
        settings=settings,
        app_state=app.state.reemploi,
        limiter=FailureWindow(settings.login_failures, settings.login_window_s),
        signup_limiter=FailureWindow(settings.signup_requests, settings.signup_window_s),
    )
    for router in (api_router, pages_router):
        for route in router.routes:
            extra = getattr(route, "openapi_extra", None) or {}
            if PERMISSION_KEY not in extra:  # deny by default: refuse to start
                raise TypeError(f"marketplace route without permission: {route}")
        app.include_router(router)
    app.mount("/m/static", StaticFiles(directory=str(STATIC)), name="market-static")

    @app.exception_handler(MarketError)
    async def market_error(request: Request, exc: MarketError) -> Response:
        info = getattr(request.state, "market_session", None)
        if info is None:
            try:
                info = current_session(request, app.state.market)
            except Exception:  # pragma: no cover - the database is down
                info = None
        locale = locale_of(request, info)
        if request.url.path.startswith("/api/"):
            return JSONResponse(error_body(exc, locale), exc.status)
        if isinstance(exc, NotSignedIn):
            return RedirectResponse(f"/m/connexion?suite={request.url.path}", 303)
        return render_error(request, exc, locale, info)
