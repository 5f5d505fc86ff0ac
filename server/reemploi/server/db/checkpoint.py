"""WAL checkpoints mostly off the ingest writer's commit path (SQLite only).

SQLite checkpoints from inside a commit once the write-ahead log holds 1,000 pages: the
committing connection copies those pages into the database file — several milliseconds
of CPU and I/O that every scan waiting on that commit pays in its ack latency (the
slowest 1 % of batches under ``bench/ingest.py`` at 1,000 scans/s were these).

A :class:`Checkpointer` thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` every few tens of
milliseconds on a connection of its own. A passive checkpoint never blocks the writer, so
it copies the bulk of the log while ingest goes on. The writer keeps SQLite's automatic
checkpoint: when it triggers, only the few pages written since the last background pass
are left to copy, and the log can start over from its beginning. A checkpointer alone
would not do: with a writer that never pauses, the background pass never finds the log
fully copied, and the log grows without end.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("reemploi.db")

INTERVAL_S = 0.02


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Checkpointer:
    """A daemon thread checkpointing an SQLite database's WAL every ``interval_s``."""

    def __init__(self, engine: Engine, interval_s: float = INTERVAL_S) -> None:
        if not is_sqlite(engine):
            raise ValueError("checkpoints WAL : SQLite seulement")
        self.engine = engine
        self.interval_s = interval_s
        self.passes = 0
        self.pages_copied = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        if not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self, raw: Any) -> tuple[int, int, int]:
        """One passive checkpoint on DB-API connection ``raw``: (busy, log pages, copied)."""
        cur = raw.cursor()
        try:
            busy, frames, copied = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            cur.close()
        self.passes += 1
        self.pages_copied += max(int(copied), 0)
        return int(busy), int(frames), int(copied)

    def _loop(self) -> None:
        # A raw DB-API connection in autocommit: the engine's "begin" hook takes the
        # write lock (BEGIN IMMEDIATE), which a checkpoint must not hold.
        raw = self.engine.raw_connection()
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.run_once(raw.driver_connection)
                    self.last_error = None
                except Exception as exc:  # a failed pass is simply tried again next time
                    self.last_error = f"checkpoint WAL : {exc!r}"[:300]
                    log.warning(self.last_error)
        finally:
            with contextlib.suppress(Exception):
                raw.close()
