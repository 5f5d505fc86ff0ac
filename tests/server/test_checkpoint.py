"""The WAL checkpointer copies the log in the background while a writer commits, the log
stays bounded, and nothing is lost."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from reemploi.server.db.checkpoint import Checkpointer
from reemploi.server.db.engine import WAL_AUTOCHECKPOINT_PAGES, make_engine


def _write_for(
    engine: Engine, wal: Path, seconds: float, pause_s: float, at_least_rows: int = 0
) -> tuple[int, int]:
    """Commit 20 rows of 2,000 bytes at a time for ``seconds``, and on until
    ``at_least_rows`` (a slow host); (rows written, largest log seen)."""
    largest = rows = 0
    with engine.connect() as conn:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or rows < at_least_rows:
            with conn.begin():
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": os.urandom(2000)}] * 20)
            rows += 20
            largest = max(largest, wal.stat().st_size)
            if pause_s:
                time.sleep(pause_s)
    return rows, largest


def _table(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}", "FULL")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
    return engine


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_background_passes_copy_the_log_and_it_starts_over(tmp_path: Path) -> None:
    # A writer that pauses between commits (a quiet hour): a pass copies the whole log
    # between two commits and the next one starts it over, long before SQLite's own
    # threshold.
    engine = _table(tmp_path)
    checkpointer = Checkpointer(engine, interval_s=0.05).start()
    try:
        rows, largest = _write_for(engine, tmp_path / "ledger.db-wal", 1.5, 0.02)
    finally:
        checkpointer.stop()
    assert checkpointer.passes > 10 and checkpointer.pages_copied > 0
    assert checkpointer.last_error is None
    assert largest < 4 * 1024 * 1024  # a tenth of the threshold's log
    assert _count(engine) == rows
    engine.dispose()


def test_a_writer_that_never_pauses_keeps_the_log_bounded(tmp_path: Path) -> None:
    # Passes never find the whole log copied while commits follow each other without a
    # pause: the commit that crosses SQLite's threshold checkpoints (most of it already
    # copied) and the log starts over instead of growing without end.
    engine = _table(tmp_path)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == (
            WAL_AUTOCHECKPOINT_PAGES
        )
    frame = 4096 + 24
    # written: at least four times SQLite's threshold (a slow host writes less in 3 s)
    enough = 4 * WAL_AUTOCHECKPOINT_PAGES * frame // 2000
    checkpointer = Checkpointer(engine, interval_s=0.05).start()
    try:
        rows, largest = _write_for(engine, tmp_path / "ledger.db-wal", 3.0, 0.0, enough)
    finally:
        checkpointer.stop()
    # The commit that crosses the threshold checkpoints, unless a background pass holds
    # the checkpoint lock at that moment: then the next commits try again, and the log goes
    # a little further (202 pages past it once, under CI's load, ≈ 17 commits here).
    assert largest <= WAL_AUTOCHECKPOINT_PAGES * 3 // 2 * frame  # bounded all the same
    assert rows * 2000 > 2 * largest  # more was written than the log ever held
    assert _count(engine) == rows
    engine.dispose()


def test_only_for_sqlite() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ValueError, match="SQLite"):
        Checkpointer(engine)
