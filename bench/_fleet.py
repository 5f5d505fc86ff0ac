"""Simulated readers for the benchmark: one lean MQTT client each (bench/_lean_mqtt.py:
TCP_NODELAY, QoS 1), a protocol v1 scan per tap, the ack decoded on the reader's ack
topic.

All the readers run in the calling thread: one ``select`` over their sockets
(:meth:`Fleet.pump`), each scan written to its socket as it is published. The
readers stand for ten ESP32 boards elsewhere on the network; on the measured machine
they should cost as little as possible and never queue behind each other. A paho
network thread per reader (``loop_start``) cost ≈ 145 µs of CPU per scan in the
throughput phase, and each publish had to wake its reader's thread first (measured
under ``--trace`` as the *programmé → envoyé* stage). One paho client per reader in
this thread still cost ≈ 280–360 µs per scan in the paced phases (paho's Python work on
every packet, a selector rebuilt and ten clients polled on every wake-up): as much CPU
as the system under test, on the same two cores. Each scan is now one ``send`` of a
packet built before its due time, and each wake-up one ``select`` and one ``recv`` per
socket that has something.

Two ways to drive them:

* :meth:`Fleet.burst` — as fast as the system acks, each reader keeping at most
  ``window`` scans unacknowledged (a reader's offline queue); throughput is counted from
  the first send to the last ack.
* :meth:`Fleet.paced` — one scan every ``1/rate`` seconds, readers in turn. Latency is
  measured from each scan's *scheduled* send time, so a sender that falls behind (or a
  system that stalls it) shows up in the figures instead of being hidden (no coordinated
  omission). The first ``warmup_s`` seconds of scans are sent, acked and counted like the
  others, but left out of the latency figures: both systems start in a fresh process for
  each phase, and a server's first milliseconds (cold caches, a new write-ahead log) are
  not its steady pace.

  The sender is made punctual, so that its own lateness is not counted against the
  system: each scan is built before its due time (only the publish is left at the due
  time), and the sending thread's timer slack is 1 ns instead of Linux's default 50 µs
  (``prctl(PR_SET_TIMERSLACK)``: a ``select`` timeout ends up to 50 µs late otherwise;
  measured on the reference machine, a 0.7 ms wait overslept p50 79 µs with the default,
  30 µs with 1 ns).
"""

from __future__ import annotations

import ctypes
import math
import select
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from _lean_mqtt import LeanClient, publish_packet
from _workload import Plan, ReaderPlan

from reemploi.protocol import wire
from reemploi.server.ingest.mqtt import BrokerAddress

KEEPALIVE_S = 60


@dataclass
class RunResult:
    """What the readers saw during one run."""

    scans: int = 0
    acked_once: int = 0
    acked_twice: int = 0  # acks for a scan already acked (doubled)
    stray_acks: int = 0  # acks for no scan we sent, or with the wrong key
    missing: int = 0  # scans never acked
    results: Counter[str] = field(default_factory=Counter)  # "accepted/None", …
    first_send: float = 0.0
    last_ack: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # scans due after the warm-up
    warmup_scans: int = 0  # acked, counted, not in latencies_ms
    measured_from: float = 0.0  # perf_counter: scans due earlier are the warm-up

    @property
    def elapsed_s(self) -> float:
        return max(self.last_ack - self.first_send, 1e-9)

    @property
    def throughput(self) -> float:
        return self.acked_once / self.elapsed_s


