"""Keep the gettext catalogues in step with the code: extract every msgid marked with
``_()`` in templates and ``N_()`` / ``_()`` in Python, and merge them into
``locales/<lang>/LC_MESSAGES/messages.po`` keeping existing translations.

Run ``python -m reemploi.server.market.catalogue`` after adding text; a test fails when
a French translation is missing.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "", "trim_blocks": "true"}}


def extract() -> Catalog:
    catalog = Catalog(project="reemploi-market", domain="messages")
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(HERE),
        method_map=METHODS,
        options_map=OPTIONS,
        keywords={"_": None, "N_": None},
    ):
        if isinstance(message, str) and message:
            catalog.add(message, locations=[(filename, lineno)])
    return catalog


def merge(locale: str, template: Catalog) -> Catalog:
    path = HERE / "locales" / locale / "LC_MESSAGES" / "messages.po"
    if path.exists():
        with path.open("rb") as handle:
            existing = read_po(handle, locale=locale)
    else:
        existing = Catalog(locale=locale, domain="messages")
    merged = Catalog(locale=locale, domain="messages", project="reemploi-market")
    for message in template:
        if not message.id:
            continue
        old = existing.get(message.id)
        merged.add(message.id, old.string if old else "", locations=message.locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, merged, width=100, omit_header=False, sort_output=True)
    return merged


def main() -> None:
    template = extract()
    for locale in ("fr", "en"):
        merged = merge(locale, template)
        missing = [m.id for m in merged if m.id and not m.string]
        print(f"{locale}: {len(merged)} messages, {len(missing)} untranslated")


if __name__ == "__main__":
    main()
