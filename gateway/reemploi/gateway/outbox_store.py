"""The outbox on disk: one SQLite file in WAL mode, written before anything is forwarded.

A message is acknowledged to the local broker only after the transaction that holds it
has committed, so a crash (even SIGKILL) loses nothing: the local broker redelivers what
was not acknowledged, and whatever was committed is replayed at start-up.

A file that SQLite cannot read, or that fails ``PRAGMA quick_check``, is moved aside
(``<name>.corrupt-<UTC time>``, with its ``-wal``/``-shm``) and a fresh outbox is
created; :attr:`OutboxStore.quarantined` says so, health reports it, and
``reemploi-gateway replay --from <file>`` salvages what can still be read from it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .outbox import Entry

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_at REAL NOT NULL,
    held INTEGER NOT NULL DEFAULT 0
);
"""


class StoreError(Exception):
    """The outbox file cannot be used (the disk's or the file's fault, not a bug)."""


class StoreFull(StoreError):
    """SQLite reported a full disk: the message was not stored."""


@dataclass(frozen=True)
class Quarantine:
    """A corrupted outbox file that was moved aside at start-up."""

    original: str
    moved_to: str
    reason: str
    at: float


@dataclass(frozen=True)
class NewMessage:
    key: str
    topic: str
    payload: bytes
    received_at: float


def _store_error(exc: sqlite3.OperationalError) -> StoreError:
    """SQLITE_FULL ("database or disk is full") → :class:`StoreFull`, else StoreError."""
    if "full" in str(exc).lower():
        return StoreFull(str(exc))
    return StoreError(str(exc))


def entry_size(topic: str, payload: bytes) -> int:
    return len(topic) + len(payload) + 64  # row overhead, roughly


class OutboxStore:
    """``OutboxStore(path)`` opens (or creates) the outbox, quarantining a corrupt file."""

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.quarantined: Quarantine | None = None
        self.synchronous = synchronous
        try:
            self._db = self._open(synchronous)
        except sqlite3.DatabaseError as exc:
            self.quarantined = self._quarantine(str(exc))
            self._db = self._open(synchronous)

    # ------------------------------------------------------------ opening

    def _open(self, synchronous: str) -> sqlite3.Connection:
        # timeout: `replay --release-held` may write while the gateway runs
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise sqlite3.DatabaseError(f"journal mode {mode} instead of wal")
            db.execute(f"PRAGMA synchronous={synchronous}")
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"schema version {row[0]!r}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _quarantine(self, reason: str) -> Quarantine:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                source.rename(Path(str(moved) + suffix))
        return Quarantine(str(self.path), str(moved), reason, time.time())

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ writing

    def add_many(self, messages: Sequence[NewMessage]) -> list[Entry | None]:
        """Store messages in one transaction; ``None`` where the key was already there.

        Raises :class:`StoreFull` when the disk is full (nothing of the batch is kept).
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            result = [self._insert(msg) for msg in messages]
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise _store_error(exc) from exc
        return result

    def add_numbered(self, counter: str, make: Callable[[int], NewMessage]) -> Entry | None:
        """Take the next value of a durable counter and store ``make(value)``, atomically:
        a full disk neither loses the message nor burns the number."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (counter,)).fetchone()
            value = int(row[0]) + 1 if row else 0
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (counter, str(value)))
            entry = self._insert(make(value))
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise _store_error(exc) from exc
        return entry

    def _insert(self, msg: NewMessage) -> Entry | None:
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (key, topic, payload, received_at) VALUES (?, ?, ?, ?)",
            (msg.key, msg.topic, msg.payload, msg.received_at),
        )
        if cursor.rowcount == 1 and cursor.lastrowid is not None:
            size = entry_size(msg.topic, msg.payload)
            return Entry(cursor.lastrowid, msg.received_at, size, sys.intern(msg.topic))
        return None

    def delete_delivered(self, ids: Sequence[int]) -> None:
        """Forget delivered messages. No fsync of its own: if a crash loses this delete,
        the messages are sent again and the central side drops the duplicates."""
        if not ids:
            return
        self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # even a delete needs room in the WAL
            self._rollback()
            raise _store_error(exc) from exc
        finally:
            self._db.execute(f"PRAGMA synchronous={self.synchronous}")

    def hold(self, ids: Sequence[int]) -> None:
        try:
            self._db.executemany("UPDATE outbox SET held = 1 WHERE id = ?", [(i,) for i in ids])
        except sqlite3.OperationalError as exc:
            raise _store_error(exc) from exc

    def release_held(self) -> int:
        """Mark every held message as queued again; returns how many were held."""
        try:
            return self._db.execute("UPDATE outbox SET held = 0 WHERE held = 1").rowcount
        except sqlite3.OperationalError as exc:
            raise _store_error(exc) from exc

    def held_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox WHERE held = 1").fetchone()[0])

    def next_counter(self, name: str) -> int:
        """A durable counter (the gateway's own message ``seq``), starting at 0."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            value = int(row[0]) + 1 if row else 0
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value)))
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise _store_error(exc) from exc
        return value

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # no transaction was open
            self._db.execute("ROLLBACK")

    # ------------------------------------------------------------ reading

    def load(self) -> tuple[list[Entry], set[int]]:
        """Every stored entry, oldest first, and the ids held after a refusal."""
        entries: list[Entry] = []
        held: set[int] = set()
        rows = self._db.execute(
            "SELECT id, received_at, length(topic) + length(payload) + 64, held, topic"
            " FROM outbox ORDER BY id"
        )
        for entry_id, received_at, size, is_held, topic in rows:
            entries.append(Entry(entry_id, received_at, size, sys.intern(topic)))
            if is_held:
                held.add(entry_id)
        return entries, held

    def messages(self, ids: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        """Topic and payload of each id, fetched in one query per 500 ids."""
        found: dict[int, tuple[str, bytes]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, topic, payload FROM outbox WHERE id IN ({marks})", chunk
            )
            for entry_id, topic, payload in rows:
                found[entry_id] = (topic, bytes(payload))
        return found

    def db_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])


def salvage(path: str | Path) -> Iterator[NewMessage]:
    """Read whatever rows a (possibly corrupted) outbox file still yields, oldest first."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = db.execute("SELECT key, topic, payload, received_at FROM outbox ORDER BY id")
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.DatabaseError:
                return
            if row is None:
                return
            yield NewMessage(row[0], row[1], bytes(row[2]), row[3])
    except sqlite3.DatabaseError:
        return
    finally:
        db.close()
