"""Shared helpers of the hardware checks: paths and a kicad-cli wrapper."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "hardware" / "kicad" / "reader"
WAIVERS = ROOT / "hardware" / "kicad" / "waivers.json"


class KicadCli:
    """kicad-cli with a throwaway HOME (it writes its settings there)."""

    def __init__(self, executable: str, home: Path) -> None:
        self.executable = executable
        self.env = {**os.environ, "HOME": str(home)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.executable, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kicad-cli {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def version(self) -> str:
        return self.run("version").stdout.strip()
