"""Durable ingest counters (one row per name), bumped in the batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..db.tables import ingest_counters


def bump(conn: Connection, counts: Mapping[str, int]) -> None:
    if not counts:
        return
    rows = [{"name": name, "count": n} for name, n in sorted(counts.items()) if n]
    if not rows:
        return
    dialect = conn.dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(ingest_counters)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ingest_counters.c.name],
        set_={"count": ingest_counters.c.count + stmt.excluded.count},
    )
    conn.execute(stmt, rows)


def read_all(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(ingest_counters.c.name, ingest_counters.c.count))
    return {name: int(count) for name, count in rows}
