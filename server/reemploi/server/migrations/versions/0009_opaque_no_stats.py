"""PostgreSQL: no planner statistics on the ledger's opaque columns

ANALYZE (run by autovacuum as the ledger grows) samples up to 30,000 rows of a table and
computes statistics for every column. The EPCIS document (≈ 700 characters), the hashes
of the chain and a sighting's key and tag data are never filtered, joined or sorted on:
their statistics serve no query, and computing them was half of what ANALYZE of the two
busiest tables cost (measured on 40,000 rows each: custody_events 100 → 49 ms,
sightings 26 → 11 ms). Their statistics target is set to 0 (PostgreSQL's own way to
say "none"); SQLite gathers no such statistics, so nothing changes there.

Revision ID: 0009_opaque_no_stats
Revises: 0008_oidc_secret_sealed
Create Date: 2026-11-30 11:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0009_opaque_no_stats"
down_revision = "0008_oidc_secret_sealed"
branch_labels = None
depends_on = None

OPAQUE = {
    "custody_events": ("document", "event_hash", "prev_hash", "entry_hash"),
    "sightings": ("key", "data"),
}


def _set(target: int) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in OPAQUE.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {target}")


def upgrade() -> None:
    _set(0)


def downgrade() -> None:
    _set(-1)  # back to default_statistics_target
