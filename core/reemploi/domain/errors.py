"""Errors raised by the pure core when data from outside is malformed."""

from __future__ import annotations

__all__ = ["InvalidIdentifier"]


class InvalidIdentifier(ValueError):
    """An identifier from outside (Digital Link, EPC URN, tag memory) is malformed.

    The message says exactly what is wrong, so that it can be shown to whoever
    supplied the value.
    """