class _Reader:
    def __init__(
        self, address: BrokerAddress, device: str, site: str, tag: str, first_seq: int
    ) -> None:
        if address.tls:
            raise ValueError("les lecteurs simulés parlent TCP en clair au broker du banc")
        self.device = device
        self.site = site
        self.scan_topic = wire.topic(site, device, "scan")
        self.ack_topic = wire.topic(site, device, "ack")
        self.next_seq = first_seq
        self.sent: dict[int, tuple[float, str]] = {}  # seq → (reference time, key)
        self.acked: Counter[int] = Counter()
        self.results: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.measured_from = 0.0  # scans due earlier are the warm-up: no latency kept
        self.warmup = 0
        self.stray = 0
        self.last_ack = 0.0
        self.inflight = 0
        self.timeline: dict[str, list[float]] | None = None  # key → [due, sent, acked]
        self.client = LeanClient(
            address.host,
            address.port,
            f"bench-{tag}-{device}"[:60],
            self._on_message,
            KEEPALIVE_S,
            address.username,
            address.password,
        )

    def _on_message(self, payload: bytes) -> None:
        now = time.perf_counter()
        try:
            ack = wire.decode_ack(payload)
        except wire.MalformedMessage:
            self.stray += 1
            return
        sent = self.sent.get(ack.seq)
        if sent is None or sent[1] != ack.key:
            self.stray += 1
            return
        self.acked[ack.seq] += 1
        if self.acked[ack.seq] > 1:
            return
        self.results[f"{ack.result}/{ack.reason}"] += 1
        if sent[0] >= self.measured_from:
            self.latencies.append((now - sent[0]) * 1000.0)
        else:
            self.warmup += 1
        if self.timeline is not None and ack.key in self.timeline:
            self.timeline[ack.key][2] = now
        self.last_ack = now
        self.inflight -= 1

    def send(self, uri: str, reference: float) -> None:
        scan = self.prepare(uri)
        self.publish(scan, reference, self.encode(scan))

    def prepare(self, uri: str) -> wire.Scan:
        """The reader's next scan of ``uri``, not sent yet (its sequence number taken)."""
        seq = self.next_seq
        self.next_seq += 1
        return wire.Scan(self.device, seq, wire.KIND_NDEF_URI, uri, None, int(time.time() * 1e3))

    def encode(self, scan: wire.Scan) -> bytes:
        """``scan``'s whole MQTT packet (QoS 1 PUBLISH on the reader's scan topic)."""
        return publish_packet(self.scan_topic, wire.encode_scan(scan), self.client.packet_id())

    def publish(self, scan: wire.Scan, reference: float, packet: bytes) -> None:
        """Send ``scan`` (``packet``: its PUBLISH, from :meth:`encode`); its latency
        counts from ``reference``."""
        self.sent[scan.seq] = (reference, scan.key)
        self.inflight += 1
        self.client.publish(packet)  # written to the socket here and now
        if self.timeline is not None:
            self.timeline[scan.key] = [reference, time.perf_counter(), 0.0]

    def reset(self) -> None:
        self.sent.clear()
        self.acked.clear()
        self.results.clear()
        self.latencies.clear()
        self.measured_from = 0.0
        self.warmup = 0
        self.stray = 0
        self.inflight = 0
        self.last_ack = 0.0


