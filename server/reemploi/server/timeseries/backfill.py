"""Rebuild a period of the time series from the ledger, idempotently.

Points are keyed by measurement, tags and timestamp; the records-to-points conversion is
deterministic, so writing the same ledger rows again overwrites the same points with the
same values. Running a backfill twice, or over a period the live writer already covered,
never doubles a count. A backfill adds and overwrites; it does not delete points that the
ledger does not have (see docs/flows.md to empty a period first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .lineprotocol import encode_point
from .records import CustodyTransfer, Record, StockSnapshot, points_of, time_ns
from .sinks import Sink


@dataclass(frozen=True)
class BackfillReport:
    records_read: int
    records_in_period: int
    points_written: int
    batches: int


def _moment(record: Record) -> datetime:
    return record.time


def backfill(
    records: Iterable[CustodyTransfer | StockSnapshot | Record],
    sink: Sink,
    *,
    start: datetime,
    end: datetime,
    batch_size: int = 5000,
) -> BackfillReport:
    """Write the points of every record whose time is in ``[start, end)``, straight to ``sink``.

    Synchronous: a :class:`~.sinks.SinkError` stops the backfill and propagates (a command
    should fail loudly); running it again is always safe.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    low, high = time_ns(start), time_ns(end)
    if high <= low:
        raise ValueError("end must be after start")
    read = kept = written = batches = 0
    lines: list[str] = []
    for record in records:
        read += 1
        if not low <= time_ns(_moment(record)) < high:
            continue
        kept += 1
        lines.extend(encode_point(point) for point in points_of(record))
        if len(lines) >= batch_size:
            sink.write("\n".join(lines))
            written += len(lines)
            batches += 1
            lines = []
    if lines:
        sink.write("\n".join(lines))
        written += len(lines)
        batches += 1
    return BackfillReport(read, kept, written, batches)
