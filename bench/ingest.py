"""Benchmark of durable ingest: scan → Mosquitto → committed in the ledger → ack.

    .venv/bin/python bench/ingest.py                 # 50,000 scans, 10 readers, 3 rounds, ~10 min
    .venv/bin/python bench/ingest.py --postgres      # also the real system on PostgreSQL
    .venv/bin/python bench/ingest.py --quick --json out.json

Starts its own Mosquitto (tests/support/services.py: 127.0.0.1, free port,
``set_tcp_nodelay true``, ``max_queued_messages 0`` and ``max_inflight_messages 0``, i.e.
unlimited, because the defaults 1000 and 20 drop or throttle QoS 1 bursts). Then, side by
side and phase by phase in the same run:

* the raw ceiling (bench/_ceiling.py): a bare paho subscriber that group-commits plain rows
  to SQLite (``synchronous=FULL``) and acks each scan after its commit — the targets'
  reference; with ``--postgres``, the same ceiling on PostgreSQL too (one statement per
  batch): PostgreSQL's own floor on this host, shown beside, not a target;
* the real system: ``IngestService`` → ledger writer process (``--writer local``: a thread)
  → ``IngestPipeline`` → ledger, SQLite with
  ``synchronous=FULL`` (and with ``--postgres``, PostgreSQL with its defaults, its
  write-ahead log segments recycled before measuring as in a cluster in service: see
  bench/_cluster.py).

Phases: maximum sustained throughput over ``--scans`` scans (first send → last ack), then
ack latency paced at 500 and 1,000 scans/s, measured from each scan's scheduled send time
(after ``--warmup-seconds`` at the same pace, whose scans are acked and counted but left
out of the latency figures).
Every phase is played ``--rounds`` times (fresh assets, declared just before it); verdicts
use the median of the per-round values, all of which are printed.
Counts prove that every scan was acked exactly once and stored exactly once. Exit status 1
when a count is wrong; targets not met are reported, not turned into a failure.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # tests/support: the throwaway services

from _ceiling import PostgresStore, RawStore, SqliteStore, forget_session  # noqa: E402
from _cluster import recycle_wal  # noqa: E402
from _cpu import (  # noqa: E402
    CpuMeter,
    CpuUse,
    cpu_probe_ms,
    idle_policy,
    wait_until_quiet,
    wakeup_probe,
)
from _fleet import Fleet, RunResult, percentile  # noqa: E402
from _report import BURST, CEILING, CEILING_POSTGRES, references, render_table, targets  # noqa: E402
from _trace import decompose  # noqa: E402
from _workload import (  # noqa: E402
    LedgerCounts,
    Plan,
    ledger_counts,
    make_plan,
    open_database,
    settle,
    stage,
)
from sqlalchemy import Engine  # noqa: E402
from support.processes import interrupt_on_sigterm  # noqa: E402
from support.services import Mosquitto, MosquittoSettings, Postgres  # noqa: E402

from reemploi.server.ingest.mqtt import BrokerAddress  # noqa: E402

REAL_SQLITE = "real-sqlite"
REAL_POSTGRES = "real-postgres"


@dataclass
class Measure:
    """One system in one phase: what the readers saw and what the store holds."""

    system: str
    phase: str
    run: RunResult
    round: int  # 1…--rounds: the same phases again, ceiling and real side by side
    stored: int  # rows stored (ledger sightings or ceiling rows)
    distinct: int  # distinct stored scans
    events: int | None = None  # custody events chained (real system only)
    expected_events: int | None = None
    dead_letters: int = 0
    cpu: CpuUse | None = None  # during the phase's run only
    # the system's garbage collector: objects frozen at start, full collections during
    # the phase and their total ms (bench/_sut.py, GcWatch)
    gc: dict[str, Any] | None = None
    # --trace: latency by stage (p50, p90, p99, mean of the slowest 1 %)
    stages: dict[str, tuple[float, float, float, float]] | None = None
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        run = self.run
        if run.acked_once != run.scans:
            self.problems.append(f"{run.scans - run.acked_once} scans sans ack (perdus)")
        if run.acked_twice:
            self.problems.append(f"{run.acked_twice} acks en double")
        if run.stray_acks:
            self.problems.append(f"{run.stray_acks} acks inattendus")
        if self.stored != run.scans or self.distinct != run.scans:
            self.problems.append(f"{self.stored} lignes / {self.distinct} distinctes ≠ {run.scans}")
        if self.events != self.expected_events:
            self.problems.append(f"{self.events} événements ≠ {self.expected_events} attendus")
        if self.dead_letters:
            self.problems.append(f"{self.dead_letters} lettres mortes")
        if self.system != CEILING and self.expected_events is not None:
            firsts = run.results.get("accepted/None", 0)
            repeats = run.results.get("accepted/already_recorded", 0)
            if firsts != self.expected_events or firsts + repeats != run.scans:
                self.problems.append(f"résultats des acks inattendus : {dict(run.results)}")

    def as_json(self) -> dict[str, Any]:
        lat = self.run.latencies_ms
        return {
            "system": self.system,
            "phase": self.phase,
            "round": self.round,
            "scans": self.run.scans,
            "acked_once": self.run.acked_once,
            "acked_twice": self.run.acked_twice,
            "stray_acks": self.run.stray_acks,
            "missing": self.run.missing,
            "stored": self.stored,
            "distinct": self.distinct,
            "events": self.events,
            "expected_events": self.expected_events,
            "dead_letters": self.dead_letters,
            "elapsed_s": round(self.run.elapsed_s, 3),
            "throughput": round(self.run.throughput, 1),
            "latency_scans": len(lat),
            "warmup_scans": self.run.warmup_scans,
            "p50_ms": round(percentile(lat, 50), 3),
            "p99_ms": round(percentile(lat, 99), 3),
            "max_ms": round(max(lat), 3) if lat else None,
            "results": dict(self.run.results),
            "stages_ms_p50_p90_p99_slowest1pct": self.stages,
            "system_gc": self.gc,
            "cpu_us_per_scan": (
                dict(
                    zip(
                        ("system", "readers", "broker", "database"),
                        self.cpu.per_scan_us(self.run.scans),
                        strict=True,
                    )
                )
                if self.cpu
                else None
            ),
            "outside_us_per_scan": (
                dict(
                    zip(
                        ("processes", "steal"),
                        self.cpu.outside_per_scan_us(self.run.scans),
                        strict=True,
                    )
                )
                if self.cpu
                else None
            ),
            "ok": not self.problems,
            "problems": self.problems,
        }


Driver = Callable[[Fleet], RunResult]


@contextmanager
def readers_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the measuring process while a phase runs.

    The simulated readers keep a record per scan; a full collection over them stopped
    every reader (sender and ack reader alike) for about 60 ms near the end of a paced
    run — a pause of the bench, not of the system under test, that showed up as the
    system's p99. Collected before, re-enabled after; the same for both systems."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True)
class Round:
    """One phase (``burst``, ``paced-500``…) of one round, with its own plan (fresh
    assets, fresh sequence numbers) and how to drive it."""

    kind: str
    round: int
    plan: Plan
    drive: Driver


class SystemProcess:
    """The system under test in its own process (bench/_sut.py), started and stopped
    around one phase."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_sut.py")), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"système testé non démarré : {line!r}")

    def stop(self) -> dict[str, Any]:
        """Stop it; what its garbage collector did meanwhile (bench/_sut.py, GcWatch)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=120)
        last = out.strip().rsplit("\n", 1)[-1]
        if self.proc.returncode != 0 or not last.startswith("stopped "):
            raise RuntimeError(f"arrêt du système testé anormal ({self.proc.returncode})")
        report: dict[str, Any] = json.loads(last.removeprefix("stopped "))
        return report


def _broker_args(address: BrokerAddress, client_id: str) -> list[str]:
    return ["--host", address.host, "--port", str(address.port), "--client-id", client_id]


def run_ceiling(
    address: BrokerAddress,
    broker_pid: int | None,
    folder: Path,
    phase: Round,
    drive: Driver,
    first_seq: int,
    postgres: Postgres | None = None,
    conninfo: str | None = None,
) -> Measure:
    """The raw ceiling on SQLite, or on ``postgres`` (a table per phase) when given,
    reached through ``conninfo`` (default: TCP)."""
    store: RawStore
    if postgres is None:
        name, tag = CEILING, "c"
        db = folder / f"ceiling-{phase.plan.name}.db"
        store, where = SqliteStore(db), ["--db", str(db)]
    else:
        name, tag = CEILING_POSTGRES, "q"
        table = "raw_" + phase.plan.name.replace("-", "_")
        conninfo = conninfo or postgres.conninfo
        store = PostgresStore(conninfo, table)
        where = ["--conninfo", conninfo, "--table", table]
    client_id = f"bench-{name}"
    system = SystemProcess(["ceiling", *_broker_args(address, client_id), *where])
    try:
        with Fleet(address, phase.plan.readers, tag, first_seq) as fleet:
            meter = CpuMeter(system.proc.pid, broker_pid, postgres.pid if postgres else None)
            with readers_gc_paused():
                run = drive(fleet)
            cpu = meter.stop()
    finally:
        collector = system.stop()
        forget_session(address, client_id)
    rows, distinct = store.counts()
    measure = Measure(name, phase.kind, run, phase.round, rows, distinct, cpu=cpu, gc=collector)
    measure.check()
    return measure


def run_real(
    system: str,
    engine: Engine,
    address: BrokerAddress,
    broker_pid: int | None,
    phase: Round,
    drive: Driver,
    first_seq: int,
    trace_file: Path | None = None,
    writer: str = "process",
    database_pid: int | None = None,
) -> Measure:
    client_id = f"bench-{system}"
    before = ledger_counts(engine)
    url = engine.url.render_as_string(hide_password=False)
    args = ["real", *_broker_args(address, client_id), "--url", url, "--writer", writer]
    if trace_file is not None:
        args += ["--trace", str(trace_file)]
    process = SystemProcess(args)
    timeline: dict[str, list[float]] = {}
    try:
        tag = system[5:6]
        with Fleet(address, phase.plan.readers, tag, first_seq, trace_file is not None) as fleet:
            meter = CpuMeter(process.proc.pid, broker_pid, database_pid)
            with readers_gc_paused():
                run = drive(fleet)
            cpu = meter.stop()
            timeline = fleet.timeline()
    finally:
        collector = process.stop()
        forget_session(address, client_id)
    delta: LedgerCounts = ledger_counts(engine).minus(before)
    measure = Measure(
        system,
        phase.kind,
        run,
        phase.round,
        delta.sightings,
        delta.sightings,  # unique (key) and (device, seq) in the schema
        delta.events,
        phase.plan.first_taps,
        delta.dead_letters,
        cpu,
        gc=collector,
    )
    if trace_file is not None:
        measure.stages = decompose(timeline, json.loads(trace_file.read_text()), run.measured_from)
    measure.check()
    return measure


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/ingest.py", description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=50_000, help="scans of the throughput run")
    parser.add_argument("--readers", type=int, default=10, help="simulated readers (1-10)")
    parser.add_argument(
        "--paced-seconds", type=float, default=10.0, help="length of each paced run"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=None,
        help="paced runs: first seconds at the same pace, acked and counted but not in the"
        " latency figures (default 1, 0.2 with --quick)",
    )
    parser.add_argument("--rates", default="500,1000", help="paced rates, scans/s")
    parser.add_argument("--window", type=int, default=200, help="unacked scans per reader")
    parser.add_argument(
        "--first-share", type=float, default=0.5, help="share of first taps (custody events)"
    )
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL (defaults)")
    parser.add_argument(
        "--postgres-socket",
        action="store_true",
        help="PostgreSQL reached over its Unix socket (one host) instead of TCP on 127.0.0.1",
    )
    parser.add_argument("--quick", action="store_true", help="small numbers (smoke test)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="every phase this many times, ceiling then real each time; medians reported"
        " (default 3, 1 with --quick)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--writer",
        choices=("hybrid", "process", "local"),
        default="hybrid",
        help="real system's ledger writer: small batches here and large ones in a process of"
        " its own (hybrid, as deployed), always in that process, or always here",
    )
    parser.add_argument(
        "--trace", action="store_true", help="paced phases: latency by stage (real systems)"
    )
    args = parser.parse_args(argv)
    if args.postgres_socket and not args.postgres:
        parser.error("--postgres-socket va avec --postgres")
    if args.quick:
        args.scans = min(args.scans, 1000)
        args.paced_seconds = min(args.paced_seconds, 1.0)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.warmup_seconds is None:
        args.warmup_seconds = 0.2 if args.quick else 1.0
    if args.warmup_seconds < 0:
        parser.error("--warmup-seconds ≥ 0")
    if args.rounds < 1:
        parser.error("--rounds ≥ 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()  # stopped by SIGTERM: its broker and database go too
    rates = [int(r) for r in args.rates.split(",") if r]
    phases: list[Round] = []
    for number in range(1, args.rounds + 1):
        burst = make_plan(
            f"{BURST}-{number}", args.scans, args.readers, args.first_share, args.seed
        )
        phases.append(
            Round(
                BURST,
                number,
                burst,
                lambda f, p=burst: f.burst(p, args.window, timeout_s=max(120, args.scans / 200)),
            )
        )
        for rate in rates:
            plan = make_plan(
                f"paced-{rate}-{number}",
                int(rate * (args.warmup_seconds + args.paced_seconds)),
                args.readers,
                args.first_share,
                args.seed,
            )
            phases.append(
                Round(
                    f"paced-{rate}",
                    number,
                    plan,
                    lambda f, p=plan, r=rate: f.paced(
                        p, r, timeout_s=args.paced_seconds + 60, warmup_s=args.warmup_seconds
                    ),
                )
            )
    folder = Path(tempfile.mkdtemp(prefix="reemploi-bench-"))
    wal_ready = 0
    probe_start = cpu_probe_ms()
    wakeups_start = wakeup_probe()
    ceiling_conninfo: str | None = None
    settings = MosquittoSettings(max_queued_messages=0, max_inflight_messages=0)
    postgres: Postgres | None = None
    measures: list[Measure] = []
    try:
        with Mosquitto(settings) as broker:
            address = BrokerAddress(broker.host, broker.port, False)
            engines: dict[str, Engine] = {}
            engines[REAL_SQLITE] = open_database(f"sqlite:///{folder / 'ledger.db'}", "FULL")
            if args.postgres:
                postgres = Postgres()
                postgres.start()
                socket = args.postgres_socket
                engines[REAL_POSTGRES] = open_database(
                    postgres.socket_url if socket else postgres.url
                )
                ceiling_conninfo = postgres.socket_conninfo if socket else postgres.conninfo

            staging_seqs: dict[str, dict[str, int]] = {}

            def prepare(plan: Plan) -> None:
                """The phase's assets declared and walked to their readers' start states
                just before it, as a lot is announced before it arrives (a writer starts
                with the assets most recently changed: ingest/memory.py)."""
                nonlocal wal_ready
                print(f"  préparation : {plan.first_taps} biens par système…", flush=True)
                for system, engine in engines.items():
                    stage(engine, [plan], staging_seqs.setdefault(system, {}))
                    settle(engine)
                if postgres is not None:
                    wal_ready = recycle_wal(postgres.superuser_conninfo(), postgres.data_dir)
                    print(f"  journal PostgreSQL : {wal_ready} segments prêts", flush=True)

            def quiet() -> None:
                """PostgreSQL's background work (autovacuum after a burst, checkpoints)
                done before the next measured run, whichever system it is."""
                waited = wait_until_quiet(postgres.pid if postgres is not None else None)
                if waited > 2:
                    print(f"  (PostgreSQL occupé : {waited:.0f} s d'attente)", flush=True)

            for index, phase in enumerate(phases):
                first_seq = (index + 1) * 10_000_000
                drive = phase.drive
                print(
                    f"Manche {phase.round}, phase {phase.kind} ({phase.plan.scans} lectures)…",
                    flush=True,
                )
                prepare(phase.plan)
                quiet()
                measures.append(run_ceiling(address, broker.pid, folder, phase, drive, first_seq))
                if postgres is not None:
                    quiet()
                    measures.append(
                        run_ceiling(
                            address,
                            broker.pid,
                            folder,
                            phase,
                            drive,
                            first_seq,
                            postgres,
                            ceiling_conninfo,
                        )
                    )
                for system, engine in engines.items():
                    quiet()
                    traced = args.trace and phase.kind != BURST
                    trace_file = (
                        folder / f"trace-{system}-{phase.plan.name}.json" if traced else None
                    )
                    measures.append(
                        run_real(
                            system,
                            engine,
                            address,
                            broker.pid,
                            phase,
                            drive,
                            first_seq,
                            trace_file,
                            args.writer,
                            postgres.pid if system == REAL_POSTGRES and postgres else None,
                        )
                    )
            for engine in engines.values():
                engine.dispose()
    finally:
        if postgres is not None:
            postgres.close()
        shutil.rmtree(folder, ignore_errors=True)
    context = {
        "scans": args.scans,
        "readers": args.readers,
        "window": args.window,
        "rates": rates,
        "paced_seconds": args.paced_seconds,
        "warmup_seconds": args.warmup_seconds,
        "first_share": args.first_share,
        "rounds": args.rounds,
        "writer": args.writer,
        "broker": "mosquitto, max_queued_messages 0, max_inflight_messages 0, set_tcp_nodelay",
        "postgres_wal_segments_ready": wal_ready,
        "postgres_transport": (
            ("unix socket" if args.postgres_socket else "tcp 127.0.0.1") if args.postgres else None
        ),
        "machine": f"{platform.machine()}, {_cores()} cœurs, Python {platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu_idle": idle_policy(),
        "cpu_probe_ms": {
            "start": [round(v, 1) for v in probe_start],
            "end": [round(v, 1) for v in cpu_probe_ms()],
        },
        "wakeup_probe": {"start": asdict(wakeups_start), "end": asdict(wakeup_probe())},
    }
    print(render_table(measures, context))
    if args.json:
        payload = {
            "context": context,
            "measures": [m.as_json() for m in measures],
            "targets": targets(measures),
            "references": references(measures),
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return 0 if all(not m.problems for m in measures) else 1


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
