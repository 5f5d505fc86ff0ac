"""The bench's PostgreSQL cluster brought to the state of one in service before measuring.

A newly created cluster has almost no write-ahead log: each time the log fills its
16 MB segment, the next one is created and, with ``wal_init_zero`` (on by default),
written full of zeros and flushed before the write that needed it can go on. A
cluster in service does not pay that: at each checkpoint it renames the segments it no
longer needs into future ones (recycling), up to what it expects to write before the
next checkpoint. Measured on the reference machine with one-scan ledger batches
(≈ 2.2 kB of log each): a 10–11 ms stall every ≈ 7,600 batches on a fresh cluster, none
once segments were recycled — at 1,000 scans/s, one or two such stalls per paced phase
and the scans that queue behind them, enough to move the p99 of a 10 s phase.

:func:`recycle_wal` ends ``segments`` segments (each switch creates the next one, as the
cluster would on its own), then runs a checkpoint, which recycles them all. Nothing is
configured: the cluster keeps its defaults, and its own checkpoints (every 5 min) go on
recycling during the run.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

SEGMENTS = 48  # 768 MB: more than the log a full --postgres run writes between checkpoints


def recycle_wal(superuser_conninfo: str, data_dir: Path, segments: int = SEGMENTS) -> int:
    """Switch ``segments`` log segments, checkpoint; return how many segment files are
    then ready in ``pg_wal`` (the current one included)."""
    with psycopg.connect(superuser_conninfo, autocommit=True) as conn:
        for _ in range(segments):
            # a switch needs a record since the last one; this one is not transactional
            conn.execute("SELECT pg_logical_emit_message(false, 'reemploi-bench', '')")
            conn.execute("SELECT pg_switch_wal()")
        conn.execute("CHECKPOINT")
    return wal_segments(data_dir)


def wal_segments(data_dir: Path) -> int:
    """Segment files in the cluster's ``pg_wal`` (24 hexadecimal digits each)."""
    return sum(
        1
        for entry in (data_dir / "pg_wal").iterdir()
        if len(entry.name) == 24 and all(c in "0123456789ABCDEF" for c in entry.name)
    )
