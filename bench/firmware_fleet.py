"""Load run of the reader firmware itself: N simulated readers, the real ingest, a broker
restart in the middle.

    .venv/bin/python bench/firmware_fleet.py                      # 10 readers, 3,000 taps
    .venv/bin/python bench/firmware_fleet.py --readers 4 --taps 800 --no-restart

Each reader is the firmware's ``reader.app.Reader`` on its simulated hardware
(``reader.sim.SimulatedReader``, register-level MFRC522, NTAG213 tags holding the label's
Digital Link), with a data folder of its own (sequence number, offline queue), at one
device of the demo territory; all of them run in one asyncio loop, as the demo's readers
do. Taps follow ``bench/_workload.py`` (first taps of staged assets and repeat taps, all
acked ``accepted``), one after the other on each reader, as fast as the firmware takes
them: a poll every ``--poll-ms``, the read, the scan queued and published, the ack, the
feedback pattern. The LED and buzzer patterns (about one second each, made for people)
are shortened by ``--feedback-scale`` — same colours and tones, in the same order.

The real system (``IngestService`` → ``IngestPipeline`` → ledger, SQLite ``FULL``) runs in
a process of its own (``bench/_sut.py``) on a private Mosquitto (persistence on), which is
stopped once when half the taps are done and started again ``--outage-s`` later (longer
than the reader's 2 s ack wait, so some taps play "queued" and go out again later).
Afterwards every reader boots again on its folder and taps once more: its sequence number
must go on from where it stopped.

Printed: scans/s (first tap to last feedback) and ack latency p50/p99 (scan queued on
"flash" → its first ack received, including scans held across the restart). The exit
status is 1 when a count is wrong (lost, doubled or missing sightings, dead letters,
unacked scans, reused sequence numbers); there are no timing targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "bench", REPO / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _fleet import percentile  # noqa: E402
from _workload import STAGING_SEQ, Plan, ReaderPlan, make_plan, open_database, stage  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402

from reemploi.protocol import wire  # noqa: E402
from reemploi.server.db.tables import custody_events, dead_letters, sightings  # noqa: E402
from reemploi.server.demo.readers import firmware_simulator  # noqa: E402


class Broker(Protocol):
    host: str
    port: int

    def stop(self) -> None: ...

    def start(self) -> object: ...


@dataclass(frozen=True)
class FleetSettings:
    readers: int = 10
    taps: int = 3000
    first_share: float = 0.5
    poll_ms: int = 20  # the firmware's lowest NFC poll interval
    ack_timeout_ms: int = 2000  # the firmware's default: no ack by then plays "queued"
    resend_s: int = 5  # the firmware's lowest: an unacked scan is published again after
    feedback_scale: float = 0.01  # LED/buzzer steps last ms × this (1.0: as on the board)
    restart_broker: bool = True
    outage_s: float = 2.5  # broker down this long (> ack_timeout_ms: some taps play "queued")
    seed: int = 7


@dataclass
class ReaderOutcome:
    """What one firmware reader did, seen from its own side."""

    device: str
    planned: int
    patterns: Counter[str] = field(default_factory=Counter)  # feedback played per tap
    seqs: list[int] = field(default_factory=list)  # sequence numbers of its scans, in order
    acks: Counter[int] = field(default_factory=Counter)  # acks received per sequence number
    latencies_ms: list[float] = field(default_factory=list)  # queued → first ack
    queue_left: int = -1
    drops: int = -1
    next_seq_after_reboot: int = -1
    reboot_tap: tuple[int, str | None] | None = None  # (seq, pattern) of the tap after reboot


@dataclass
class FleetReport:
    settings: FleetSettings
    readers: list[ReaderOutcome]
    elapsed_s: float
    restarted_after: int | None  # taps done when the broker restart began
    # device → (rows, distinct seqs, sorted seqs) of fleet sightings (staging excluded)
    ledger: dict[str, tuple[int, int, list[int]]]
    results: Counter[str]  # sightings.result of fleet sightings
    events: int  # custody events chained by the fleet's taps
    first_taps: int
    dead_letters: int

    @property
    def taps(self) -> int:
        return sum(sum(r.patterns.values()) for r in self.readers)

    @property
    def latencies_ms(self) -> list[float]:
        return [v for r in self.readers for v in r.latencies_ms]


@contextlib.contextmanager
def fast_feedback(scale: float) -> Iterator[None]:
    """Shorten every step of the firmware's feedback patterns (``reader.feedback``)."""
    import reader.feedback as feedback

    saved = dict(feedback.PATTERNS)
    for name, steps in saved.items():
        feedback.PATTERNS[name] = tuple((r, g, b, hz, int(ms * scale)) for r, g, b, hz, ms in steps)
    try:
        yield
    finally:
        feedback.PATTERNS.clear()
        feedback.PATTERNS.update(saved)


