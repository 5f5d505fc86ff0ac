"""The time-series writer: records in, batches out to InfluxDB, without ever holding up the ingest.

``record()`` only appends to an in-memory queue and wakes a background thread; it never
blocks on InfluxDB, never raises, and costs a few microseconds. The thread turns records
into line protocol, stores whatever is queued as batches in the durable :class:`Outbox`
(group commit: one SQLite transaction per wake-up), then sends the oldest batches. A
failed send leaves them in the outbox and waits (exponential backoff with jitter) before
the next attempt; an acknowledged send deletes them. ``health()`` says, in French first,
what is wrong and how much is waiting.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .lineprotocol import InvalidPoint, Point, encode_point
from .lines import lines_of
from .outbox import Outbox, PendingBatch
from .records import Record
from .sinks import Sink, SinkError, SinkRejectedData, SinkUnavailable

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_RETRYING = "retrying"  # InfluxDB unreachable or failing: points wait in the outbox
STATUS_REFUSED = "refused"  # InfluxDB refuses our writes (token, database, bucket)
STATUS_STOPPED = "stopped"
_RECENT_SITES_LIMIT = 50_000


@dataclass(frozen=True)
class WriterHealth:
    """What the server's health endpoint shows about the time-series side."""

    status: str
    message: str
    target: str
    pending_points: int
    pending_batches: int
    oldest_pending_s: float | None
    queued_records: int
    written_points: int
    rejected_batches: int
    rejected_points: int
    invalid_records: int
    consecutive_failures: int
    last_success: str | None
    last_error: str | None
    last_error_kind: str | None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Backoff:
    """Delays between failed attempts: ``initial_s`` doubling up to ``max_s``, ±``jitter``."""

    initial_s: float = 0.5
    max_s: float = 60.0
    jitter: float = 0.2

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.max_s, self.initial_s * 2 ** max(0, failures - 1))
        return max(0.0, float(base * (1 + self.jitter * (2 * rand() - 1))))


