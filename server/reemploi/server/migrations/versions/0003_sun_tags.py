"""anti-clone tags: NTAG 424 DNA UID → asset and last SUN counter

Revision ID: 0003_sun
Revises: 0002_market
Create Date: 2026-11-29 08:12:12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_sun"
down_revision = "0002_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sun_tags",
        sa.Column("uid", sa.String(length=14), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("last_counter", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_sun_tags_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_sun_tags")),
    )
    with op.batch_alter_table("sun_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sun_tags_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sun_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sun_tags_asset_id"))
    op.drop_table("sun_tags")
