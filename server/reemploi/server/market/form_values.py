"""Reading values out of submitted forms."""

from __future__ import annotations

from typing import Any

from .errors import N_, InvalidInput


def form_int(value: Any) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(N_("Please correct the highlighted fields.")) from None
