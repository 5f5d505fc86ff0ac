"""Durable ingest counters (one row per name), bumped in the batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from sqlalchemy import Connection, select

from ..db.fastpath import FastSQL
from ..db.tables import ingest_counters


@lru_cache(maxsize=64)
def _bump_sql(names: int) -> str:
    """One upsert of ``names`` rows (``:name0, :n0, …``), the same on SQLite (3.24+) and
    PostgreSQL: a batch bumps all its counters in one statement — one execution instead
    of one per name (a one-row upsert: ≈ 60 µs of PostgreSQL server CPU, see
    docs/benchmarks.md, twenty-third session). The rows go in name order, as every writer
    takes them, so two writers lock the same rows in the same order."""
    values = ", ".join(f"(:name{i}, :n{i})" for i in range(names))
    return (
        f"INSERT INTO ingest_counters (name, count) VALUES {values} "
        "ON CONFLICT (name) DO UPDATE SET count = ingest_counters.count + excluded.count"
    )


def bump(target: Connection | FastSQL, counts: Mapping[str, int]) -> None:
    """Add ``counts`` (zeros skipped) to the stored counters, in one statement."""
    rows = [(name, n) for name, n in sorted(counts.items()) if n]
    if not rows:
        return
    params: dict[str, object] = {}
    for i, (name, n) in enumerate(rows):
        params[f"name{i}"], params[f"n{i}"] = name, n
    fast = target if isinstance(target, FastSQL) else FastSQL(target)
    fast.run(_bump_sql(len(rows)), params)


def read_all(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(ingest_counters.c.name, ingest_counters.c.count))
    return {name: int(count) for name, count in rows}
