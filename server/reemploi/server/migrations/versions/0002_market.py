"""marketplace: people, sessions, declarations, claims, pickups, lots, vouchers

Revision ID: 0002_market
Revises: 0001
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_market"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_market_settings")),
    )
    op.create_table(
        "market_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_users_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_market_users_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_users")),
        sa.UniqueConstraint("email", name=op.f("uq_market_users_email")),
    )
    op.create_table(
        "market_asset_specs",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("ram_gb", sa.Integer(), nullable=True),
        sa.Column("storage_gb", sa.Integer(), nullable=True),
        sa.Column("cpu", sa.String(length=80), nullable=True),
        sa.Column("screen_in", sa.Float(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_market_asset_specs_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_market_asset_specs")),
    )
    op.create_table(
        "market_declarations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=40), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["market_users.id"],
            name=op.f("fk_market_declarations_created_by_market_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_declarations_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_market_declarations_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_declarations")),
        sa.UniqueConstraint("created_by", "request_id", name="uq_market_declarations_request"),
    )
    with op.batch_alter_table("market_declarations", schema=None) as batch_op:
        batch_op.create_index("ix_market_declarations_planned", ["planned_date"], unique=False)

    op.create_table(
        "market_invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["market_users.id"],
            name=op.f("fk_market_invitations_invited_by_market_users"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_invitations_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_market_invitations")),
    )
    op.create_table(
        "market_lots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("buyer_org_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=False),
        sa.Column("quote_number", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quote_valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["buyer_org_id"],
            ["organisations.id"],
            name=op.f("fk_market_lots_buyer_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["market_users.id"], name=op.f("fk_market_lots_created_by_market_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_lots")),
        sa.UniqueConstraint("created_by", "request_id", name="uq_market_lots_request"),
        sa.UniqueConstraint("quote_number", name=op.f("uq_market_lots_quote_number")),
    )
    op.create_table(
        "market_phone_taps",
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_market_phone_taps_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["market_users.id"], name=op.f("fk_market_phone_taps_user_id_market_users")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_market_phone_taps")),
        sa.UniqueConstraint("user_id", name=op.f("uq_market_phone_taps_user_id")),
    )
    op.create_table(
        "market_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["market_users.id"], name=op.f("fk_market_sessions_user_id_market_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_market_sessions")),
    )
    with op.batch_alter_table("market_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_market_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "market_vouchers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issuer_org_id", sa.String(length=40), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("social_price_cents", sa.Integer(), nullable=False),
        sa.Column("eligibility", sa.String(length=40), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redeemed_asset_id", sa.Integer(), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issued_by"],
            ["market_users.id"],
            name=op.f("fk_market_vouchers_issued_by_market_users"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_org_id"],
            ["organisations.id"],
            name=op.f("fk_market_vouchers_issuer_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["redeemed_asset_id"],
            ["assets.id"],
            name=op.f("fk_market_vouchers_redeemed_asset_id_assets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_vouchers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_market_vouchers_code_hash")),
        sa.UniqueConstraint("issued_by", "request_id", name="uq_market_vouchers_request"),
    )
    op.create_table(
        "market_claims",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("destination_site_id", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["market_users.id"],
            name=op.f("fk_market_claims_created_by_market_users"),
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["market_declarations.id"],
            name=op.f("fk_market_claims_declaration_id_market_declarations"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_site_id"],
            ["sites.id"],
            name=op.f("fk_market_claims_destination_site_id_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_claims_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_claims")),
        sa.UniqueConstraint("created_by", "request_id", name="uq_market_claims_request"),
        sa.UniqueConstraint("declaration_id", name=op.f("uq_market_claims_declaration_id")),
    )
    op.create_table(
        "market_declaration_items",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_market_declaration_items_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["market_declarations.id"],
            name=op.f("fk_market_declaration_items_declaration_id_market_declarations"),
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_market_declaration_items")),
    )
    with op.batch_alter_table("market_declaration_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_market_declaration_items_declaration_id"),
            ["declaration_id"],
            unique=False,
        )

    op.create_table(
        "market_lot_items",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_market_lot_items_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["market_lots.id"], name=op.f("fk_market_lot_items_lot_id_market_lots")
        ),
        sa.PrimaryKeyConstraint("lot_id", "asset_id", name=op.f("pk_market_lot_items")),
    )
    with op.batch_alter_table("market_lot_items", schema=None) as batch_op:
        batch_op.create_index("ix_market_lot_items_asset", ["asset_id"], unique=False)

    op.create_table(
        "market_pickups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("giver_signature", sa.JSON(), nullable=True),
        sa.Column("taker_signature", sa.JSON(), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["market_claims.id"],
            name=op.f("fk_market_pickups_claim_id_market_claims"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_pickups")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_market_pickups_claim_id")),
    )


def downgrade() -> None:
    op.drop_table("market_pickups")
    with op.batch_alter_table("market_lot_items", schema=None) as batch_op:
        batch_op.drop_index("ix_market_lot_items_asset")

    op.drop_table("market_lot_items")
    with op.batch_alter_table("market_declaration_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_declaration_items_declaration_id"))

    op.drop_table("market_declaration_items")
    op.drop_table("market_claims")
    op.drop_table("market_vouchers")
    with op.batch_alter_table("market_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_market_sessions_user_id"))

    op.drop_table("market_sessions")
    op.drop_table("market_phone_taps")
    op.drop_table("market_lots")
    op.drop_table("market_invitations")
    with op.batch_alter_table("market_declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_market_declarations_planned")

    op.drop_table("market_declarations")
    op.drop_table("market_asset_specs")
    op.drop_table("market_users")
    op.drop_table("market_settings")
