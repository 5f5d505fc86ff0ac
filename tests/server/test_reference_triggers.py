"""PostgreSQL: the references of sightings and custody events to devices and assets,
checked per statement by triggers (migration 0011) instead of per-row foreign keys,
keep every guarantee the foreign keys gave — on insert (``COPY`` or ``INSERT``), on
update, on delete, renumbering and truncation of what they refer to, across concurrent
transactions and in every isolation level."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from alembic import command
from psycopg import errors
from server_world import COUNTER, World
from sqlalchemy import Connection, Engine, text

from reemploi.server.db.engine import alembic_config, migrate
from reemploi.server.registry import Device, add_device

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SIGHTING_COLUMNS = "key, device_id, seq, site_id, kind, data, received_at, asset_id, result"
FK_DEVICE = "fk_sightings_device_id_devices"
FK_ASSET = "fk_sightings_asset_id_assets"
FK_EVENT = "fk_custody_events_asset_id_assets"


@dataclass
class Refs:
    """A reader and an asset of their own (no tag, no lot, nothing else refers to them),
    so that only the replaced foreign keys can stop their deletion."""

    engine: Engine
    dsn: str
    device: str
    asset: int
    spare_asset: int


def _asset(conn: Connection, epc: str) -> int:
    found = conn.execute(
        text(
            "INSERT INTO assets (epc, category, description, owner_id, state,"
            " holder_org_id, holder_site_id, updated_at)"
            " VALUES (:epc, 'laptop', '', 'ville-grenoble', 'collected',"
            " 'ville-grenoble', :site, :now) RETURNING id"
        ),
        {"epc": epc, "site": COUNTER[0], "now": NOW},
    ).scalar_one()
    return int(found)


@pytest.fixture
def refs(pg_world: World) -> Iterator[Refs]:
    engine = pg_world.engine
    with engine.begin() as conn:
        add_device(conn, Device("lecteur-essai", COUNTER[0], "reader", None, False))
        asset = _asset(conn, "urn:epc:id:giai:952123.ESSAI1")
        spare = _asset(conn, "urn:epc:id:giai:952123.ESSAI2")
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    yield Refs(engine, dsn, "lecteur-essai", asset, spare)


def _sighting(seq: int, device: str, asset: int | None) -> dict[str, Any]:
    return {
        "key": f"{seq:032x}",
        "device_id": device,
        "seq": seq,
        "site_id": COUNTER[0],
        "kind": "nfc",
        "data": "04AA",
        "received_at": NOW,
        "asset_id": asset,
        "result": "accepted",
    }


def _insert_sighting(conn: Connection, seq: int, device: str, asset: int | None) -> None:
    conn.execute(
        text(
            f"INSERT INTO sightings ({SIGHTING_COLUMNS}) VALUES (:key, :device_id, :seq,"
            " :site_id, :kind, :data, :received_at, :asset_id, :result)"
        ),
        _sighting(seq, device, asset),
    )


def _tap(conn: psycopg.Connection[Any], seq: int, device: str, asset: int | None) -> None:
    """One sighting inserted on a plain psycopg connection (left uncommitted)."""
    conn.execute(
        f"INSERT INTO sightings ({SIGHTING_COLUMNS}) VALUES (%(key)s, %(device_id)s,"
        " %(seq)s, %(site_id)s, %(kind)s, %(data)s, %(received_at)s, %(asset_id)s,"
        " %(result)s)",
        _sighting(seq, device, asset),
    )


def _copy_sightings(dsn: str, rows: list[dict[str, Any]]) -> None:
    with (
        psycopg.connect(dsn) as conn,
        conn.cursor() as cur,
        cur.copy(f"COPY sightings ({SIGHTING_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(list(row.values()))


def _insert_event(conn: Connection, position: int, asset: int | None) -> None:
    conn.execute(
        text(
            "INSERT INTO custody_events (position, event_id, event_hash, event_time,"
            " recorded_at, asset_id, step, state_to, site_to, document, prev_hash,"
            " entry_hash) VALUES (:p, :eid, 'ni:///sha-256;x', :now, :now, :asset,"
            " 'collecting', 'collected', :site, '{}', :zero, :zero)"
        ),
        {
            "p": position,
            "eid": f"urn:uuid:essai-{position}",
            "now": NOW,
            "asset": asset,
            "site": COUNTER[0],
            "zero": "0" * 64,
        },
    )


def _violation(error: BaseException, constraint: str) -> None:
    """``error`` is the foreign key violation of ``constraint``, in French."""
    orig = getattr(error, "orig", error)
    assert isinstance(orig, errors.ForeignKeyViolation), repr(orig)
    assert orig.diag.constraint_name == constraint
    assert orig.diag.message_primary is not None
    assert "violation de la clé étrangère" in orig.diag.message_primary


def _foreign_keys(conn: Connection) -> list[str]:
    """The names of the foreign keys on sightings and custody events, sorted."""
    found = conn.execute(
        text(
            "SELECT conname FROM pg_constraint WHERE contype = 'f'"
            " AND conrelid IN ('sightings'::regclass, 'custody_events'::regclass)"
        )
    ).scalars()
    return sorted(found)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_the_three_foreign_keys_are_gone_and_their_triggers_in_place(refs: Refs) -> None:
    with refs.engine.connect() as conn:
        fks = _foreign_keys(conn)
        triggers = conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%\\_refs\\_%'")
        ).scalars()
        assert fks == []
        assert sorted(triggers) == sorted(
            [
                "sightings_refs_insert",
                "sightings_refs_update",
                "custody_events_refs_insert",
                "custody_events_refs_update",
                *(
                    f"{parent}_refs_{name}"
                    for parent in ("devices", "assets")
                    for name in ("lock", "deleted", "renumbered", "emptied")
                ),
            ]
        )


def test_a_copied_batch_with_one_unknown_reader_is_refused_whole(refs: Refs) -> None:
    rows = [_sighting(seq, refs.device, refs.asset) for seq in range(1, 200)]
    rows.append(_sighting(200, "lecteur-inconnu", refs.asset))
    with pytest.raises(errors.ForeignKeyViolation) as caught:
        _copy_sightings(refs.dsn, rows)
    _violation(caught.value, FK_DEVICE)
    assert "'lecteur-inconnu'" in str(caught.value)
    assert _count(refs.engine, "SELECT count(*) FROM sightings") == 0
    _copy_sightings(refs.dsn, rows[:-1])
    assert _count(refs.engine, "SELECT count(*) FROM sightings") == 199


def test_a_copied_batch_with_one_unknown_asset_is_refused(refs: Refs) -> None:
    rows = [_sighting(1, refs.device, None), _sighting(2, refs.device, 987654)]
    with pytest.raises(errors.ForeignKeyViolation) as caught:
        _copy_sightings(refs.dsn, rows)
    _violation(caught.value, FK_ASSET)
    assert "987654" in str(caught.value)


def test_single_inserts_are_checked_and_a_null_asset_is_allowed(refs: Refs) -> None:
    with refs.engine.begin() as conn:
        _insert_sighting(conn, 1, refs.device, None)
        _insert_sighting(conn, 2, refs.device, refs.asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        _insert_sighting(conn, 3, "lecteur-inconnu", None)
    _violation(caught.value, FK_DEVICE)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        _insert_sighting(conn, 4, refs.device, refs.asset + 1000)
    _violation(caught.value, FK_ASSET)
    assert _count(refs.engine, "SELECT count(*) FROM sightings") == 2


def test_custody_events_need_a_known_asset(refs: Refs) -> None:
    with refs.engine.begin() as conn:
        _insert_event(conn, 1001, refs.asset)
        _insert_event(conn, 1002, None)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        _insert_event(conn, 1003, 424242)
    _violation(caught.value, FK_EVENT)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("UPDATE custody_events SET asset_id = 424242 WHERE position = 1002"))
    _violation(caught.value, FK_EVENT)


def test_an_update_cannot_point_a_sighting_elsewhere(refs: Refs) -> None:
    with refs.engine.begin() as conn:
        _insert_sighting(conn, 1, refs.device, refs.asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("UPDATE sightings SET asset_id = 31337"))
    _violation(caught.value, FK_ASSET)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("UPDATE sightings SET device_id = 'ailleurs'"))
    _violation(caught.value, FK_DEVICE)
    with refs.engine.begin() as conn:  # an update touching no reference passes
        conn.execute(text("UPDATE sightings SET anomaly = 'essai'"))


def test_a_referenced_asset_or_reader_cannot_be_deleted_an_unreferenced_one_can(
    refs: Refs,
) -> None:
    with refs.engine.begin() as conn:
        _insert_sighting(conn, 1, refs.device, refs.asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("DELETE FROM assets WHERE id = :a"), {"a": refs.asset})
    _violation(caught.value, FK_ASSET)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("DELETE FROM devices WHERE id = :d"), {"d": refs.device})
    _violation(caught.value, FK_DEVICE)
    with refs.engine.begin() as conn:
        _insert_event(conn, 1001, refs.spare_asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("DELETE FROM assets WHERE id = :a"), {"a": refs.spare_asset})
    _violation(caught.value, FK_EVENT)
    with refs.engine.begin() as conn:
        conn.execute(text("DELETE FROM custody_events WHERE position = 1001"))
        conn.execute(text("DELETE FROM assets WHERE id = :a"), {"a": refs.spare_asset})
    assert _count(refs.engine, f"SELECT count(*) FROM assets WHERE id = {refs.spare_asset}") == 0


def test_a_referenced_id_cannot_be_renumbered_an_unreferenced_one_can(refs: Refs) -> None:
    with refs.engine.begin() as conn:
        _insert_sighting(conn, 1, refs.device, refs.asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("UPDATE assets SET id = id + 5000 WHERE id = :a"), {"a": refs.asset})
    _violation(caught.value, FK_ASSET)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text("UPDATE devices SET id = 'renomme' WHERE id = :d"), {"d": refs.device})
    _violation(caught.value, FK_DEVICE)
    with refs.engine.begin() as conn:  # the same id, or an id nothing refers to
        conn.execute(text("UPDATE assets SET id = id WHERE id = :a"), {"a": refs.asset})
        conn.execute(text("UPDATE assets SET id = 777777 WHERE id = :a"), {"a": refs.spare_asset})
    assert _count(refs.engine, "SELECT count(*) FROM assets WHERE id = 777777") == 1


@pytest.mark.parametrize("table", ["devices", "assets"])
def test_truncating_what_sightings_refer_to_is_refused(refs: Refs, table: str) -> None:
    with refs.engine.begin() as conn:
        _insert_sighting(conn, 1, refs.device, refs.asset)
    with pytest.raises(Exception) as caught, refs.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
    _violation(caught.value, FK_DEVICE if table == "devices" else FK_ASSET)
    assert _count(refs.engine, f"SELECT count(*) FROM {table}") > 0
    with refs.engine.begin() as conn:  # with what refers to it, it may go
        conn.execute(text(f"TRUNCATE {table}, sightings, custody_events CASCADE"))
    assert _count(refs.engine, f"SELECT count(*) FROM {table}") == 0


def test_a_delete_waits_for_an_insert_in_flight_then_sees_it(refs: Refs) -> None:
    with psycopg.connect(refs.dsn) as tapping, psycopg.connect(refs.dsn) as deleting:
        _tap(tapping, 1, refs.device, refs.asset)
        # the tap is not committed: the delete cannot know yet, so it must wait
        deleting.execute("SET lock_timeout = '300ms'")
        with pytest.raises(errors.LockNotAvailable):
            deleting.execute("DELETE FROM assets WHERE id = %s", (refs.asset,))
        deleting.rollback()
        tapping.commit()
        with pytest.raises(errors.ForeignKeyViolation) as caught:
            deleting.execute("DELETE FROM assets WHERE id = %s", (refs.asset,))
        _violation(caught.value, FK_ASSET)


def test_an_insert_waits_for_a_delete_in_flight_then_sees_it(refs: Refs) -> None:
    with psycopg.connect(refs.dsn) as deleting, psycopg.connect(refs.dsn) as tapping:
        deleting.execute("DELETE FROM assets WHERE id = %s", (refs.spare_asset,))
        tapping.execute("SET lock_timeout = '300ms'")
        with pytest.raises(errors.LockNotAvailable):
            _tap(tapping, 1, refs.device, refs.spare_asset)
        tapping.rollback()
        deleting.commit()
        with pytest.raises(errors.ForeignKeyViolation) as caught:
            _tap(tapping, 1, refs.device, refs.spare_asset)
        _violation(caught.value, FK_ASSET)


def test_repeatable_read_inserts_lock_what_they_refer_to(refs: Refs) -> None:
    """An older snapshot cannot see a delete committed since: the insert locks the rows
    it refers to, and a concurrent delete makes it fail to serialise."""
    with psycopg.connect(refs.dsn) as tapping, psycopg.connect(refs.dsn) as deleting:
        tapping.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        tapping.execute("SELECT count(*) FROM assets")  # the snapshot is taken here
        deleting.execute("DELETE FROM assets WHERE id = %s", (refs.spare_asset,))
        deleting.commit()
        with pytest.raises(errors.SerializationFailure):
            _tap(tapping, 1, refs.device, refs.spare_asset)
        tapping.rollback()
        _tap(tapping, 1, refs.device, refs.asset)  # a known asset goes in, an unknown one not
        with pytest.raises(errors.ForeignKeyViolation) as caught:
            _tap(tapping, 2, refs.device, refs.spare_asset)
        _violation(caught.value, FK_ASSET)


@pytest.mark.parametrize("statement", ["DELETE FROM assets", "TRUNCATE devices CASCADE"])
def test_repeatable_read_cannot_remove_what_may_be_referenced(refs: Refs, statement: str) -> None:
    with psycopg.connect(refs.dsn) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.cursor() as cur, pytest.raises(errors.FeatureNotSupported) as caught:
            cur.execute(statement)
        assert "READ COMMITTED" in str(caught.value)


def test_the_migration_goes_back_to_the_foreign_keys_and_forth(refs: Refs) -> None:
    config = alembic_config(refs.engine.url.render_as_string(hide_password=False))
    with refs.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010_assets_notify")
    with refs.engine.connect() as conn:
        back = _foreign_keys(conn)
        assert back == sorted([FK_ASSET, FK_DEVICE, FK_EVENT])
        left = conn.execute(
            text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'reemploi\\_%\\_refs\\_%'")
        ).scalar_one()
        assert left == 0
    with pytest.raises(errors.ForeignKeyViolation) as caught:  # the foreign key's own error
        _copy_sightings(refs.dsn, [_sighting(1, "lecteur-inconnu", None)])
    assert caught.value.diag.constraint_name == FK_DEVICE
    migrate(refs.engine)
    with pytest.raises(errors.ForeignKeyViolation) as caught:
        _copy_sightings(refs.dsn, [_sighting(1, "lecteur-inconnu", None)])
    _violation(caught.value, FK_DEVICE)
