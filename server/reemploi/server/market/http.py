"""HTTP plumbing of the marketplace: the session cookie, the permission guard, CSRF,
and errors as JSON (``/api/…``) or as pages.

Deny by default: :class:`GuardedRouter` refuses to register a route that does not name
its :class:`~.roles.Permission`; the guard answers 401 without a session, 403 when the
role lacks the permission or when an unsafe request lacks the session's CSRF token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from argon2 import PasswordHasher
from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection, Engine

from ..api.state import AppState
from ..ingest.pipeline import IngestOptions, IngestPipeline
from . import accounts, transaction
from .accounts import SessionInfo, User
from .config import MarketSettings
from .errors import N_, NotAllowed, NotSignedIn
from .i18n import pick_locale
from .oidc import ProviderDirectory
from .ratelimit import FailureWindow
from .roles import Permission, allowed
from .secretbox import SecretBox

COOKIE = "reemploi_session"
LANG_COOKIE = "reemploi_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PERMISSION_KEY = "x-permission"
T = TypeVar("T")


@dataclass
class MarketState:
    settings: MarketSettings
    app_state: AppState
    limiter: FailureWindow
    # registration requests recorded per client address (open platform): an address
    # cannot fill the administrators' queue, nor make the server hash passwords for it
    signup_limiter: FailureWindow
    _pipeline: IngestPipeline | None = field(default=None)
    oidc: ProviderDirectory = field(default_factory=ProviderDirectory)

    _hasher: PasswordHasher | None = field(default=None)

    @property
    def hasher(self) -> PasswordHasher:
        """Argon2id with the cost of the settings (lowered only by tests)."""
        if self._hasher is None:
            self._hasher = self.settings.password_hasher()
        return self._hasher

    @property
    def secret_box(self) -> SecretBox:
        """Encrypts and decrypts the secrets kept in the database (the settings' key)."""
        key = self.settings.secrets_key
        return SecretBox(key.get_secret_value() if key is not None else None)

    @property
    def engine(self) -> Engine:
        return self.app_state.engine

    def write_stock(self, work: Callable[[Connection], T]) -> T:
        """:func:`.transaction.write` for work that changes the stock, then tell the feed."""
        result = transaction.write(self.engine, work)
        self.stock_changed()
        return result

    def stock_changed(self) -> None:
        """Tell the live feed that units changed outside the ingest (reserved, released,
        sold, donated, graded): open stock pages refresh their rows."""
        self.app_state.live.publish("stock", {})

    @property
    def pipeline(self) -> IngestPipeline:
        """The ingest pipeline (the same class and rules as the MQTT ingest)."""
        if self._pipeline is None:
            s = self.app_state.settings
            # remembered_assets=0: requests run on several threads, and a phone's tap is
            # rare enough to read what it needs (the writer's memory is one writer's)
            self._pipeline = IngestPipeline(
                self.engine,
                self.app_state.registry,
                IngestOptions(s.clock_tolerance_s, s.clock_max_age_s, remembered_assets=0),
            )
        return self._pipeline


def market(request: Request) -> MarketState:
    state: MarketState = request.app.state.market
    return state


MarketDep = Annotated[MarketState, Depends(market)]


def current_session(request: Request, m: MarketDep) -> SessionInfo | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    cached = getattr(request.state, "market_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    with m.engine.connect() as conn:
        info = accounts.session_for(conn, token, datetime.now(UTC))
    request.state.market_session = info
    return info


SessionDep = Annotated[SessionInfo | None, Depends(current_session)]


def locale_of(request: Request, info: SessionInfo | None) -> str:
    return pick_locale(request.cookies.get(LANG_COOKIE), info.user.locale if info else None)


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


def require(permission: Permission) -> Callable[..., Any]:
    async def guard(request: Request, info: SessionDep) -> SessionInfo | None:
        request.state.permission = permission
        if permission is Permission.PUBLIC:
            return info
        if info is None:
            raise NotSignedIn(N_("Please sign in."))
        if not allowed(info.user.role, permission):
            raise NotAllowed(N_("Your role does not allow this action."))
        if request.method not in SAFE_METHODS and not await _csrf_ok(request, info.csrf):
            raise NotAllowed(N_("This form has expired: reload the page."))
        return info

    return guard


def signed_in(info: SessionDep) -> SessionInfo:
    if info is None:  # the guard has already refused; kept for the type checker
        raise NotSignedIn(N_("Please sign in."))
    return info


ActorDep = Annotated[SessionInfo, Depends(signed_in)]


def user_of(info: SessionInfo) -> User:
    return info.user


class GuardedRouter(APIRouter):
    """An APIRouter whose every route must name its permission."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = kwargs.get("openapi_extra") or {}
        permission = extra.get(PERMISSION_KEY)
        if permission is None:
            raise TypeError(f"route {path} names no permission: use permission=…")
        dependencies = list(kwargs.pop("dependencies", None) or [])
        dependencies.insert(0, Depends(require(Permission(permission))))
        super().add_api_route(path, endpoint, dependencies=dependencies, **kwargs)


def perm(permission: Permission) -> dict[str, Any]:
    """``openapi_extra`` naming the route's permission: ``@router.get(…, **perm(P))``."""
    return {"openapi_extra": {PERMISSION_KEY: permission.value}}


def login_key(request: Request, email: str) -> str:
    client = request.client.host if request.client else "?"
    return f"{client}|{email.strip().lower()}"


def client_key(request: Request) -> str:
    """The client's address (behind a reverse proxy: the proxy's own, unless uvicorn is
    told to trust its forwarded headers)."""
    return request.client.host if request.client else "?"


def now_s() -> float:
    return time.monotonic()
