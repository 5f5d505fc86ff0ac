"""GS1 mod-10 check digits (GTIN, GLN, SSCC, GRAI, PGLN…)."""

from __future__ import annotations

from typing import Final

from reemploi.domain.errors import InvalidIdentifier

__all__ = ["gs1_check_digit", "has_valid_check_digit", "is_ascii_digits"]

_ASCII_DIGITS: Final = frozenset("0123456789")


def is_ascii_digits(text: str) -> bool:
    """True if ``text`` is non-empty and made only of the ASCII digits 0-9.

    ``str.isdigit`` is not used on purpose: it accepts other scripts' digits.
    """
    return bool(text) and all(char in _ASCII_DIGITS for char in text)


def gs1_check_digit(data: str) -> str:
    """Return the GS1 mod-10 check digit for the data digits ``data``.

    Digits are weighted 3, 1, 3, 1… starting from the rightmost one;
    the check digit is (10 - sum mod 10) mod 10.
    """
    if not isinstance(data, str) or not is_ascii_digits(data):
        raise InvalidIdentifier(
            f"a GS1 check digit is computed over ASCII digits only, got {data!r}"
        )
    total = 0
    for position, char in enumerate(reversed(data)):
        weight = 3 if position % 2 == 0 else 1
        total += weight * (ord(char) - 48)
    return str((10 - total % 10) % 10)


def has_valid_check_digit(code: str) -> bool:
    """True if the last digit of ``code`` is the GS1 check digit of the others.

    Never raises: anything that is not at least two ASCII digits is simply invalid.
    """
    if not isinstance(code, str) or len(code) < 2 or not is_ascii_digits(code):
        return False
    return gs1_check_digit(code[:-1]) == code[-1]