class FleetReader:
    """One firmware reader on simulated hardware, timed from the outside: its queue's
    ``push`` and its MQTT link's message callback are wrapped (called through)."""

    def __init__(self, sim: Any, plan: ReaderPlan, broker: Broker, folder: Path, s: FleetSettings):
        self.plan = plan
        self.outcome = ReaderOutcome(plan.device, len(plan.taps))
        self.config = {
            "site": plan.site,
            "device": plan.device,
            "broker": {"host": broker.host, "port": broker.port, "tls": False, "keepalive_s": 30},
            "nfc": {"poll_ms": s.poll_ms},
            "queue": {"resend_s": s.resend_s},
            "ack_timeout_ms": s.ack_timeout_ms,
        }
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.sim = sim.SimulatedReader(self.config, str(folder))
        self._queued_at: dict[int, float] = {}
        self._instrument(self.sim.reader)

    def _instrument(self, reader: Any) -> None:
        push, on_message, out = reader.queue.push, reader.mqtt.on_message, self.outcome

        def timed_push(scan: wire.Scan) -> Any:
            entry = push(scan)
            self._queued_at[scan.seq] = time.perf_counter()
            out.seqs.append(scan.seq)
            return entry

        def timed_on_message(topic: str, payload: bytes) -> Any:
            if topic == reader.t_ack:
                with contextlib.suppress(wire.MalformedMessage):
                    seq = wire.decode_ack(payload).seq
                    if not out.acks[seq] and seq in self._queued_at:
                        out.latencies_ms.append(1000 * (time.perf_counter() - self._queued_at[seq]))
                    out.acks[seq] += 1
            return on_message(topic, payload)

        reader.queue.push = timed_push
        reader.mqtt.on_message = timed_on_message

    async def run(self, index_base: int, done: list[int]) -> None:
        for index, tap in enumerate(self.plan.taps):
            pattern = await self.sim.tap(tap.uri, index_base + index)
            self.outcome.patterns[str(pattern)] += 1
            done[0] += 1

    def queue_len(self) -> int:
        return len(self.sim.reader.queue)


def _outage(broker: Broker, seconds: float) -> None:
    broker.stop()
    time.sleep(seconds)
    broker.start()


async def _drive(
    readers: list[FleetReader], broker: Broker, s: FleetSettings
) -> tuple[float, int | None]:
    for r in readers:
        r.sim.start()
    for r in readers:
        if not await r.sim.wait_connected(15000):
            raise RuntimeError(f"{r.plan.device}: pas de connexion au broker")
    total = sum(len(r.plan.taps) for r in readers)
    done = [0]
    restarted_after: int | None = None
    started = time.perf_counter()
    tasks = [asyncio.create_task(r.run(i << 16, done)) for i, r in enumerate(readers)]
    restart: asyncio.Task[None] | None = None
    while not all(t.done() for t in tasks):
        if s.restart_broker and restart is None and done[0] >= total // 2:
            restarted_after = done[0]
            restart = asyncio.create_task(asyncio.to_thread(_outage, broker, s.outage_s))
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*tasks, *([restart] if restart else []))
    deadline = time.monotonic() + 60  # queued scans go out again once the link is back
    while any(r.queue_len() for r in readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for r in readers:
        r.outcome.queue_left = r.queue_len()
        r.outcome.drops = r.sim.reader.queue.drops
        await r.sim.stop()
    return elapsed, restarted_after


async def _reboot_and_tap(readers: list[FleetReader]) -> None:
    """Boot every reader again on its folder and tap its last tag once more."""
    sim = firmware_simulator()
    for r in readers:
        again = sim.SimulatedReader(r.config, str(r.folder))
        r.outcome.next_seq_after_reboot = again.reader.seq.peek()
        again.start()
        try:
            if not await again.wait_connected(15000):
                raise RuntimeError(f"{r.plan.device}: pas de connexion après redémarrage")
            pattern = await again.tap(r.plan.taps[-1].uri, 0xFFFF00)
            r.outcome.reboot_tap = (r.outcome.next_seq_after_reboot, pattern)
        finally:
            await again.stop()


class IngestProcess:
    """The real ingest in its own process (bench/_sut.py), stopped by its pid."""

    def __init__(self, broker: Broker, url: str, client_id: str) -> None:
        args = ["real", "--host", broker.host, "--port", str(broker.port)]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "bench" / "_sut.py"),
                *args,
                "--client-id",
                client_id,
                "--url",
                url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"ingestion non démarrée : {line!r}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("ingestion : arrêt trop long") from None
        if self.proc.returncode != 0 or "stopped" not in out:
            raise RuntimeError(f"ingestion : arrêt anormal ({self.proc.returncode})")


def _ledger(
    engine: Engine, devices: list[str]
) -> tuple[dict[str, tuple[int, int, list[int]]], Counter[str], int, int]:
    fleet = (sightings.c.seq < STAGING_SEQ) & sightings.c.device_id.in_(devices)
    with engine.connect() as conn:
        rows = conn.execute(
            select(sightings.c.device_id, sightings.c.seq, sightings.c.result).where(fleet)
        ).all()
        events = conn.execute(select(func.count()).select_from(custody_events)).scalar_one()
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
    by_device: dict[str, list[int]] = {d: [] for d in devices}
    for device, seq, _result in rows:
        by_device[device].append(int(seq))
    ledger = {d: (len(seqs), len(set(seqs)), sorted(seqs)) for d, seqs in by_device.items()}
    return ledger, Counter(str(r[2]) for r in rows), int(events), int(dead)


