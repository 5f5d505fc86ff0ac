"""The migrations build exactly the schema the code declares (``db/tables.py``,
``db/market_tables.py``), on SQLite and PostgreSQL, and the newest one keeps every
sighting both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, insert, inspect, select, text

from reemploi.server.db import market_tables  # noqa: F401  (its tables join the metadata)
from reemploi.server.db.engine import alembic_config, make_engine, migrate
from reemploi.server.db.tables import metadata, sightings
from reemploi.server.registry import (
    Device,
    Organisation,
    Site,
    add_device,
    add_organisation,
    add_site,
)


def test_migrated_schema_matches_the_declared_tables(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        if engine.dialect.name == "postgresql":
            # Migration 0011 replaces these foreign keys by per-statement triggers
            # (test_reference_triggers.py); the declared tables keep them for SQLite.
            missing = sorted(d[1].name for d in diff if isinstance(d, tuple) and d[0] == "add_fk")
            assert missing == [
                "fk_custody_events_asset_id_assets",
                "fk_sightings_asset_id_assets",
                "fk_sightings_device_id_devices",
            ]
            diff = [d for d in diff if not (isinstance(d, tuple) and d[0] == "add_fk")]
        assert diff == []
    finally:
        engine.dispose()


def _unique_sets(engine_url: str) -> list[list[str]]:
    engine = make_engine(engine_url)
    try:
        found = inspect(engine).get_unique_constraints("sightings")
        return sorted(sorted(c["column_names"]) for c in found)
    finally:
        engine.dispose()


def _sightings_of_one_reader(engine: Engine, count: int) -> None:
    """One organisation, site and reader, and ``count`` sightings of distinct tags by it
    (key = the sequence number in hexadecimal)."""
    with engine.begin() as conn:
        add_organisation(conn, Organisation("org", "0614141000005", "Org", "collectivite"))
        add_site(
            conn,
            Site("site", "0614141000012", "Site", "collection_point", "org", "G", 45.2, 5.7),
        )
        add_device(conn, Device("reader-1", "site", "reader", None, False))
        conn.execute(
            insert(sightings),
            [
                {
                    "key": f"{seq:032x}",
                    "device_id": "reader-1",
                    "seq": seq,
                    "site_id": "site",
                    "kind": "uid",
                    "data": f"04a1b2c3d4{seq:04x}",
                    "received_at": datetime(2026, 11, 29, tzinfo=UTC),
                    "result": "accepted",
                }
                for seq in range(count)
            ],
        )


def test_sightings_key_index_dropped_and_restored_with_the_data(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        migrate(engine)
        _sightings_of_one_reader(engine, 3)
        assert _unique_sets(database_url) == [["device_id", "seq"]]
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006_market_signup")
        assert _unique_sets(database_url) == [["device_id", "seq"], ["key"]]
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        assert _unique_sets(database_url) == [["device_id", "seq"]]
        with engine.connect() as conn:
            keys = conn.execute(select(sightings.c.key).order_by(sightings.c.seq)).scalars()
            assert list(keys) == [f"{seq:032x}" for seq in range(3)]
    finally:
        engine.dispose()


def _statistics_targets(conn: Connection, table: str) -> dict[str, int]:
    rows = conn.execute(
        text(
            "SELECT attname, coalesce(attstattarget, -1) FROM pg_attribute"
            " WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
        ),
        {"t": table},
    )
    return {name: int(target) for name, target in rows}


@pytest.mark.postgres
def test_opaque_ledger_columns_get_no_statistics_on_postgresql(
    postgres_database_url: str,
) -> None:
    """ANALYZE skips the document, the chain's hashes and the sightings' key and data
    (never filtered on), and still gathers what the planner uses; both ways."""
    engine = make_engine(postgres_database_url)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        migrate(engine)
        with engine.connect() as conn:
            events = _statistics_targets(conn, "custody_events")
            seen = _statistics_targets(conn, "sightings")
        assert {c: events[c] for c in ("document", "event_hash", "prev_hash", "entry_hash")} == {
            "document": 0,
            "event_hash": 0,
            "prev_hash": 0,
            "entry_hash": 0,
        }
        assert (seen["key"], seen["data"]) == (0, 0)
        assert events["asset_id"] == events["step"] == seen["device_id"] == -1  # the default
        _sightings_of_one_reader(engine, 50)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE sightings"))
            analysed = set(
                conn.execute(
                    text("SELECT attname FROM pg_stats WHERE tablename = 'sightings'")
                ).scalars()
            )
        assert "device_id" in analysed and "seq" in analysed
        assert not analysed & {"key", "data"}
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0008_oidc_secret_sealed")
        with engine.connect() as conn:
            assert _statistics_targets(conn, "custody_events")["document"] == -1
            assert _statistics_targets(conn, "sightings")["data"] == -1
    finally:
        engine.dispose()
