"""The administrator's form of solidarity shares and prices: one field per category
(share in %, social price in euros), per category and grade (unit price in euros) and
per grade (warranty in months). Reads the submitted text into rule changes, field by
field. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .config import GRADES, MarketRules
from .declarations import CATEGORIES
from .errors import N_, InvalidInput

_EUROS = re.compile(r"^(\d{1,6})(?:[.,](\d{1,2}))?$")
_PERCENT = re.compile(r"^(\d{1,2})(?:[.,](\d))?$")


def share_field(category: str) -> str:
    return f"share_{category}"


def social_field(category: str) -> str:
    return f"social_{category}"


def price_field(category: str, grade: str) -> str:
    return f"price_{category}_{grade}"


def warranty_field(grade: str) -> str:
    return f"warranty_{grade}"


def euros(cents: int) -> str:
    """Cents as the form shows them: ``24000`` → ``240``, ``1550`` → ``15,50``."""
    whole, rest = divmod(cents, 100)
    return f"{whole},{rest:02d}" if rest else str(whole)


def percent(share: float) -> str:
    text = f"{share * 100:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def form_values(rules: MarketRules) -> dict[str, str]:
    """The form's fields filled from the current rules."""
    out = {}
    for category in CATEGORIES:
        out[share_field(category)] = percent(rules.solidarity_share.get(category, 0.0))
        social = rules.social_price_cents.get(category)
        out[social_field(category)] = euros(social) if social is not None else ""
        for grade in GRADES:
            out[price_field(category, grade)] = euros(rules.price_for(category, grade))
    for grade in GRADES:
        out[warranty_field(grade)] = str(rules.warranty_months.get(grade, 0))
    return out


def _cents(text: str) -> int | None:
    found = _EUROS.match(text.strip())
    if not found:
        return None
    return int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))


def read_prices_form(form: Mapping[str, str]) -> dict[str, Any]:
    """Rule changes from the submitted form, or :class:`InvalidInput` naming each field."""
    errors: dict[str, str] = {}
    shares: dict[str, float] = {}
    social: dict[str, int] = {}
    prices: dict[str, dict[str, int]] = {}
    warranty: dict[str, int] = {}
    for category in CATEGORIES:
        name = share_field(category)
        found = _PERCENT.match(form.get(name, "").strip() or "0")
        value = int(found.group(1)) + int(found.group(2) or 0) / 10 if found else None
        if value is None or value > 50:
            errors[name] = N_("Enter a percentage between 0 and 50.")
        elif value:
            shares[category] = round(value / 100, 3)
        name = social_field(category)
        text = form.get(name, "").strip()
        cents = _cents(text) if text else None
        if text and (cents is None or not 0 < cents <= 100_000):
            errors[name] = N_("Enter a price in euros between 0.01 and 1000 (e.g. 30 or 29.90).")
        elif category in shares and cents is None:
            errors[name] = N_("A category with a solidarity share needs a social price.")
        elif cents is not None:
            social[category] = cents
        for grade in GRADES:
            name = price_field(category, grade)
            cents = _cents(form.get(name, ""))
            if cents is None or not 0 < cents <= 10_000_000:
                errors[name] = N_(
                    "Enter a price in euros between 0.01 and 100000 (e.g. 240 or 239.90)."
                )
            else:
                prices.setdefault(category, {})[grade] = cents
    for grade in GRADES:
        name = warranty_field(grade)
        text = form.get(name, "").strip()
        if not text.isdigit() or not 0 <= int(text) <= 60:
            errors[name] = N_("Enter a number of months between 0 and 60.")
        else:
            warranty[grade] = int(text)
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), fields=errors)
    return {
        "solidarity_share": shares,
        "social_price_cents": social,
        "unit_price_cents": prices,
        "warranty_months": warranty,
    }
