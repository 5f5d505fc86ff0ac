"""Deduplication reads each device's sequence numbers as runs of index ranges: the runs
cover every number of the batch, and a queue flushed after an outage (old and new
numbers in one batch) is still judged number by number."""

from __future__ import annotations

from datetime import UTC, datetime

from server_world import LAPTOP_GIAI, PHONE_GIAI, RESOLVER, SCREEN_GIAI, World

from reemploi.protocol import wire
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline, seq_runs
from reemploi.server.registry import Registry

SITE, DEVICE = "cp-grenoble-hdv", "cp-grenoble-hdv-comptoir"


def test_runs_cover_every_number_and_split_at_gaps() -> None:
    pairs = {("a", 5), ("a", 7), ("a", 6), ("a", 500), ("b", 1), ("a", 70)}
    assert seq_runs(pairs) == [("a", 5, 70), ("a", 500, 500), ("b", 1, 1)]
    assert seq_runs(pairs, gap=10) == [("a", 5, 7), ("a", 70, 70), ("a", 500, 500), ("b", 1, 1)]
    assert seq_runs([]) == []


def _scan(seq: int, giai: str) -> Incoming:
    scan = wire.Scan(DEVICE, seq, wire.KIND_NDEF_URI, f"{RESOLVER}/8004/{giai}", None, None)
    return Incoming(wire.topic(SITE, DEVICE, "scan"), wire.encode_scan(scan), datetime.now(UTC))


def _results(pipeline: IngestPipeline, batch: list[Incoming]) -> list[tuple[int, str, str | None]]:
    acks = [wire.decode_ack(a.payload) for a in pipeline.process(batch).acks]
    return [(a.seq, a.result, a.reason) for a in acks]


def test_flushed_queue_mixing_old_and_new_numbers_is_judged_one_by_one(world: World) -> None:
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    assert _results(pipeline, [_scan(3, LAPTOP_GIAI)]) == [(3, "accepted", None)]
    # seq 3 again with other content (a replay), far from the new numbers 10_000…
    batch = [_scan(3, SCREEN_GIAI), _scan(10_000, SCREEN_GIAI), _scan(10_001, PHONE_GIAI)]
    assert _results(pipeline, batch) == [
        (3, "rejected", "replayed_seq"),
        (10_000, "accepted", None),
        (10_001, "accepted", None),
    ]
    # …and every number of that batch is now taken, including inside the gap's edges
    again = [_scan(10_000, LAPTOP_GIAI), _scan(9_999, LAPTOP_GIAI)]
    assert _results(pipeline, again) == [
        (10_000, "rejected", "replayed_seq"),
        (9_999, "accepted", "already_recorded"),
    ]
