"""lots, their beacons and members, and gateways' lot movements

Revision ID: 0004_lots
Revises: 0003_sun
Create Date: 2026-11-29 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lots"
down_revision = "0003_sun"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_lots_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lots")),
    )
    op.create_table(
        "lot_beacons",
        sa.Column("beacon", sa.String(length=80), nullable=False),
        sa.Column("lot_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_beacons_lot_id_lots")),
        sa.PrimaryKeyConstraint("beacon", name=op.f("pk_lot_beacons")),
    )
    op.create_index(op.f("ix_lot_beacons_lot_id"), "lot_beacons", ["lot_id"], unique=False)
    op.create_table(
        "lot_members",
        sa.Column("lot_id", sa.String(length=80), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_lot_members_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], name=op.f("fk_lot_members_lot_id_lots")),
        sa.PrimaryKeyConstraint("lot_id", "asset_id", name=op.f("pk_lot_members")),
    )
    op.create_table(
        "lot_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("beacon", sa.String(length=80), nullable=False),
        sa.Column("gateway_clock", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lot_id", sa.String(length=80), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["devices.id"], name=op.f("fk_lot_movements_gateway_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_movements")),
        sa.UniqueConstraint("key", name="uq_lot_movements_key"),
        sa.UniqueConstraint("gateway_id", "seq", name="uq_lot_movements_gateway_seq"),
    )


def downgrade() -> None:
    op.drop_table("lot_movements")
    op.drop_table("lot_members")
    op.drop_index(op.f("ix_lot_beacons_lot_id"), table_name="lot_beacons")
    op.drop_table("lot_beacons")
    op.drop_table("lots")
