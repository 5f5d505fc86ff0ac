"""marketplace: OpenID Connect providers per organisation, authorisation requests

Revision ID: 0005_market_oidc
Revises: 0004_lots
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_market_oidc"
down_revision = "0004_lots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_oidc_providers",
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("client_secret", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_oidc_providers_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_market_oidc_providers")),
    )
    op.create_table(
        "market_oidc_requests",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=200), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("next_path", sa.String(length=300), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_market_oidc_requests_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_market_oidc_requests")),
    )


def downgrade() -> None:
    op.drop_table("market_oidc_requests")
    op.drop_table("market_oidc_providers")
