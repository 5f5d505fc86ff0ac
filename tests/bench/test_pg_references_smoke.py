"""Smoke test of bench/pg_references.py: both databases (triggers, foreign keys) take
every row, and the report has a figure per round for each. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def test_quick_reference_bench_stores_every_row(tmp_path: Path) -> None:
    out = tmp_path / "refs.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "pg_references.py"), "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "toutes les lignes présentes / every row stored ✓" in proc.stdout
    report = json.loads(out.read_text())
    assert report["counts_ok"] is True
    for name in ("triggers", "foreign_keys"):
        assert len(report[name]["small_us"]) == 2
        assert len(report[name]["large_ms"]) == 2
        assert all(value > 0 for value in report[name]["small_us"] + report[name]["large_ms"])
