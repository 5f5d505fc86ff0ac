"""From the ledger to the time series: custody transfers, stock snapshots, device health
and ingest metrics handed to :class:`~.timeseries.TimeSeriesWriter`.

The ledger is the system of record: :func:`transfers` rebuilds the same records (same
timestamps and tags, hence the same points) live after each commit and later for a
backfill of any period. :class:`FlowRecorder` runs beside ingest on its own thread, so
that a slow or absent InfluxDB never delays an ack.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import aliased

from .db.tables import assets, custody_events, sites
from .impact import co2e_avoided_kg, outcome
from .ingest.counters import read_all
from .ingest.pipeline import BatchResult
from .queries import REUSABLE_STATES
from .timeseries import (
    CustodyTransfer,
    DeviceHealth,
    GeoPoint,
    IngestMetrics,
    StockSnapshot,
    TimeSeriesWriter,
)

log = logging.getLogger("reemploi.flows")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def transfers(
    conn: Connection,
    *,
    positions: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[CustodyTransfer]:
    """One :class:`CustodyTransfer` per ledger row (by position, or by event time)."""
    ev = custody_events.c
    prev = aliased(custody_events)
    site_from, site_to = aliased(sites), aliased(sites)
    previous = (
        select(prev.c.event_time, prev.c.step)
        .where(prev.c.asset_id == ev.asset_id, prev.c.position < ev.position)
        .order_by(prev.c.position.desc())
        .limit(1)
        .correlate(custody_events)
    )
    q = (
        select(
            ev.position,
            ev.event_time,
            ev.asset_id,
            ev.step,
            ev.site_from,
            ev.site_to,
            ev.document,
            assets.c.category,
            assets.c.weight_kg,
            site_from.c.organisation_id.label("org_from"),
            site_from.c.latitude.label("lat_from"),
            site_from.c.longitude.label("lon_from"),
            site_to.c.organisation_id.label("org_to"),
            site_to.c.latitude.label("lat_to"),
            site_to.c.longitude.label("lon_to"),
            previous.with_only_columns(prev.c.event_time).scalar_subquery().label("prev_time"),
            previous.with_only_columns(prev.c.step).scalar_subquery().label("prev_step"),
        )
        .join(assets, assets.c.id == ev.asset_id)
        .join(site_to, site_to.c.id == ev.site_to)
        .outerjoin(site_from, site_from.c.id == ev.site_from)
        .order_by(ev.position)
    )
    if positions is not None:
        q = q.where(ev.position.in_(list(positions)))
    if since is not None:
        q = q.where(ev.event_time >= since)
    if until is not None:
        q = q.where(ev.event_time < until)
    for row in conn.execute(q):
        biz_step = json.loads(row.document).get("bizStep", row.step)
        yield CustodyTransfer(
            time=_utc(row.event_time),
            asset_id=str(row.asset_id),
            category=row.category,
            step=biz_step,
            from_site=row.site_from or row.site_to,
            to_site=row.site_to,
            from_org=row.org_from or row.org_to,
            to_org=row.org_to,
            weight_kg=float(row.weight_kg or 0.0),
            co2e_avoided_kg=co2e_avoided_kg(row.category, row.step),
            ledger_seq=int(row.position),
            outcome=outcome(row.step),
            previous_time=_utc(row.prev_time) if row.prev_time is not None else None,
            previous_step=row.prev_step,
            from_location=GeoPoint(row.lat_from, row.lon_from)
            if row.lat_from is not None
            else None,
            to_location=GeoPoint(row.lat_to, row.lon_to),
        )


def stock_snapshots(conn: Connection, when: datetime) -> list[StockSnapshot]:
    """Reusable units per site, category and grade — zeros included for every site and
    category seen, so that an emptied shelf shows as 0, not as a gap."""
    counts = {
        (r.holder_site_id, r.category, r.grade or "?"): int(r.n)
        for r in conn.execute(
            select(
                assets.c.holder_site_id, assets.c.category, assets.c.grade, func.count().label("n")
            )
            .where(assets.c.state.in_([s.value for s in REUSABLE_STATES]))
            .group_by(assets.c.holder_site_id, assets.c.category, assets.c.grade)
        )
    }
    site_rows = {r.id: r for r in conn.execute(select(sites))}
    categories = sorted({c for (_, c, _) in counts} | {"laptop", "desktop", "screen", "phone"})
    out: list[StockSnapshot] = []
    for site_id, site in sorted(site_rows.items()):
        grades = sorted({g for (s, _, g) in counts if s == site_id} | {"?"})
        for category in categories:
            for grade in grades:
                out.append(
                    StockSnapshot(
                        when,
                        site_id,
                        category,
                        grade,
                        counts.get((site_id, category, grade), 0),
                        site.organisation_id,
                        GeoPoint(site.latitude, site.longitude),
                    )
                )
    return out


class FlowRecorder:
    """Feeds the writer: transfers after each committed batch, device health from status
    messages, and every ``interval_s`` a stock snapshot and the ingest counters."""

    def __init__(self, engine: Engine, writer: TimeSeriesWriter, interval_s: float = 60.0) -> None:
        self.engine = engine
        self.writer = writer
        self.interval_s = interval_s
        self._queue: queue.Queue[BatchResult | None] = queue.Queue()
        self._stop = threading.Event()
        self._last_counts: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="flow-recorder", daemon=True)

    def on_batch(self, result: BatchResult) -> None:
        """Called by ingest after a commit; returns at once."""
        if result.live or result.statuses:
            self._queue.put(result)

    def start(self) -> FlowRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def snapshot(self) -> None:
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            self.writer.record_many(stock_snapshots(conn, now))
            counts = read_all(conn)
        delta = {k: v - self._last_counts.get(k, 0) for k, v in counts.items()}
        self._last_counts = counts
        self.writer.record(
            IngestMetrics(
                time=now,
                interval_s=self.interval_s,
                scans_received=delta.get("messages", 0),
                scans_accepted=delta.get("accepted", 0),
                scans_duplicate=delta.get("duplicate", 0),
                scans_rejected=sum(v for k, v in delta.items() if k.startswith("rejected:")),
                custody_events=sum(v for k, v in delta.items() if k.startswith("event:")),
            )
        )

    def _run(self) -> None:
        next_snapshot = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_snapshot:
                try:
                    self.snapshot()
                except Exception:
                    log.exception("stock snapshot failed")
                next_snapshot = time.monotonic() + self.interval_s
            try:
                item = self._queue.get(timeout=max(0.05, next_snapshot - time.monotonic()))
            except queue.Empty:
                continue
            if item is None:
                return
            try:
                self._record(item)
            except Exception:
                log.exception("recording flows failed")

    def _record(self, result: BatchResult) -> None:
        for site, status, when in result.statuses:
            self.writer.record(DeviceHealth.from_status(status, site, when))
        positions = [event.position for event in result.live]
        if positions:
            with self.engine.connect() as conn:
                self.writer.record_many(list(transfers(conn, positions=positions)))


def health(writer: TimeSeriesWriter | None) -> dict[str, Any]:
    if writer is None:
        return {"configured": False}
    return {"configured": True, **writer.health().as_dict()}


__all__ = ["FlowRecorder", "health", "stock_snapshots", "transfers"]
