"""market_oidc_providers.client_secret: room for the encrypted form

Client secrets are now stored encrypted (market/secretbox.py): a Fernet token of a
300-character secret, with its prefix, takes about 490 characters.

Revision ID: 0008_oidc_secret_sealed
Revises: 0007_sightings_key_not_indexed
Create Date: 2026-11-29 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_oidc_secret_sealed"
down_revision = "0007_sightings_key_not_indexed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("market_oidc_providers") as batch:
        batch.alter_column(
            "client_secret", type_=sa.String(length=1000), existing_type=sa.String(length=300)
        )


def downgrade() -> None:
    with op.batch_alter_table("market_oidc_providers") as batch:
        batch.alter_column(
            "client_secret", type_=sa.String(length=300), existing_type=sa.String(length=1000)
        )
