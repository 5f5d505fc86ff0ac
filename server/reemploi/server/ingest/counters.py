"""Durable ingest counters (one row per name), bumped in the batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select

from ..db.fastpath import FastSQL
from ..db.tables import ingest_counters

# The same upsert runs on SQLite (3.24+) and PostgreSQL.
_BUMP = (
    "INSERT INTO ingest_counters (name, count) VALUES (:name, :n) "
    "ON CONFLICT (name) DO UPDATE SET count = ingest_counters.count + excluded.count"
)


def bump(target: Connection | FastSQL, counts: Mapping[str, int]) -> None:
    rows = [{"name": name, "n": n} for name, n in sorted(counts.items()) if n]
    if rows:
        fast = target if isinstance(target, FastSQL) else FastSQL(target)
        fast.run_many(_BUMP, rows)


def read_all(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(ingest_counters.c.name, ingest_counters.c.count))
    return {name: int(count) for name, count in rows}
