"""bench/_cpu.wait_until_quiet: the bench waits for a process tree's background work (as
PostgreSQL's autovacuum after a burst) before it measures the next system."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from _cpu import wait_until_quiet  # noqa: E402

BUSY_THEN_IDLE = """
import time
end = time.monotonic() + {busy}
while time.monotonic() < end:
    pass
time.sleep(30)
"""


@contextlib.contextmanager
def _tree(busy_s: float) -> Iterator[int]:
    """A parent that sleeps, and a child that burns a core for ``busy_s`` then sleeps:
    the work is in a descendant, as in PostgreSQL's backends. Yields the parent's pid;
    both are killed on exit."""
    inner = BUSY_THEN_IDLE.format(busy=busy_s)
    outer = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {inner!r}])"
    proc = subprocess.Popen([sys.executable, "-c", outer], start_new_session=True)
    try:
        time.sleep(0.3)  # the child is started (and burning, when busy)
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_it_waits_while_a_descendant_is_busy_and_returns_once_it_is_idle() -> None:
    with _tree(busy_s=2.0) as pid:
        waited = wait_until_quiet(pid, window_s=0.25, limit_s=20)
    assert 1.0 <= waited < 10, waited


def test_an_idle_process_or_none_costs_one_window() -> None:
    with _tree(busy_s=0.0) as pid:
        time.sleep(0.2)
        assert wait_until_quiet(pid, window_s=0.25) < 1.0
    assert wait_until_quiet(None) == 0.0


def test_it_gives_up_after_its_limit() -> None:
    with _tree(busy_s=20.0) as pid:
        waited = wait_until_quiet(pid, window_s=0.25, limit_s=1.0)
    assert 1.0 <= waited < 2.5, waited