class Fleet:
    """``with Fleet(address, plan.readers, tag, first_seq) as fleet:`` → ``fleet.burst(…)``.

    Sequence numbers start at ``first_seq`` so that runs against the same ledger never
    reuse one (the server would refuse it as a replay).
    """

    def __init__(
        self,
        address: BrokerAddress,
        readers: Sequence[ReaderPlan],
        tag: str,
        first_seq: int,
        trace: bool = False,
    ) -> None:
        self.readers = {
            r.device: _Reader(address, r.device, r.site, tag, first_seq) for r in readers
        }
        if trace:
            for reader in self.readers.values():
                reader.timeline = {}
        self._by_fd: dict[int, _Reader] = {}
        self._sockets: list[int] = []
        self._misc_at = 0.0

    def timeline(self) -> dict[str, list[float]]:
        """With ``trace``: key → [due, sent, acked] (perf_counter) of every scan sent."""
        merged: dict[str, list[float]] = {}
        for reader in self.readers.values():
            merged.update(reader.timeline or {})
        return merged

    def __enter__(self) -> Fleet:
        try:
            for reader in self.readers.values():
                reader.client.open(reader.ack_topic)
                self._by_fd[reader.client.fileno()] = reader
        except BaseException:  # the readers already connected are closed
            self.__exit__()
            raise
        self._sockets = list(self._by_fd)
        return self

    def __exit__(self, *_exc: object) -> None:
        for reader in self.readers.values():
            reader.client.close()
        self._by_fd.clear()
        self._sockets = []

    # ------------------------------------------------------------------ network

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the readers' sockets, then read what came
        (acks: stamped as they are decoded, acknowledged at once) and write what a socket
        could not take before. ``select(2)``: its timeout is in microseconds (``poll`` and
        ``epoll`` take milliseconds, rounded up, which would send paced scans up to 1 ms
        late)."""
        by_fd = self._by_fd
        writing = [fd for fd, reader in by_fd.items() if reader.client.pending]
        readable, writable, _ = select.select(self._sockets, writing, [], max(timeout, 0.0))
        for fd in readable:
            by_fd[fd].client.read()
        for fd in writable:
            by_fd[fd].client.flush()
        now = time.monotonic()
        if now >= self._misc_at:  # keep-alive pings
            for reader in by_fd.values():
                reader.client.keepalive(now)
            self._misc_at = now + 1.0

    # ------------------------------------------------------------------ drives

    def burst(self, plan: Plan, window: int, timeout_s: float) -> RunResult:
        self._reset()
        queues = [(self.readers[r.device], list(r.taps)) for r in plan.readers]
        position = dict.fromkeys(range(len(queues)), 0)
        first = time.perf_counter()
        while position:
            sent_any = False
            for index in list(position):
                reader, taps = queues[index]
                while reader.inflight < window and position[index] < len(taps):
                    reader.send(taps[position[index]].uri, time.perf_counter())
                    position[index] += 1
                    sent_any = True
                if position[index] == len(taps):
                    del position[index]
            self.pump(0.0 if sent_any else 0.01)
        return self._collect(plan, first, timeout_s)

    def paced(self, plan: Plan, rate: float, timeout_s: float, warmup_s: float = 0.0) -> RunResult:
        """``plan``'s taps at ``rate``; latencies of the scans due in the first
        ``warmup_s`` seconds are not kept (everything else about them is)."""
        self._reset()
        order: list[tuple[_Reader, str]] = []
        queues = [(self.readers[r.device], r.taps) for r in plan.readers]
        longest = max(len(taps) for _, taps in queues)
        for i in range(longest):
            for reader, taps in queues:
                if i < len(taps):
                    order.append((reader, taps[i].uri))
        punctual_timers()
        start = time.perf_counter() + 0.05
        for reader, _ in queues:
            reader.measured_from = start + warmup_s
        for i, (reader, uri) in enumerate(order):
            due = start + i / rate
            scan = reader.prepare(uri)  # built before its due time: only the send is late
            packet = reader.encode(scan)
            while True:
                ahead = due - time.perf_counter()
                if ahead <= 0:
                    break
                self.pump(ahead)  # acks are read while waiting; no spinning
            reader.publish(scan, due, packet)
        result = self._collect(plan, start, timeout_s)
        result.measured_from = start + warmup_s
        return result

    # ------------------------------------------------------------------ results

    def _reset(self) -> None:
        for reader in self.readers.values():
            reader.reset()

    def _collect(self, plan: Plan, first: float, timeout_s: float) -> RunResult:
        total = plan.scans
        deadline = time.monotonic() + timeout_s
        last_progress = (time.monotonic(), -1)
        while time.monotonic() < deadline:
            done = sum(len(r.acked) for r in self.readers.values())
            if done >= total:
                break
            if done != last_progress[1]:
                last_progress = (time.monotonic(), done)
            elif time.monotonic() - last_progress[0] > 20:
                break  # nothing acked for 20 s: report what is missing
            self.pump(0.02)
        settle = time.monotonic() + 0.2
        while time.monotonic() < settle:  # let a doubled ack arrive, if any would
            self.pump(settle - time.monotonic())
        out = RunResult(scans=total, first_send=first)
        for reader in self.readers.values():
            out.acked_once += len(reader.acked)
            out.acked_twice += sum(n - 1 for n in reader.acked.values())
            out.stray_acks += reader.stray
            out.missing += len(reader.sent) - len(reader.acked)
            out.results.update(reader.results)
            out.latencies_ms.extend(reader.latencies)
            out.warmup_scans += reader.warmup
            out.last_ack = max(out.last_ack, reader.last_ack)
        return out


_PR_SET_TIMERSLACK = 29  # <linux/prctl.h>


def punctual_timers() -> bool:
    """The calling thread's timer slack to 1 ns (Linux; see the module's docstring);
    False where it cannot be set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100.0 * len(ordered))))
    return ordered[rank - 1]
