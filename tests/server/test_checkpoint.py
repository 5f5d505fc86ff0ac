"""The WAL checkpointer copies the log in the background while a writer commits, the log
stays bounded, and nothing is lost."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from reemploi.server.db.checkpoint import Checkpointer
from reemploi.server.db.engine import make_engine


def test_background_passes_copy_the_log_while_a_writer_commits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}", "FULL")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
    checkpointer = Checkpointer(engine, interval_s=0.01).start()
    wal = tmp_path / "ledger.db-wal"
    largest = 0
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 1.5
            rows = 0
            while time.monotonic() < deadline:
                with conn.begin():
                    conn.execute(
                        text("INSERT INTO t (v) VALUES (:v)"), [{"v": os.urandom(2000)}] * 20
                    )
                rows += 20
                largest = max(largest, wal.stat().st_size)
    finally:
        checkpointer.stop()
    assert checkpointer.passes > 10 and checkpointer.pages_copied > 0
    assert checkpointer.last_error is None
    assert largest < 16 * 1024 * 1024  # the log starts over instead of growing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == rows
    engine.dispose()


def test_only_for_sqlite() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ValueError, match="SQLite"):
        Checkpointer(engine)
