"""Errors of the marketplace. Messages are gettext msgids, translated when shown."""

from __future__ import annotations

from collections.abc import Mapping


class MarketError(Exception):
    """Something the user can fix or must be told; ``status`` is the HTTP code."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})  # field name -> msgid
        self.params = dict(params or {})


class InvalidInput(MarketError):
    status = 422


class NotAllowed(MarketError):
    status = 403


class NotSignedIn(MarketError):
    status = 401


class NotFound(MarketError):
    status = 404


class Conflict(MarketError):
    """Somebody else got there first (a claimed batch, a reserved unit, a used voucher)."""

    status = 409


class TooManyAttempts(MarketError):
    status = 429


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message
