"""The manufacturing outputs script produces every file a PCB house and an assembler need."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

from kicad_project import ROOT, KicadCli

GERBER_LAYERS = (
    "F_Cu.gtl",
    "B_Cu.gbl",
    "F_Mask.gts",
    "B_Mask.gbs",
    "F_Silkscreen.gto",
    "F_Paste.gtp",
    "Edge_Cuts.gm1",
)


def test_outputs_script_generates_gerbers_drill_bom_placement_and_pdf(
    kicad_cli: KicadCli, tmp_path: Path
) -> None:
    out = tmp_path / "build"
    env = {**kicad_cli.env, "PATH": os.environ["PATH"]}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "hardware-outputs.sh"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    for layer in GERBER_LAYERS:
        gerber = out / "gerbers" / f"reader-{layer}"
        assert gerber.read_text(encoding="ascii").rstrip().endswith("M02*"), gerber
    drill = (out / "gerbers" / "reader-PTH.drl").read_text(encoding="ascii")
    assert drill.startswith("M48") and "T1C" in drill
    assert (out / "gerbers" / "reader-NPTH.drl").exists()
    assert (out / "reader-gerbers.zip").stat().st_size > 10_000

    with (out / "reader-bom.csv").open(encoding="utf-8") as f:
        bom = list(csv.DictReader(f))
    refs = {r for row in bom for r in _expand(row["Références"])}
    assert {"U1", "U2", "U3", "U4", "J1", "J2", "J3", "Q1", "Q3", "BZ1", "D2", "SW1", "SW2"} <= refs
    assert not any(r.startswith(("TP", "H")) for r in refs)  # test pads and holes are not bought
    for row in bom:
        assert row["Référence fabricant"] and row["Fabricant"], row
        assert float(row["Prix unitaire indicatif (EUR)"]) > 0, row
    assert "EUR" in (out / "bom-cost.txt").read_text(encoding="utf-8")

    with (out / "reader-pos.csv").open(encoding="utf-8") as f:
        placed = {row["Ref"] for row in csv.DictReader(f)}
    assert refs <= placed and not any(r.startswith(("TP", "H")) for r in placed)

    assert (out / "reader-schematic.pdf").read_bytes().startswith(b"%PDF")


def _expand(refs: str) -> list[str]:
    """'R3-R6,R11' -> ['R3', 'R4', 'R5', 'R6', 'R11']."""
    result: list[str] = []
    for item in refs.split(","):
        if "-" in item:
            first, last = item.split("-")
            prefix = first.rstrip("0123456789")
            result += [
                f"{prefix}{n}"
                for n in range(int(first[len(prefix) :]), int(last[len(prefix) :]) + 1)
            ]
        else:
            result.append(item)
    return result
