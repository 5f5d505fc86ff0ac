"""How many registration requests one address may record (open platform): each one fills
the administrators' queue and costs the server a password hash."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from .errors import N_, TooManyAttempts
from .http import MarketState, client_key, now_s


def gated_signup(m: MarketState, request: Request, record: Callable[[], int]) -> int:
    """``record()`` (which stores a pending request and returns its id) unless this
    client address already recorded ``signup_requests`` in the window: then a 429 that
    says when to try again. Refused requests (bad fields, closed platform) are not
    counted."""
    key = client_key(request)
    if m.signup_limiter.blocked(key, now_s()):
        raise TooManyAttempts(
            N_("Too many registration requests from this address: try again in {seconds} seconds."),
            params={"seconds": m.signup_limiter.retry_after(key, now_s())},
        )
    made = record()
    m.signup_limiter.fail(key, now_s())  # one more request recorded by this address
    return made
