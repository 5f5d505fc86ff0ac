"""The server's process settings: after start-up, full collections no longer walk the
libraries and tables loaded once (they stall ingest for tens of milliseconds)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import gc
import reemploi.server.api.app, reemploi.server.ingest.mqtt  # what the server loads
from reemploi.server.runtime import settle_after_startup
before = len(gc.get_objects())
frozen = settle_after_startup()
after = len(gc.get_objects())
garbage = [[i] for i in range(1000)]  # allocated later: still collected as usual
print(before, frozen, after, len(gc.get_objects()) - after)
"""


def test_objects_alive_at_startup_leave_the_collectors_reach() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    before, frozen, after, later = (int(x) for x in out)
    assert before > 50_000  # FastAPI, SQLAlchemy, paho and the tables
    assert frozen >= before * 0.9
    assert after < before / 20
    assert later >= 1000  # new objects are tracked (and collected) as before
