"""Password sign-in shared by the JSON API and the pages: rate limit, session cookie."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from . import accounts
from .errors import N_, InvalidInput, TooManyAttempts
from .http import COOKIE, login_key, now_s


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
