"""The durable outbox: batches of line protocol waiting for InfluxDB, in a SQLite WAL file.

A batch is written here before any attempt to send it and deleted only once InfluxDB has
acknowledged it, so neither an outage nor a restart loses points (a crash loses at most
what was still in memory, and a backfill from the ledger brings that back). Batches that
InfluxDB refuses as malformed move to ``rejected`` instead of blocking the queue forever.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ns INTEGER NOT NULL,
    points INTEGER NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    rejected_ns INTEGER NOT NULL,
    points INTEGER NOT NULL,
    body TEXT NOT NULL,
    error TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PendingBatch:
    id: int
    created_ns: int
    points: int
    body: str
    attempts: int


@dataclass(frozen=True)
class OutboxStats:
    pending_batches: int
    pending_points: int
    oldest_created_ns: int | None
    rejected_batches: int
    rejected_points: int


class Outbox:
    """``Outbox(path)``; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, bodies: Sequence[tuple[str, int]]) -> None:
        """Store ``(line-protocol text, number of points)`` pairs in one transaction."""
        if not bodies:
            return
        now = time.time_ns()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO pending (created_ns, points, body) VALUES (?, ?, ?)",
                    [(now, points, body) for body, points in bodies],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def take(self, max_points: int) -> list[PendingBatch]:
        """The oldest batches, as many as fit in ``max_points`` (at least one)."""
        with self._lock:
            sizes = self._db.execute(
                "SELECT id, points FROM pending ORDER BY id LIMIT 1000"
            ).fetchall()
            chosen: list[int] = []
            total = 0
            for batch_id, points in sizes:
                if chosen and total + points > max_points:
                    break
                chosen.append(batch_id)
                total += points
            if not chosen:
                return []
            rows = self._db.execute(
                "SELECT id, created_ns, points, body, attempts FROM pending "
                "WHERE id BETWEEN ? AND ? ORDER BY id",
                (chosen[0], chosen[-1]),
            ).fetchall()
        return [PendingBatch(*row) for row in rows]

    def delete(self, ids: Sequence[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE pending SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                [(error, i) for i in ids],
            )

    def reject(self, ids: Sequence[int], error: str) -> None:
        """Move batches to ``rejected`` (kept for inspection and manual replay)."""
        now = time.time_ns()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for batch_id in ids:
                    self._db.execute(
                        "INSERT INTO rejected (id, created_ns, rejected_ns, points, body, error) "
                        "SELECT id, created_ns, ?, points, body, ? FROM pending WHERE id = ?",
                        (now, error, batch_id),
                    )
                    self._db.execute("DELETE FROM pending WHERE id = ?", (batch_id,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def requeue_rejected(self) -> int:
        """Put every rejected batch back in the queue (after fixing the cause); returns how many."""
        with self._lock:
            self._db.execute("BEGIN")
            count = self._db.execute(
                "INSERT INTO pending (created_ns, points, body) "
                "SELECT created_ns, points, body FROM rejected ORDER BY id"
            ).rowcount
            self._db.execute("DELETE FROM rejected")
            self._db.execute("COMMIT")
        return count

    def rejected_errors(self, limit: int = 10) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT error FROM rejected ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [row[0] for row in rows]

    def stats(self) -> OutboxStats:
        with self._lock:
            pending = self._db.execute(
                "SELECT count(*), coalesce(sum(points), 0), min(created_ns) FROM pending"
            ).fetchone()
            rejected = self._db.execute(
                "SELECT count(*), coalesce(sum(points), 0) FROM rejected"
            ).fetchone()
        return OutboxStats(pending[0], pending[1], pending[2], rejected[0], rejected[1])
