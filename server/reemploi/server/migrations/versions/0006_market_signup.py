"""marketplace: self-registration requests pending an administrator's approval

Revision ID: 0006_market_signup
Revises: 0005_market_oidc
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_market_signup"
down_revision = "0005_market_oidc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_registrations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("organisation_name", sa.String(length=200), nullable=False),
        sa.Column("commune", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["market_users.id"],
            name=op.f("fk_market_registrations_decided_by_market_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_registrations")),
        sa.UniqueConstraint("email", name=op.f("uq_market_registrations_email")),
    )


def downgrade() -> None:
    op.drop_table("market_registrations")
