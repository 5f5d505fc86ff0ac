#!/usr/bin/env python3
"""Regenerate the KiCad project of the reader board from gen/design.py.

Usage: python3 hardware/kicad/reader/generate.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import design, schematic  # noqa: E402


def main() -> None:
    design.check()
    for name, text in schematic.render_all().items():
        (HERE / name).write_text(text, encoding="utf-8")
    (HERE / "reader.kicad_sym").write_text(schematic.symbol_library(), encoding="utf-8")
    (HERE / "sym-lib-table").write_text(
        '(sym_lib_table\n\t(version 7)\n\t(lib (name "reader") (type "KiCad") '
        '(uri "${KIPRJMOD}/reader.kicad_sym") (options "") (descr "Réemploi reader symbols"))\n)\n',
        encoding="utf-8")
    print("generated", HERE)


if __name__ == "__main__":
    main()
