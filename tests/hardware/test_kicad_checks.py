"""ERC and DRC of the reader board with KiCad 9: no violation unless documented in
hardware/kicad/waivers.json (each waiver has a reason)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kicad_project import PROJECT, KicadCli

Violation = dict[str, object]


def _is_waived(check: str, violation: Violation, waivers: list[dict[str, str]]) -> bool:
    for waiver in waivers:
        if waiver["check"] != check or waiver.get("board", "reader") != "reader":
            continue
        if waiver["type"] == violation["type"] and waiver.get("match", "") in str(
            violation["description"]
        ):
            return True
    return False


def _describe(violation: Violation) -> str:
    items = "; ".join(str(i.get("description")) for i in violation.get("items", []))  # type: ignore[union-attr]
    return f"[{violation['severity']}] {violation['type']}: {violation['description']} ({items})"


def _unwaived(check: str, violations: list[Violation], waivers: list[dict[str, str]]) -> list[str]:
    return [
        _describe(v)
        for v in violations
        if v["severity"] in ("error", "warning") and not _is_waived(check, v, waivers)
    ]


def test_erc_reports_no_violation(
    kicad_cli: KicadCli, waivers: list[dict[str, str]], tmp_path: Path
) -> None:
    report = tmp_path / "erc.json"
    result = kicad_cli.run(
        "sch",
        "erc",
        "--format",
        "json",
        "--severity-all",
        "--exit-code-violations",
        "--output",
        str(report),
        str(PROJECT / "reader.kicad_sch"),
        check=False,
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    violations = [v for sheet in data["sheets"] for v in sheet["violations"]]
    problems = _unwaived("erc", violations, waivers)
    assert not problems, "ERC:\n" + "\n".join(problems)
    assert result.returncode == 0 or violations, result.stderr
    assert len(data["sheets"]) == 6  # root + 5 functional sheets were all checked


def test_drc_reports_no_violation_and_matches_the_schematic(
    kicad_cli: KicadCli, waivers: list[dict[str, str]], tmp_path: Path
) -> None:
    report = tmp_path / "drc.json"
    kicad_cli.run(
        "pcb",
        "drc",
        "--format",
        "json",
        "--severity-all",
        "--schematic-parity",
        "--exit-code-violations",
        "--output",
        str(report),
        str(PROJECT / "reader.kicad_pcb"),
        check=False,
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    problems = _unwaived("drc", data["violations"], waivers)
    problems += [
        _describe(v) for v in data["unconnected_items"]
    ]  # never waived: the board must be routed
    problems += _unwaived("drc", data["schematic_parity"], waivers)
    assert not problems, f"DRC ({len(problems)}):\n" + "\n".join(problems[:40])


def test_committed_schematic_is_what_the_generator_produces() -> None:
    sys.path.insert(0, str(PROJECT))
    try:
        from gen import schematic  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(PROJECT))
    for name, text in schematic.render_all().items():
        assert (PROJECT / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run generate.py"
        )
    assert (PROJECT / "reader.kicad_sym").read_text(encoding="utf-8") == schematic.symbol_library()


def test_waiver_matching_is_strict() -> None:
    violation = {
        "type": "courtyards_overlap",
        "description": "Courtyards overlap",
        "severity": "error",
    }
    assert _unwaived("drc", [violation], []) == [
        "[error] courtyards_overlap: Courtyards overlap ()"
    ]
    waiver = {"check": "drc", "type": "courtyards_overlap", "match": "overlap", "reason": "test"}
    assert _unwaived("drc", [violation], [waiver]) == []
    assert _unwaived("erc", [violation], [waiver]) != []
