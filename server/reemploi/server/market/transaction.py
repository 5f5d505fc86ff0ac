"""Write transactions that survive SQLite's single writer: retry when the file is busy.

With SQLite in WAL mode a transaction that read before another one committed cannot
write (``database is locked`` / busy snapshot); it is retried from the start, and then
sees the other writer's result (a unit already reserved, a voucher already used).
PostgreSQL serialises on row locks and never needs the retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")


def _busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "locked" in text or "busy" in text


def write(engine: Engine, work: Callable[[Connection], T], attempts: int = 8) -> T:
    """Run ``work`` in one transaction, retrying it when SQLite reports a busy database."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as exc:
            if not _busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")
