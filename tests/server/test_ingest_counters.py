"""The ingest counters: a batch's counts added to the stored ones, in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server_world import World

from reemploi.server.db.fastpath import FastSQL
from reemploi.server.ingest.counters import bump, read_all


class _CountingCursor:
    """The driver's cursor, counting the statements it runs (one per row of an
    ``executemany``) on ``ingest_counters``."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self.runs = 0

    def execute(self, sql: str, params: Any = None) -> Any:
        self.runs += "ingest_counters" in sql
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Any]) -> Any:
        self.runs += len(rows) if "ingest_counters" in sql else 0
        return self._cursor.executemany(sql, rows)


def test_a_batch_adds_all_its_counts_in_one_statement(world: World) -> None:
    runs = []
    with world.engine.connect() as conn:
        before = read_all(conn)
        conn.rollback()
        for counts in (
            {"test:b": 2, "test:a": 1, "test:zero": 0, "test:c": 5},
            {"test:a": 3, "test:d": 1},
            {"test:zero": 0},  # nothing to add: no statement
        ):
            with conn.begin():
                fast = FastSQL(conn)
                cursor = _CountingCursor(fast.cursor)
                fast.cursor = cursor
                bump(fast, counts)
            runs.append(cursor.runs)
        after = read_all(conn)
    added = {name: n - before.get(name, 0) for name, n in after.items()}
    assert {name: n for name, n in added.items() if n} == {
        "test:a": 4,
        "test:b": 2,
        "test:c": 5,
        "test:d": 1,
    }
    assert "test:zero" not in after
    assert runs == [1, 1, 0]