class TimeSeriesWriter:
    """``writer = TimeSeriesWriter(sink, "var/timeseries-outbox.db"); writer.start()``.

    Then ``writer.record(CustodyTransfer(...))`` from the ingest, ``writer.health()`` from
    the health endpoint, ``writer.close()`` at shutdown (sends what it can within the
    timeout; the rest stays in the outbox for the next start).
    """

    def __init__(
        self,
        sink: Sink,
        outbox: Outbox | str | Path,
        *,
        batch_size: int = 5000,
        linger_s: float = 0.05,
        backoff: Backoff | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.sink = sink
        self.outbox = outbox if isinstance(outbox, Outbox) else Outbox(outbox)
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.backoff = backoff or Backoff()
        self._queue: deque[Record | Point] = deque()
        self._wake = threading.Event()  # records queued: the spooler has work
        self._send_wake = threading.Event()  # batches stored: the sender has work
        self._idle = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._spooling = False
        self._sending = False
        self._next_attempt = 0.0
        self._failures = 0
        self._written_points = 0
        self._invalid_records = 0
        self._last_success: datetime | None = None
        self._last_error: SinkError | None = None
        self._last_invalid: str | None = None
        self._recent_sites: set[str] = set()  # site lines already spooled (identical → skip)

    # ------------------------------------------------------------ caller side

    def start(self) -> TimeSeriesWriter:
        """Two threads: one encodes and stores, one sends; they overlap under load."""
        if not self._threads:
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._spool_loop, name="timeseries-spool", daemon=True),
                threading.Thread(target=self._send_loop, name="timeseries-send", daemon=True),
            ]
            for thread in self._threads:
                thread.start()
            self._send_wake.set()  # whatever a previous run left in the outbox
        return self

    def record(self, record: Record) -> None:
        """Queue one record. Never blocks on InfluxDB, never raises."""
        self._queue.append(record)
        self._wake.set()

    def record_many(self, records: Iterable[Record]) -> None:
        self._queue.extend(records)
        self._wake.set()

    def write_points(self, points: Iterable[Point]) -> None:
        """Queue points built elsewhere (the backfill, tests)."""
        self._queue.extend(points)
        self._wake.set()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything queued so far has reached InfluxDB; False on timeout.

        Also cuts short a backoff wait: the next attempt is made at once.
        """
        deadline = time.monotonic() + timeout_s
        self._next_attempt = 0.0
        self._wake.set()
        self._send_wake.set()
        with self._idle:
            while True:
                busy = self._queue or self._spooling or self._sending
                if not busy and self.outbox.stats().pending_batches == 0:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._threads:
                    return False
                self._idle.wait(min(remaining, 0.05))

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the threads after a last attempt; unsent points stay in the outbox."""
        if self._threads:
            self.flush(timeout_s)
            self._stopping = True
            self._wake.set()
            self._send_wake.set()
            for thread in self._threads:
                thread.join(timeout_s + 5)
            self._threads = []
        self._spool()  # anything still in memory goes to disk
        self.outbox.close()
        self.sink.close()

    def health(self) -> WriterHealth:
        stats = self.outbox.stats()
        oldest = None
        if stats.oldest_created_ns is not None:
            oldest = max(0.0, (time.time_ns() - stats.oldest_created_ns) / 1e9)
        error = self._last_error
        if not self._threads:
            status = STATUS_STOPPED
            message = "Écriture des séries temporelles arrêtée / time-series writer stopped"
        elif error is not None and self._failures > 0:
            status = STATUS_REFUSED if error.kind == "refused" else STATUS_RETRYING
            message = (
                f"{error} — {stats.pending_points} points en attente dans l'outbox, "
                f"nouvel essai automatique / {stats.pending_points} points kept, retrying"
            )
        else:
            status = STATUS_OK
            message = "InfluxDB reçoit les points / InfluxDB is receiving points"
            if stats.rejected_batches:
                message += (
                    f" ; {stats.rejected_batches} lots rejetés à examiner "
                    f"/ {stats.rejected_batches} rejected batches to inspect"
                )
        invalid_kind = "invalid_record" if self._last_invalid else None
        return WriterHealth(
            status=status,
            message=message,
            target=self.sink.describe(),
            pending_points=stats.pending_points,
            pending_batches=stats.pending_batches,
            oldest_pending_s=oldest,
            queued_records=len(self._queue),
            written_points=self._written_points,
            rejected_batches=stats.rejected_batches,
            rejected_points=stats.rejected_points,
            invalid_records=self._invalid_records,
            consecutive_failures=self._failures,
            last_success=self._last_success.isoformat() if self._last_success else None,
            last_error=str(error) if error else self._last_invalid,
            last_error_kind=error.kind if error else invalid_kind,
        )

    # ------------------------------------------------------------ background thread

    def _set_state(self, spooling: bool | None = None, sending: bool | None = None) -> None:
        with self._idle:
            if spooling is not None:
                self._spooling = spooling
            if sending is not None:
                self._sending = sending
            self._idle.notify_all()

    def _spool_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            self._set_state(spooling=True)
            try:
                if self.linger_s and 0 < len(self._queue) < self.batch_size:
                    time.sleep(self.linger_s)  # let a burst gather into one batch
                while self._queue and not self._stopping:
                    self._spool(max_batches=1)
                    self._send_wake.set()
            except Exception:  # a bug here must not kill the thread
                log.exception("time-series spooler failed")
            finally:
                self._set_state(spooling=False)

    def _send_loop(self) -> None:
        while True:
            timeout = None
            if self._failures:
                timeout = max(0.0, self._next_attempt - time.monotonic())
            self._send_wake.wait(timeout)
            self._send_wake.clear()
            if self._stopping:
                return
            if time.monotonic() < self._next_attempt:
                continue
            self._set_state(sending=True)
            try:
                self._send_pending()
            except Exception:
                log.exception("time-series sender failed")
            finally:
                self._set_state(sending=False)

    def _spool(self, max_batches: int | None = None) -> None:
        """Move what is queued in memory to the outbox, in batches of ``batch_size``."""
        bodies: list[tuple[str, int]] = []
        lines: list[str] = []
        while self._queue and (max_batches is None or len(bodies) < max_batches):
            item = self._queue.popleft()
            try:
                encoded = [encode_point(item)] if isinstance(item, Point) else lines_of(item)
                for line in encoded:
                    if line.startswith("site,"):
                        # the same site, place and day: writing it again changes nothing
                        if line in self._recent_sites:
                            continue
                        if len(self._recent_sites) >= _RECENT_SITES_LIMIT:
                            self._recent_sites.clear()
                        self._recent_sites.add(line)
                    lines.append(line)
            except (InvalidPoint, TypeError, ValueError, AttributeError) as exc:
                self._invalid_records += 1
                self._last_invalid = f"enregistrement invalide ignoré / invalid record: {exc}"
                log.warning("time-series record dropped: %s", exc)
                continue
            if len(lines) >= self.batch_size:
                bodies.append(("\n".join(lines), len(lines)))
                lines = []
        if lines:
            bodies.append(("\n".join(lines), len(lines)))
        self.outbox.append(bodies)

    def _send_pending(self) -> None:
        while not self._stopping:
            batches = self.outbox.take(self.batch_size)
            if not batches:
                return
            if not self._send(batches):
                return

    def _send(self, batches: list[PendingBatch]) -> bool:
        ids = [batch.id for batch in batches]
        try:
            self.sink.write("\n".join(batch.body for batch in batches))
        except SinkRejectedData as exc:
            if len(batches) > 1:  # find the bad batch, keep the good ones
                return all(self._send([batch]) for batch in batches)
            self.outbox.reject(ids, str(exc))
            self._last_error = exc
            log.error("time-series batch rejected: %s", exc)
            return True
        except SinkError as exc:
            self._failed(ids, exc)
            return False
        except Exception as exc:  # unexpected: treat as an outage, keep the points
            log.exception("time-series sink failed unexpectedly")
            self._failed(ids, SinkUnavailable(f"erreur inattendue / unexpected error: {exc!r}"))
            return False
        self.outbox.delete(ids)
        self._written_points += sum(batch.points for batch in batches)
        self._failures = 0
        self._last_error = None
        self._last_success = datetime.now(UTC)
        return True

    def _failed(self, ids: list[int], exc: SinkError) -> None:
        self._failures += 1
        self._last_error = exc
        self.outbox.mark_failed(ids, str(exc))
        delay = self.backoff.delay(self._failures)
        self._next_attempt = time.monotonic() + delay
        log.warning("time-series write failed (%s); next attempt in %.1f s", exc, delay)
