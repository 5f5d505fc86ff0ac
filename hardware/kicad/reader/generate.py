#!/usr/bin/env python3
"""Regenerate the KiCad project of the reader board from gen/design.py.

Usage: python3 hardware/kicad/reader/generate.py

Writes the schematic (root + sheets), the symbol and footprint libraries and their
tables, the project file and the routed PCB. If KiCad's Python module (pcbnew, from the
Debian ``kicad`` package, used with /usr/bin/python3) is available, the ground pours are
then filled and the board is re-saved in KiCad 9's native format.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import design, pcb, project, schematic  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"


def _write(name: str, text: str) -> None:
    path = HERE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main() -> None:
    design.check()
    for name, text in schematic.render_all().items():
        _write(name, text)
    _write("reader.kicad_sym", schematic.symbol_library())
    _write("sym-lib-table", '(sym_lib_table\n\t(version 7)\n\t(lib (name "reader") (type "KiCad") '
           '(uri "${KIPRJMOD}/reader.kicad_sym") (options "") (descr "Réemploi reader symbols"))\n)\n')
    _write("fp-lib-table", '(fp_lib_table\n\t(version 7)\n\t(lib (name "reader") (type "KiCad") '
           '(uri "${KIPRJMOD}/reader.pretty") (options "") (descr "Réemploi reader footprints"))\n)\n')
    for name, text in pcb.footprint_library().items():
        _write(f"reader.pretty/{name}", text)
    _write("reader.kicad_pro", project.project_json())
    routes, net_ids, epad_vias = pcb.route_board()
    board = HERE / "reader.kicad_pcb"
    _write(board.name, pcb.board_sexpr(routes, net_ids, epad_vias))
    print(f"routed {len(routes)} nets, {sum(len(r.segments) for r in routes)} segments, "
          f"{sum(len(r.vias) for r in routes)} vias")
    finish = HERE / "gen" / "fill_zones.py"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import pcbnew"], capture_output=True, check=False) \
        if Path(SYSTEM_PYTHON).exists() else None
    if probe is not None and probe.returncode == 0:
        subprocess.run([SYSTEM_PYTHON, str(finish), str(board)], check=True)
    else:
        print("pcbnew not available: zones left unfilled (run again where KiCad 9 is installed)")


if __name__ == "__main__":
    main()
