"""Alembic environment: uses the connection handed over by ``db.engine.migrate`` or the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import reemploi.server.db.market_tables  # noqa: F401  (registers the marketplace tables)
from reemploi.server.db.tables import metadata

config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
