"""Engine set-up: SQLite in WAL mode by default, PostgreSQL by URL; schema by Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# SQLite's own checkpoint runs inside the commit that takes the write-ahead log past this
# many pages. The ingest writer's background checkpointer (db/checkpoint.py) normally
# copies the log long before; this threshold is the backstop, set far above what a pass
# interval lets accumulate (≈ 9 pages per one-scan commit: 1,000 pages were reached every
# ≈ 110 commits at 1,000 scans/s, and those commits paid the checkpoint in their ack).
WAL_AUTOCHECKPOINT_PAGES = 10_000


def make_engine(url: str, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """Create the engine; for SQLite, create the folder and set WAL and ``synchronous``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            cur.close()
            # Transactions are begun below, not by the driver: see _begin_immediate.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # SQLite ignores SELECT … FOR UPDATE: every transaction takes the write lock
            # when it begins, so two writers (ingest, the marketplace, a declaration) can
            # never read the same ledger head. WAL readers outside transactions are not
            # blocked; writers wait (busy_timeout) instead of failing.
            # Straight on the DB-API connection: this runs for every ingest batch.
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def is_memory_database(engine: Engine) -> bool:
    """An SQLite database that lives in this process only (no other process can open it)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and (not database or database == ":memory:")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
