"""bench/_cpu: the bench waits for a process tree's background work (as PostgreSQL's
autovacuum after a burst) before it measures the next system (``wait_until_quiet``), and
counts what the rest of the machine used during a phase (``CpuMeter``: other processes,
time stolen by the hypervisor)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cpu import (
    CpuMeter,
    HostTimes,
    cpu_probe_ms,
    cpu_seconds,
    host_busy_seconds,
    host_times,
    idle_policy,
    summarise_round_trips,
    tree_cpu_seconds,
    wait_until_quiet,
    wakeup_probe,
)

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


PROC_STAT = """cpu  1000 50 300 9000 40 7 3 25 0 0
cpu0 500 25 150 4500 20 4 2 12 0 0
cpu1 500 25 150 4500 20 3 1 13 0 0
intr 12345
"""


def test_the_machine_idle_and_stolen_times_and_cores_are_read_from_proc_stat() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    times = host_times(PROC_STAT)
    assert times.idle == pytest.approx((9000 + 40) / ticks)  # idle + iowait
    assert times.steal == pytest.approx(25 / ticks)
    assert times.cores == 2
    assert host_times("intr 1\n") == HostTimes(0.0, 0.0, 0)
    real = host_times()
    assert real.idle > 0 and real.steal >= 0 and real.cores == os.cpu_count()


def test_busy_is_what_the_cores_did_not_spend_idle_or_stolen() -> None:
    start, end = HostTimes(100.0, 5.0, 2), HostTimes(101.2, 5.3, 2)
    busy, steal = host_busy_seconds(start, end, elapsed_s=1.0)  # 2 core-seconds elapsed
    assert busy == pytest.approx(2.0 - 1.2 - 0.3)
    assert steal == pytest.approx(0.3)
    # readings a little apart never give a negative figure
    assert host_busy_seconds(start, HostTimes(102.5, 5.0, 2), elapsed_s=1.0) == (0.0, 0.0)


BURSTY = """
import time
end = time.monotonic() + {seconds}
due = time.perf_counter()
while time.monotonic() < end:
    start = time.perf_counter()
    while time.perf_counter() - start < 0.0002:
        pass
    due += 0.001
    wait = due - time.perf_counter()
    if wait > 0:
        time.sleep(wait)
