"""CPU time of the processes that share the machine during a phase (Linux ``/proc``).

On a two-core machine the simulated readers, the broker and the system under test all
compete for the same cores: the CPU each spends per scan says which one bounds a run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); 0 when unknown."""
    if pid is None:
        return 0.0
    if pid == os.getpid():
        times = os.times()
        return times.user + times.system
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def tree_cpu_seconds(pid: int | None) -> float:
    """:func:`cpu_seconds` of ``pid`` and of every process descended from it (the real
    system's ledger writer runs in a child process)."""
    if pid is None:
        return 0.0
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(parents.get(current, ()))
    return total


def wait_until_quiet(
    pid: int | None, window_s: float = 0.5, busy_share: float = 0.03, limit_s: float = 60.0
) -> float:
    """Wait until process ``pid`` and its descendants use less than ``busy_share`` of one
    core over ``window_s`` (PostgreSQL's autovacuum after a burst of 50,000 scans, its
    checkpoints), at most ``limit_s``; return the seconds waited. The next system
    measured then does not share the cores with the previous one's background work."""
    if pid is None:
        return 0.0
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        before = tree_cpu_seconds(pid)
        time.sleep(window_s)
        if tree_cpu_seconds(pid) - before < busy_share * window_s:
            break
    return time.monotonic() - start


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds over one phase: system under test (with its child processes),
    simulated readers, broker, database server (PostgreSQL's processes; 0 for SQLite,
    which runs inside the system under test)."""

    system: float
    readers: float
    broker: float
    database: float = 0.0

    def per_scan_us(self, scans: int) -> tuple[float, float, float, float]:
        n = max(scans, 1)
        return (
            self.system / n * 1e6,
            self.readers / n * 1e6,
            self.broker / n * 1e6,
            self.database / n * 1e6,
        )


class CpuMeter:
    """``meter = CpuMeter(sut_pid, broker_pid, database_pid)`` … ``meter.stop()`` →
    :class:`CpuUse`; ``database_pid``: PostgreSQL's postmaster (its backends are its
    children), None when the database is in the system under test."""

    def __init__(
        self, system_pid: int | None, broker_pid: int | None, database_pid: int | None = None
    ) -> None:
        self.pids = (system_pid, os.getpid(), broker_pid, database_pid)
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        system, readers, broker, database = self.pids
        return (
            tree_cpu_seconds(system),
            cpu_seconds(readers),
            cpu_seconds(broker),
            tree_cpu_seconds(database),
        )

    def stop(self) -> CpuUse:
        end = self._read()
        system, readers, broker, database = (e - s for e, s in zip(end, self.start, strict=True))
        return CpuUse(system, readers, broker, database)
