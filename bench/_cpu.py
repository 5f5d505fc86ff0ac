"""CPU time of the processes that share the machine during a phase (Linux ``/proc``).

On a two-core machine the simulated readers, the broker and the system under test all
compete for the same cores: the CPU each spends per scan says which one bounds a run.
What the rest of the machine took meanwhile is measured too — other processes (a service
left running by an interrupted test, the kernel's own threads) and, in a virtual machine,
the time the hypervisor gave the cores to someone else (*steal*) — so that a run on a
busy host shows it instead of passing for the system's own latency.

The machine's busy time is what its cores did not spend idle: ``/proc/stat``'s *idle*
and *iowait* are measured exactly (the kernel adds up each idle period), while its
*user* and *system* counts are samples taken at the scheduler's tick, which stops on an
idle core. A load that wakes for a fraction of every millisecond, as the paced phases
do, is then sampled at random: for 0.66 s of work (200 µs in every ms for 3 s, on the
reference machine) those counts said 3.02 s once and 0.01 s the next time, while the
idle time gave 0.69 s. A process's own times are exact (the kernel scales them to its
run time), and include its children once it has reaped them.
"""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import dataclass

from _fleet import percentile

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None, reaped: bool = False) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); with ``reaped``,
    plus those of its children that have ended and that it has waited for (PostgreSQL's
    backends and autovacuum workers once they exit); 0 when unknown."""
    if pid is None:
        return 0.0
    if pid == os.getpid():
        times = os.times()
        own = times.user + times.system
        return own + (times.children_user + times.children_system if reaped else 0.0)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def tree_cpu_seconds(pid: int | None) -> float:
    """:func:`cpu_seconds` of ``pid`` and of every process descended from it (the real
    system's ledger writer runs in a child process), those that have ended included: a
    process that ends between two readings no longer takes its past CPU out of the
    difference (its parent's count of reaped children has it)."""
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
        total += cpu_seconds(current, reaped=True)
        todo.extend(parents.get(current, ()))
    return total


@dataclass(frozen=True)
class HostTimes:
    """The whole machine since boot, from ``/proc/stat``: seconds its cores spent idle
    (idle and iowait, added up by the kernel for every core), seconds stolen by the
    hypervisor, and how many cores it counts."""

    idle: float
    steal: float
    cores: int


def host_times(stat: str | None = None) -> HostTimes:
    """:class:`HostTimes` from ``/proc/stat`` (or ``stat``); all 0 where there is no
    ``cpu`` line."""
    if stat is None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                stat = f.read()
        except OSError:
            return HostTimes(0.0, 0.0, 0)
    lines = stat.splitlines()
    total = next((line.split() for line in lines if line.split()[:1] == ["cpu"]), None)
    if total is None:
        return HostTimes(0.0, 0.0, 0)
    ticks = [int(v) for v in total[1:]] + [0] * 8
    cores = sum(1 for line in lines if line[:3] == "cpu" and line[3:4].isdigit())
    # idle + iowait; steal
    return HostTimes((ticks[3] + ticks[4]) / _TICKS, ticks[7] / _TICKS, cores)


def host_busy_seconds(start: HostTimes, end: HostTimes, elapsed_s: float) -> tuple[float, float]:
    """(busy, stolen) seconds of the machine between two readings ``elapsed_s`` apart:
    busy is what the cores did not spend idle or stolen."""
    idle, steal = end.idle - start.idle, end.steal - start.steal
    return max(0.0, end.cores * elapsed_s - idle - steal), max(0.0, steal)


def cpu_probe_ms(repeat: int = 5) -> tuple[float, float]:
    """Two fixed pieces of pure Python, timed (the best of ``repeat``, in ms): one that
    stays in the processor's caches (loops, arithmetic, a small dict), one that reads
    memory all over a 64 MB working set in a shuffled order. They do the same work on
    every run, so that runs made hours or days apart can be compared: a host shared with
    busy neighbours (a virtual machine) can be much slower one evening than the same
    morning without counting any stolen time — and the slowdown can spare the first
    probe (fixed caches) and show only in the second (measured: the same isolated ledger
    bench 40 % slower while the first probe had not moved)."""
    compute = memory = float("inf")
    cells = list(range(1 << 20))
    order = cells[:]
    random.Random(7).shuffle(order)
    for _ in range(repeat):
        start = time.perf_counter()
        table: dict[int, int] = {}
        total = 0
        for i in range(300_000):
            total += i * i % 7
            table[i & 1023] = total
        compute = min(compute, time.perf_counter() - start)
        start = time.perf_counter()
        total = 0
        for i in order:
            total += cells[i]
        memory = min(memory, time.perf_counter() - start)
    return compute * 1000.0, memory * 1000.0


@dataclass(frozen=True)
class Wakeups:
    """Round trips between two processes that sleep in between (µs): the cost of waking
    a process, as every hop of a scan does, on this host at the time of the probe."""

    p50_us: float
    p99_us: float
    max_us: float
    slow: int  # round trips of 1 ms or more
    round_trips: int


def summarise_round_trips(seconds: list[float]) -> Wakeups:
    """Nearest-rank p50 and p99 (``_fleet.percentile``, as the latencies), the longest,
    and how many took 1 ms or more."""
    if not seconds:
        raise ValueError("aucun aller-retour mesuré")
    us = [s * 1e6 for s in seconds]
    slow = sum(1 for v in us if v >= 1000.0)
    return Wakeups(percentile(us, 50), percentile(us, 99), max(us), slow, len(us))


def wakeup_probe(round_trips: int = 1000, spacing_s: float = 0.001) -> Wakeups:
    """One byte sent to a child process and sent back, ``round_trips`` times, one every
    ``spacing_s``: in between both processes sleep and their cores go idle, as between
    two scans at 1,000/s. The two are pinned to two different cores (when there are two):
    each round trip wakes a process on an idle core twice, as a scan's hops (reader →
    broker → system → database and back) wake processes spread over the cores. (Left
    unpinned, the child is woken on its waker's core and the probe measures a local
    switch: 12–18 µs per round trip on the reference machine, against 61–89 across
    cores.) A halted virtual core is woken through the hypervisor (``idle_policy``): from
    time to time that takes 1 to 4 ms, which a process spinning on a core never sees
    (measured on the reference machine: a process sleeping 200 µs in a loop overslept by
    1 to 4 ms 12 times in 6 s, one spinning not once). Those late wake-ups land on some
    scans of every system; the report prints the probe at the start and end of a run."""
    cores = sorted(os.sched_getaffinity(0))
    pinned = len(cores) >= 2
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the echo: nothing else, then out without Python's clean-up
        code = 0
        try:
            parent.close()
            if pinned:
                os.sched_setaffinity(0, {cores[1]})
            while (data := child.recv(1)) and data != b"q":
                child.sendall(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    child.close()
    times: list[float] = []
    try:
        if pinned:
            os.sched_setaffinity(0, {cores[0]})
        for _ in range(round_trips):
            time.sleep(spacing_s)
            start = time.perf_counter()
            parent.sendall(b"x")
            if parent.recv(1) != b"x":
                raise RuntimeError("sonde de réveil : écho inattendu")
            times.append(time.perf_counter() - start)
        parent.sendall(b"q")
    finally:
        if pinned:
            os.sched_setaffinity(0, cores)
        parent.close()
        os.waitpid(pid, 0)
    return summarise_round_trips(times)


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
    which runs inside the system under test); then the rest of the machine: every other
    process and kernel thread (``outside``), and the time stolen by the hypervisor."""

    system: float
    readers: float
    broker: float
    database: float = 0.0
    outside: float = 0.0
    steal: float = 0.0

    def per_scan_us(self, scans: int) -> tuple[float, float, float, float]:
        n = max(scans, 1)
        return (
            self.system / n * 1e6,
            self.readers / n * 1e6,
            self.broker / n * 1e6,
            self.database / n * 1e6,
        )

    def outside_per_scan_us(self, scans: int) -> tuple[float, float]:
        """(other processes, stolen) in µs per scan."""
        n = max(scans, 1)
        return self.outside / n * 1e6, self.steal / n * 1e6


class CpuMeter:
    """``meter = CpuMeter(sut_pid, broker_pid, database_pid)`` … ``meter.stop()`` →
    :class:`CpuUse`; ``database_pid``: PostgreSQL's postmaster (its backends are its
    children), None when the database is in the system under test."""

    def __init__(
        self, system_pid: int | None, broker_pid: int | None, database_pid: int | None = None
    ) -> None:
        self.pids = (system_pid, os.getpid(), broker_pid, database_pid)
        self.start = self._read()
        self.host_start = host_times()
        self.clock_start = time.monotonic()

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
        host_end = host_times()
        elapsed = time.monotonic() - self.clock_start
        system, readers, broker, database = (e - s for e, s in zip(end, self.start, strict=True))
        busy, steal = host_busy_seconds(self.host_start, host_end, elapsed)
        # the readings are not simultaneous and processes count in ticks: a few ms of noise
        outside = max(0.0, busy - (system + readers + broker + database))
        return CpuUse(system, readers, broker, database, outside, steal)


def idle_policy(sys_root: str = "/sys") -> dict[str, str | int | None]:
    """How this machine's idle cores wait for work (Linux ``cpuidle``): the driver and
    governor, and — with the ``haltpoll`` driver of a KVM guest — how long an idle core
    polls before it halts (``guest_halt_poll_ns``; None where there is no such setting).

    It matters for a chain of processes that wake each other, as the bench's readers,
    broker, system and database do for every scan: a halted virtual core is woken by the
    hypervisor, a polling one at once. Measured on the reference machine (a ping-pong
    between two processes over loopback TCP): p50 64 µs per round trip with 0 ns of
    polling, 13 µs with the kernel's default 200,000 ns. A run is only comparable with
    another made under the same policy, which the report prints."""
    root = os.path.join(sys_root, "devices/system/cpu/cpuidle")

    def read(path: str) -> str | None:
        try:
            with open(path, encoding="ascii") as f:
                return f.read().strip() or None
        except OSError:
            return None

    governor = read(os.path.join(root, "current_governor_ro")) or read(
        os.path.join(root, "current_governor")
    )
    poll = read(os.path.join(sys_root, "module/haltpoll/parameters/guest_halt_poll_ns"))
    return {
        "driver": read(os.path.join(root, "current_driver")),
        "governor": governor,
        "halt_poll_ns": int(poll) if poll is not None and poll.isdigit() else None,
    }