"""


def test_a_process_waking_every_millisecond_is_counted_at_its_real_cost() -> None:
    # 200 µs of work in every ms, as the paced phases wake their processes: the tick's
    # samples of busy time said 3.02 s, then 0.01 s, for 0.66 s of such work (see
    # bench/_cpu.py); the idle time does not sample
    proc = subprocess.Popen([sys.executable, "-c", BURSTY.format(seconds=3.0)])
    try:
        time.sleep(0.3)  # started
        before = cpu_seconds(proc.pid)
        meter = CpuMeter(None, None)
        time.sleep(2.0)
        use = meter.stop()
        spent = cpu_seconds(proc.pid) - before
    finally:
        proc.kill()
        proc.wait()
    assert 0.2 < spent < 1.2, spent  # a fifth of a core, give or take the host
    assert spent * 0.6 - 0.1 < use.outside < spent * 1.6 + 0.15, (spent, use)


REAPED = """
import subprocess, sys, time
time.sleep({wait})
subprocess.run([sys.executable, "-c", {burn!r}])
time.sleep(30)
"""


def test_a_descendant_that_ends_during_the_measure_keeps_its_cpu_in_the_tree() -> None:
    # as an autovacuum worker or a backend of PostgreSQL that exits: its parent reaps it
    burn = "import time\nend = time.monotonic() + 0.8\nwhile time.monotonic() < end: pass"
    proc = subprocess.Popen(
        [sys.executable, "-c", REAPED.format(wait=0.5, burn=burn)], start_new_session=True
    )
    try:
        time.sleep(0.2)
        before = tree_cpu_seconds(proc.pid)
        time.sleep(2.0)  # the child started, burned 0.8 s and was reaped meanwhile
        after = tree_cpu_seconds(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert after - before >= 0.6, (before, after)


def test_a_busy_process_outside_the_bench_is_counted_as_outside() -> None:
    quiet = CpuMeter(None, None).stop()  # nothing measured but this process
    assert quiet.outside >= 0 and quiet.steal >= 0
    with _tree(busy_s=20.0):  # a process the meter does not watch, burning a core
        meter = CpuMeter(None, None)
        time.sleep(1.0)
        use = meter.stop()
    assert use.outside >= 0.5, use  # most of a core-second, whatever the scheduler gave it
    assert use.readers < 0.3, use  # this process only slept
    per_scan = use.outside_per_scan_us(1000)
    assert per_scan[0] == pytest.approx(use.outside / 1000 * 1e6)


def test_the_cpu_probe_is_slower_while_busy_processes_share_the_cores() -> None:
    compute, memory = cpu_probe_ms(repeat=2)
    assert 0 < compute < memory < 60_000
    # as many processes burning as there are cores, and one more: the probe gets at best
    # a share of a core (with only one per core, the 20 ms compute probe sometimes ran
    # whole on a core the scheduler left it, as fast as alone)
    with contextlib.ExitStack() as busy:
        for _ in range((os.cpu_count() or 1) + 1):
            busy.enter_context(_tree(busy_s=60.0))
        time.sleep(0.3)
        shared = cpu_probe_ms(repeat=1)
    assert shared[0] > compute and shared[1] > memory, ((compute, memory), shared)


def test_how_idle_cores_wait_is_read_from_sysfs(tmp_path: Path) -> None:
    assert idle_policy(str(tmp_path)) == {"driver": None, "governor": None, "halt_poll_ns": None}
    idle = tmp_path / "devices/system/cpu/cpuidle"
    idle.mkdir(parents=True)
    (idle / "current_driver").write_text("haltpoll\n")
    (idle / "current_governor").write_text("menu\n")
    assert idle_policy(str(tmp_path)) == {
        "driver": "haltpoll",
        "governor": "menu",
        "halt_poll_ns": None,
    }
    (idle / "current_governor_ro").write_text("haltpoll\n")  # the one in force, when present
    params = tmp_path / "module/haltpoll/parameters"
    params.mkdir(parents=True)
    (params / "guest_halt_poll_ns").write_text("0\n")
    assert idle_policy(str(tmp_path)) == {
        "driver": "haltpoll",
        "governor": "haltpoll",
        "halt_poll_ns": 0,
    }


def test_round_trips_are_summarised_by_nearest_rank() -> None:
    times = [60e-6] * 97 + [400e-6, 1e-3, 3.5e-3]
    summary = summarise_round_trips(times)
    assert summary.p50_us == pytest.approx(60)
    assert summary.p99_us == pytest.approx(1000)  # the 99th of 100
    assert summary.max_us == pytest.approx(3500)
    assert summary.slow == 2 and summary.round_trips == 100  # 1 ms counts as slow
    with pytest.raises(ValueError):
        summarise_round_trips([])


def test_the_wakeup_probe_times_round_trips_to_a_child_that_it_reaps() -> None:
    cores = os.sched_getaffinity(0)
    summary = wakeup_probe(round_trips=60, spacing_s=0.0005)
    assert os.sched_getaffinity(0) == cores  # pinned to one core while probing, not after
    assert summary.round_trips == 60
    assert 0 < summary.p50_us <= summary.p99_us <= summary.max_us
    assert 0 <= summary.slow <= 60
    assert _forks_left() == []  # the echo is gone: reaped, not a zombie


def _forks_left() -> list[str]:
    """This process's children that are forks of it (same command line) or zombies."""
    me, mine = str(os.getpid()), Path("/proc/self/cmdline").read_bytes()
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError):
            state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
            if ppid == me and (state == "Z" or Path(f"/proc/{pid}/cmdline").read_bytes() == mine):
                left.append(pid)
    return left
