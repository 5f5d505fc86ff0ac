"""The custody ledger in SQL: append hash-chained EPCIS events, read them, verify them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from reemploi.domain.chain import (
    GENESIS,
    ChainEntry,
    ChainProblem,
    canonical_document,
    columns_text,
    entry_hash,
    verify_chain,
)
from reemploi.domain.event_shape import EventShape
from reemploi.domain.eventhash import event_hash

from .db.fastpath import FastSQL, Later
from .db.tables import custody_events, ledger_head

# Stored columns besides the document that the entry hash covers.
CHAINED_COLUMNS = (
    "event_id",
    "event_time",
    "recorded_at",
    "asset_id",
    "step",
    "state_from",
    "state_to",
    "site_from",
    "site_to",
)


@dataclass(frozen=True)
class NewEvent:
    """A custody event ready to be chained (document is the EPCIS event dict; ``shape``,
    when the document was made by one, writes its text and hash from cached parts)."""

    document: dict[str, Any]
    event_time: datetime
    recorded_at: datetime
    asset_id: int | None
    step: str
    state_from: str | None
    state_to: str
    site_from: str | None
    site_to: str
    shape: EventShape | None = None


def lock_head(conn: Connection) -> None:
    """Lock the chain's head now, until the transaction ends, before touching any asset.
    Every writer takes its locks in this order — the head, then the assets — so that two
    writers never wait for each other in a circle (PostgreSQL would end one of them as a
    deadlock, after a second's wait). SQLite has one writer at a time: no lock to take."""
    conn.execute(select(ledger_head.c.id).where(ledger_head.c.id == 1).with_for_update())


def read_head(fast: FastSQL) -> Later:
    """Send the read of the chain's head, locked until the transaction ends (``FOR
    UPDATE`` on PostgreSQL; SQLite's transaction holds the lock) so that concurrent
    writers serialise on the chain. Sent early, it can share a round trip with the
    caller's other reads (see :meth:`FastSQL.later`)."""
    lock = " FOR UPDATE" if fast.postgres else ""
    return fast.later("SELECT count, last_hash FROM ledger_head WHERE id = 1" + lock)


@dataclass(frozen=True)
class Head:
    """The chain's head: how many events it holds, and the last one's entry hash."""

    count: int
    last_hash: str

    @classmethod
    def of(cls, rows: Sequence[tuple[Any, ...]]) -> Head | None:
        """The head from the rows of :func:`read_head` (None: no event chained yet)."""
        return cls(int(rows[0][0]), str(rows[0][1])) if rows else None


@dataclass(frozen=True)
class Appended:
    positions: list[int]
    head: Head  # the chain's head once they are in


def append(
    target: Connection | FastSQL, events: Sequence[NewEvent], head_read: Later | None = None
) -> list[int]:
    """Chain and insert ``events`` inside the caller's transaction; return their positions.

    ``target``: the connection, or the caller's :class:`FastSQL` on it (its statements
    then go with the caller's: same pipeline, same transaction start); ``head_read``:
    the head, already asked for by :func:`read_head` in this transaction (else it is
    read here).
    """
    return extend(target, events, head_read).positions if events else []


def extend(
    target: Connection | FastSQL, events: Sequence[NewEvent], head_read: Later | None = None
) -> Appended:
    """:func:`append`, also telling the chain's new head (``events`` must not be empty)."""
    if not events:
        raise ValueError("extend: no events")
    fast = target if isinstance(target, FastSQL) else FastSQL(target)
    head = Head.of((head_read or read_head(fast)).rows())
    if head is None:
        fast.run(  # plain SQL: this may run inside FastSQL.pipelined()
            "INSERT INTO ledger_head (id, count, last_hash) VALUES (1, 0, :genesis)",
            {"genesis": GENESIS},
        )
        count, prev = 0, GENESIS
    else:
        count, prev = head.count, head.last_hash
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for new in events:
        count += 1
        doc = dict(new.document)
        doc.setdefault("recordTime", _iso(new.recorded_at))
        rendered = new.shape.render(doc) if new.shape is not None else None
        text, ehash = rendered or (canonical_document(doc), event_hash(doc))
        row: dict[str, Any] = {
            "position": count,
            "event_id": doc["eventID"],
            "event_hash": ehash,
            "event_time": new.event_time,
            "recorded_at": new.recorded_at,
            "asset_id": new.asset_id,
            "step": new.step,
            "state_from": new.state_from,
            "state_to": new.state_to,
            "site_from": new.site_from,
            "site_to": new.site_to,
            "document": text,
            "prev_hash": prev,
        }
        link = entry_hash(prev, count, ehash, text, columns_text(row[c] for c in CHAINED_COLUMNS))
        row["entry_hash"] = link
        rows.append(row)
        positions.append(count)
        prev = link
    fast.insert(custody_events, rows)
    fast.run(
        "UPDATE ledger_head SET count = :count, last_hash = :last WHERE id = 1",
        {"count": count, "last": prev},
    )
    return Appended(positions, Head(count, prev))


def next_positions(head_read: Later, count: int) -> list[int]:
    """The positions :func:`extend` gives the next ``count`` events after the head
    ``head_read`` answers."""
    head = Head.of(head_read.rows())
    start = head.count if head is not None else 0
    return list(range(start + 1, start + 1 + count))


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _entries(conn: Connection, batch: int = 5000) -> Iterator[ChainEntry]:
    last = 0
    cols = custody_events.c
    while True:
        rows = conn.execute(
            select(
                cols.position,
                cols.event_hash,
                cols.document,
                cols.prev_hash,
                cols.entry_hash,
                *(cols[name] for name in CHAINED_COLUMNS),
            )
            .where(cols.position > last)
            .order_by(cols.position)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield ChainEntry(
                int(row.position),
                str(row.event_id),
                str(row.event_hash),
                str(row.document),
                str(row.prev_hash),
                str(row.entry_hash),
                columns_text(row._mapping[name] for name in CHAINED_COLUMNS),
            )
        last = int(rows[-1].position)


def verify(conn: Connection) -> list[ChainProblem]:
    """Re-check the whole chain; an empty list means the ledger is intact."""
    head = conn.execute(select(ledger_head.c.count, ledger_head.c.last_hash)).first()
    count, last = (int(head[0]), str(head[1])) if head else (0, GENESIS)
    return verify_chain(_entries(conn), count, last, event_hash)