def run(settings: FleetSettings, broker: Broker, folder: Path) -> FleetReport:
    """Stage the assets, start the ingest, drive the fleet, reboot it, count the ledger."""
    sim = firmware_simulator()
    plan: Plan = make_plan(
        "firmware", settings.taps, settings.readers, settings.first_share, settings.seed
    )
    engine = open_database(f"sqlite:///{folder / 'reemploi.db'}")
    try:
        stage(engine, [plan])
        with engine.connect() as conn:
            staged_events = conn.execute(
                select(func.count()).select_from(custody_events)
            ).scalar_one()
        ingest = IngestProcess(
            broker, engine.url.render_as_string(hide_password=False), "fleet-ingest"
        )
        try:
            with fast_feedback(settings.feedback_scale):
                readers = [
                    FleetReader(sim, p, broker, folder / "readers" / p.device, settings)
                    for p in plan.readers
                ]
                elapsed, restarted_after = asyncio.run(_drive(readers, broker, settings))
                asyncio.run(_reboot_and_tap(readers))
        finally:
            ingest.stop()
        ledger, results, events, dead = _ledger(engine, [r.device for r in plan.readers])
    finally:
        engine.dispose()
    return FleetReport(
        settings,
        [r.outcome for r in readers],
        elapsed,
        restarted_after,
        ledger,
        results,
        events - int(staged_events),
        plan.first_taps,
        dead,
    )


def problems(report: FleetReport) -> list[str]:
    """Every wrong count, in French: empty when nothing was lost, doubled or reused."""
    out: list[str] = []
    for r in report.readers:
        rows, distinct, seqs = report.ledger[r.device]
        played = r.patterns["accept"] + r.patterns["queued"]
        if played != r.planned or len(r.seqs) != r.planned:
            out.append(f"{r.device}: {played} jouées, {len(r.seqs)} enregistrées / {r.planned}")
        expected = [*range(len(r.seqs)), r.reboot_tap[0] if r.reboot_tap else -1]
        if rows != distinct or seqs != expected:
            out.append(f"{r.device}: {rows} observations, {distinct} distinctes, trou ou double")
        if sorted(r.acks) != sorted(r.seqs) or r.queue_left != 0 or r.drops != 0:
            left = f"file {r.queue_left}, pertes {r.drops}"
            out.append(f"{r.device}: {len(r.acks)} acks / {len(r.seqs)} lectures, {left}")
        if (
            r.next_seq_after_reboot < len(r.seqs)
            or r.reboot_tap is None
            or r.reboot_tap[1] != "accept"
        ):
            out.append(f"{r.device}: après redémarrage {r.next_seq_after_reboot}, {r.reboot_tap}")
    if report.dead_letters:
        out.append(f"{report.dead_letters} lettres mortes")
    if report.events != report.first_taps:
        out.append(
            f"{report.events} événements chaînés pour {report.first_taps} premières lectures"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    d = FleetSettings()
    parser.add_argument("--readers", type=int, default=d.readers)
    parser.add_argument("--taps", type=int, default=d.taps)
    parser.add_argument("--first-share", type=float, default=d.first_share)
    parser.add_argument("--poll-ms", type=int, default=d.poll_ms)
    parser.add_argument("--feedback-scale", type=float, default=d.feedback_scale)
    parser.add_argument("--outage-s", type=float, default=d.outage_s)
    parser.add_argument("--no-restart", action="store_true")
    args = parser.parse_args()
    from support.services import Mosquitto, MosquittoSettings

    settings = FleetSettings(
        readers=args.readers,
        taps=args.taps,
        first_share=args.first_share,
        poll_ms=args.poll_ms,
        feedback_scale=args.feedback_scale,
        restart_broker=not args.no_restart,
        outage_s=args.outage_s,
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        Mosquitto(MosquittoSettings(persistence=True)) as broker,
    ):
        report = run(settings, broker, Path(tmp))
    lat = report.latencies_ms
    print(
        f"lecteurs / readers: {settings.readers}, lectures / taps: {report.taps}, "
        f"redémarrage du broker après / broker restart after: {report.restarted_after}"
    )
    rate, p50, p99 = report.taps / report.elapsed_s, percentile(lat, 50), percentile(lat, 99)
    print(f"débit / throughput: {rate:.1f} lectures/s (scans/s) en {report.elapsed_s:.1f} s")
    print(f"latence d'ack / ack latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    patterns = sum((r.patterns for r in report.readers), Counter())
    print(f"retours / feedback: {dict(patterns)}; résultats / results: {dict(report.results)}")
    wrong = problems(report)
    for line in wrong:
        print("ERREUR:", line)
    print("comptes justes / counts right" if not wrong else "comptes faux / counts wrong")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
