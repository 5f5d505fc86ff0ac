"""One ingest batch sees the registry through a view: each device, site and organisation
is read once per batch, and the next batch sees what changed meanwhile."""

from __future__ import annotations

from pathlib import Path

from server_world import load_world
from sqlalchemy import event, update

from reemploi.server.db.engine import make_engine
from reemploi.server.db.tables import devices
from reemploi.server.registry import Registry

COUNTER = "cp-grenoble-hdv-comptoir"


def test_a_batch_view_reads_each_reference_once_and_the_next_batch_sees_changes(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    load_world(engine)
    registry = Registry(ttl_s=0.0)  # no cache across batches: only the view remembers
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with engine.connect() as conn:
            view = registry.view()
            for _ in range(5):
                found = view.device(conn, COUNTER)
                assert found is not None and not found.revoked
                assert view.site(conn, "cp-grenoble-hdv") is not None
                assert view.organisation(conn, "nowhere") is None  # misses remembered too
            reads = [s for s in statements if "FROM devices" in s or "FROM sites" in s]
            assert len(reads) == 2
            assert sum("FROM organisations" in s for s in statements) == 1
            conn.execute(update(devices).where(devices.c.id == COUNTER).values(revoked=True))
            conn.commit()
            same_batch = view.device(conn, COUNTER)
            assert same_batch is not None and not same_batch.revoked
            next_batch = registry.view().device(conn, COUNTER)
            assert next_batch is not None and next_batch.revoked
    finally:
        engine.dispose()
