"""Translations: gettext catalogues (Babel ``.po`` files) compiled in memory at start-up.

French is the default; English is the second locale. Source strings (msgids) are short
English sentences marked with ``_()`` in templates and ``N_()`` in code; ``fr`` holds
the French text, ``en`` may leave a msgstr empty (then the msgid is shown).
"""

from __future__ import annotations

import contextlib
import gettext
import io
from functools import cache
from importlib import resources
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"
LOCALE_DIR = resources.files("reemploi.server.market") / "locales"


def po_path(locale: str) -> Any:
    return LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"


@cache
def translations(locale: str) -> gettext.GNUTranslations:
    if locale not in LOCALES:
        locale = DEFAULT_LOCALE
    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translate(message: str, locale: str, params: dict[str, Any] | None = None) -> str:
    text = translations(locale).gettext(message)
    if params:
        with contextlib.suppress(KeyError, IndexError, ValueError):
            text = text.format(**params)
    return text


def pick_locale(cookie: str | None, user_locale: str | None) -> str:
    """The cookie chosen in the page, else the account's, else French."""
    for candidate in (cookie, user_locale):
        if candidate in LOCALES:
            return str(candidate)
    return DEFAULT_LOCALE
