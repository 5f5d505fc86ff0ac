"""sightings: no unique index on the idempotency key

A scan's key is the SHA-256 digest of (device, seq, kind, data), checked when the scan is
decoded, so the unique (device_id, seq) already makes keys unique; ingest deduplicates
through (device_id, seq) alone. The key's own index put every new sighting on a random
page of it, written again to the log at each commit (about a quarter of the pages an
ingest batch writes, measured with bench/ingest.py).

Revision ID: 0007_sightings_key_not_indexed
Revises: 0006_market_signup
Create Date: 2026-11-29 13:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007_sightings_key_not_indexed"
down_revision = "0006_market_signup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sightings") as batch:  # SQLite: the table is rebuilt
        batch.drop_constraint("uq_sightings_key", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.create_unique_constraint("uq_sightings_key", ["key"])
