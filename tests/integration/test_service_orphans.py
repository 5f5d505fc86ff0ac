"""A test or bench process that is cut short leaves no service behind: ``SIGTERM`` stops
its services on the way out, and after a ``SIGKILL`` the next start of any service stops
those whose owner is gone — and only those (tests/support/processes.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import processes
from support.processes import (
    ServiceProcess,
    pid_is_alive,
    start_time,
    stop_orphans,
)

TESTS = Path(__file__).resolve().parents[1]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]

# An owner: starts one service (a sleeper) the way the fixtures do, prints its PID, waits.
OWNER = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
from support.processes import ServiceProcess, interrupt_on_sigterm
from pathlib import Path
if "--sigterm" in sys.argv:
    interrupt_on_sigterm()
service = ServiceProcess("sleeper", {SLEEPER!r}, log_path=Path(sys.argv[1]))
service.start(ready=lambda: True)
print(service.pid, flush=True)
time.sleep(120)
"""


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_is_alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """The registry an owner started with ``TMPDIR=tmp_path`` writes to."""
    return tmp_path / processes.REGISTRY.name


def _owner(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "sleeper.log"), *flags],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    """PIDs to kill (process group) whatever the test's outcome."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def test_a_service_whose_owner_was_killed_is_stopped_by_the_next_check(
    tmp_path: Path, registry: Path, cleanup: list[int]
) -> None:
    owner, service = _owner(tmp_path)
    cleanup.append(service)
    (record,) = registry.glob("*.json")
    assert json.loads(record.read_text())["owner"] == owner.pid
    owner.kill()  # SIGKILL: no atexit, no teardown
    owner.wait(timeout=10)
    assert pid_is_alive(service)  # its own session: it outlives its owner
    assert stop_orphans(registry) == [f"sleeper (pid {service})"]
    assert _wait_gone(service)
    assert list(registry.glob("*.json")) == []
    assert stop_orphans(registry) == []  # nothing left to do


def test_sigterm_stops_the_owners_services_on_the_way_out(
    tmp_path: Path, registry: Path, cleanup: list[int]
) -> None:
    owner, service = _owner(tmp_path, "--sigterm")
    cleanup.append(service)
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=30)
    assert _wait_gone(service)  # stopped by atexit, not left for the next check
    assert list(registry.glob("*.json")) == []


def test_a_running_owners_services_are_left_alone(
    tmp_path: Path, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "REGISTRY", registry)
    service = ServiceProcess("sleeper", SLEEPER, log_path=tmp_path / "sleeper.log")
    service.start(ready=lambda: True)
    try:
        assert service.pid is not None
        assert (registry / f"{service.pid}.json").exists()
        assert stop_orphans(registry) == []  # this process owns it and is alive
        assert service.is_running()
    finally:
        service.stop()
    assert list(registry.glob("*.json")) == []  # a clean stop forgets the record


def test_a_reused_pid_is_never_killed(tmp_path: Path, registry: Path) -> None:
    # a record naming a live process under a start time that is not its own: the PID was
    # reused since; the owner is gone (a finished process)
    bystander = subprocess.Popen(SLEEPER, start_new_session=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        started = start_time(bystander.pid)
        assert started is not None
        registry.mkdir()
        record = {
            "name": "sleeper",
            "pid": bystander.pid,
            "start": started + 1,
            "owner": gone.pid,
            "owner_start": 1,
        }
        (registry / f"{bystander.pid}.json").write_text(json.dumps(record))
        (registry / "garbled.json").write_text("{")
        assert stop_orphans(registry) == []
        assert bystander.poll() is None  # still running
        assert list(registry.glob("*.json")) == []  # both records dropped
    finally:
        bystander.kill()
        bystander.wait()


def test_start_time_names_a_process_and_nothing_once_it_is_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert start_time(os.getpid()) is not None
    assert start_time(proc.pid) is None
