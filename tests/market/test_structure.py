"""The marketplace stays in small modules, one responsibility each."""

from __future__ import annotations

from pathlib import Path

import reemploi.server.market as market

LIMIT = 400  # lines


def test_every_marketplace_module_is_small() -> None:
    folder = Path(market.__file__).parent
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in folder.glob("*.py")}
    assert len(sizes) > 20
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}
