"""The bench's tests import its modules (``bench/_cpu.py``, ``_fleet.py``…) the way the
bench's own scripts do: with ``bench/`` on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
