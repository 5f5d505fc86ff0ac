"""bench/_cluster.recycle_wal: a fresh PostgreSQL cluster gets write-ahead log segments
ready ahead of the one in use, as a cluster in service has (recycled at its checkpoints),
so the bench's measured runs do not pay for creating them."""

from __future__ import annotations

import psycopg
import pytest
from _cluster import recycle_wal, wal_segments
from support.lifecycle import running
from support.services import Postgres

pytestmark = pytest.mark.postgres


def _segments_ahead(pg: Postgres) -> int:
    """Segment files named after the one being written: ready for the log to come."""
    with psycopg.connect(pg.superuser_conninfo(), autocommit=True) as conn:
        current = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert current is not None
    names = [p.name for p in (pg.data_dir / "pg_wal").iterdir() if len(p.name) == 24]
    return sum(1 for name in names if name > current[0])


def test_recycle_wal_leaves_segments_ready_ahead_of_the_current_one() -> None:
    for pg in running(Postgres):  # a cluster of its own: fresh, as the bench's
        before = _segments_ahead(pg)
        assert before < 4  # a new cluster has (almost) nothing ahead
        total = recycle_wal(pg.superuser_conninfo(), pg.data_dir, segments=6)
        assert total == wal_segments(pg.data_dir)
        assert _segments_ahead(pg) >= 6  # the six segments switched away, renamed ahead
        # the cluster still works as before: nothing configured, nothing lost
        with psycopg.connect(pg.superuser_conninfo(), autocommit=True) as conn:
            assert conn.execute("SHOW wal_init_zero").fetchone() == ("on",)
            assert conn.execute("SELECT 1").fetchone() == (1,)
