"""Where an ack's latency goes (``bench/ingest.py --trace``).

Each scan is followed through five stages, with ``time.perf_counter()`` stamps taken in
two processes (Linux: one monotonic clock for the whole machine):

* *programmé → envoyé* — the paced sender's own lag (measuring process);
* *envoyé → reçu* — broker, then the system's MQTT thread (until its ``on_message``);
* *reçu → validé* — waiting for the writer, then the batch's transaction and commit
  (with a writer process: the round trip to it included);
* *validé → publié* — acks handed to the client and PUBACKs sent;
* *publié → ack lu* — broker, then the reader's MQTT thread.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from _fleet import percentile

from reemploi.protocol import wire
from reemploi.server.ingest.mqtt import IngestService
from reemploi.server.ingest.pipeline import BatchResult

STAGES = (
    "programmé → envoyé",
    "envoyé → reçu",
    "reçu → validé",
    "validé → publié",
    "publié → ack lu",
)


class SutTracer:
    """Stamps each scan's key in the system under test, through public hooks only."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        self.stamps: dict[str, list[float]] = {}  # key → [received, committed, published]
        self._receive: Any = service.client.on_message
        service.client.on_message = self._on_message
        self._collect = service.writer.collect
        service.writer.collect = self._collected  # type: ignore[method-assign]
        service.on_batch = self._on_batch

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        key = _key_of(bytes(msg.payload))
        if key is not None:
            self.stamps[key] = [time.perf_counter(), 0.0, 0.0]
        self._receive(client, userdata, msg)

    def _collected(self) -> BatchResult:
        result = self._collect()
        now = time.perf_counter()
        for key in _ack_keys(result):
            if key in self.stamps:
                self.stamps[key][1] = now
        return result

    def _on_batch(self, result: BatchResult) -> None:
        now = time.perf_counter()
        for key in _ack_keys(result):
            if key in self.stamps:
                self.stamps[key][2] = now

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


def decompose(
    readers: dict[str, list[float]], system: dict[str, list[float]], since: float = 0.0
) -> dict[str, tuple[float, float, float]]:
    """Per stage (and ``total``): p50, p90, p99 in ms over the scans seen on both sides
    and due at ``since`` or later (after the warm-up).

    ``readers``: key → [due, sent, acked]; ``system``: key → [received, committed,
    published]."""
    columns: dict[str, list[float]] = {name: [] for name in ("total", *STAGES)}
    for key, (due, sent, acked) in readers.items():
        stamps = system.get(key)
        if stamps is None or not acked or not all(stamps) or due < since:
            continue
        received, committed, published = stamps
        points = (due, sent, received, committed, published, acked)
        columns["total"].append((acked - due) * 1000)
        for name, start, end in zip(STAGES, points, points[1:], strict=False):
            columns[name].append((end - start) * 1000)
    return {
        name: (percentile(v, 50), percentile(v, 90), percentile(v, 99))
        for name, v in columns.items()
        if v
    }


def render(title: str, stages: dict[str, tuple[float, float, float]]) -> list[str]:
    out = [title]
    for name, (p50, p90, p99) in stages.items():
        out.append(f"    {name:<20} p50 {p50:6.2f}   p90 {p90:6.2f}   p99 {p99:6.2f} ms")
    return out
