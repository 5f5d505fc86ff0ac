"""Where an ack's latency goes (``bench/ingest.py --trace``).

Each scan is followed through five stages, with ``time.perf_counter()`` stamps taken in
two processes (Linux: one monotonic clock for the whole machine):

* *programmé → envoyé* — the paced sender's own lag (measuring process);
* *envoyé → reçu* — broker, then the system's MQTT thread (until its ``on_message``);
* *reçu → lot* — waiting for its batch to start: the writer busy with the batch before,
  that batch's acks going out;
* *lot → validé* — its batch's transaction and commit (with a writer process: the round
  trip to it included);
* *validé → publié* — acks handed to the client and PUBACKs sent;
* *publié → ack lu* — broker, then the reader's MQTT thread.
"""

from __future__ import annotations

import json
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from _fleet import percentile

from reemploi.protocol import wire
from reemploi.server.ingest.mqtt import IngestService
from reemploi.server.ingest.pipeline import BatchResult

STAGES = (
    "programmé → envoyé",
    "envoyé → reçu",
    "reçu → lot",
    "lot → validé",
    "validé → publié",
    "publié → ack lu",
)


class SutTracer:
    """Stamps each scan's key in the system under test, through public hooks only."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        # key → [received, batch started, committed, published, scans in its batch]
        self.stamps: dict[str, list[float]] = {}
        self._keys: dict[bytes, str] = {}  # payload → its key, read once on receipt
        self._acked: tuple[BatchResult | None, list[str]] = (None, [])  # last collected
        self._receive: Any = service.client.on_message
        service.client.on_message = self._on_message
        self._submit = service.writer.submit
        service.writer.submit = self._submitted  # type: ignore[method-assign]
        self._collect = service.writer.collect
        service.writer.collect = self._collected  # type: ignore[method-assign]
        service.on_batch = self._on_batch

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        payload = bytes(msg.payload)
        key = _key_of(payload)
        if key is not None:
            self._keys[payload] = key
            self.stamps[key] = [time.perf_counter(), 0.0, 0.0, 0.0, 0.0]
        self._receive(client, userdata, msg)

    def _submitted(self, batch: Any) -> None:
        now = time.perf_counter()
        for _topic, payload, _received in batch:
            key = self._keys.get(payload)
            if key is not None:
                self.stamps[key][1] = now
                self.stamps[key][4] = len(batch)
        self._submit(batch)

    def _collected(self) -> BatchResult:
        result = self._collect()
        now = time.perf_counter()
        keys = _ack_keys(result)
        self._acked = (result, keys)
        for key in keys:
            if key in self.stamps:
                self.stamps[key][2] = now
        return result

    def _on_batch(self, result: BatchResult) -> None:
        now = time.perf_counter()
        collected, keys = self._acked
        for key in keys if result is collected else _ack_keys(result):
            if key in self.stamps:
                self.stamps[key][3] = now

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.stamps))


def _key_of(payload: bytes) -> str | None:
    try:
        key = json.loads(payload).get("key")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def _ack_keys(result: BatchResult) -> list[str]:
    return [wire.decode_ack(ack.payload).key for ack in result.acks]


BATCH = "lectures du lot"  # not a stage: how many scans shared the scan's batch


def decompose(
    readers: dict[str, list[float]], system: dict[str, list[float]], since: float = 0.0
) -> dict[str, tuple[float, float, float, float]]:
    """Per stage (and ``total``, and :data:`BATCH` in scans): p50, p90, p99 over the
    scans seen on both sides and due at ``since`` or later (after the warm-up), then the
    mean over the slowest 1 % of those scans (by total): where the p99 goes.

    ``readers``: key → [due, sent, acked]; ``system``: key → [received, batch started,
    committed, published, scans in the batch]."""
    rows: list[tuple[float, ...]] = []  # per scan: total, each stage (ms), batch size
    for key, (due, sent, acked) in readers.items():
        stamps = system.get(key)
        if stamps is None or not acked or not all(stamps) or due < since:
            continue
        received, started, committed, published, size = stamps
        points = (due, sent, received, started, committed, published, acked)
        stages = [(end - start) * 1000 for start, end in pairwise(points)]
        rows.append(((acked - due) * 1000, *stages, size))
    if not rows:
        return {}
    slowest = sorted(rows, key=lambda r: r[0])[-max(1, len(rows) // 100) :]
    out: dict[str, tuple[float, float, float, float]] = {}
    for i, name in enumerate(("total", *STAGES, BATCH)):
        values = [r[i] for r in rows]
        tail = sum(r[i] for r in slowest) / len(slowest)
        out[name] = (percentile(values, 50), percentile(values, 90), percentile(values, 99), tail)
    return out


def render(title: str, stages: dict[str, tuple[float, ...]]) -> list[str]:
    out = [title + " — p50, p90, p99 ; moyenne des 1 % les plus lentes / mean of the slowest 1 %"]
    for name, (p50, p90, p99, tail) in stages.items():
        unit = "" if name == BATCH else " ms"
        out.append(
            f"    {name:<20} p50 {p50:6.2f}   p90 {p90:6.2f}   p99 {p99:6.2f}"
            f"   1 % {tail:6.2f}{unit}"
        )
    return out
