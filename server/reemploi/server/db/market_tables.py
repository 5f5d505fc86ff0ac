"""Tables of the marketplace: people and sessions, declarations and pickups, lots,
solidarity vouchers. Same ``metadata`` as the ledger's tables, migration ``0002_market``.

Every table that a form or an offline replay writes carries a ``request_id`` unique per
author: the same submission sent twice finds its first row instead of making a second.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .tables import metadata

users = Table(
    "market_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=True),  # None: OIDC-only account
    Column("role", String(40), nullable=False),
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("locale", String(5), nullable=False, default="fr"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "market_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("market_users.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

invitations = Table(
    "market_invitations",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("email", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("invited_by", Integer, ForeignKey("market_users.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

settings = Table(
    "market_settings",
    metadata,
    Column("key", String(60), primary_key=True),
    Column("value", JSON, nullable=False),
)

asset_specs = Table(
    "market_asset_specs",
    metadata,
    Column("asset_id", Integer, ForeignKey("assets.id"), primary_key=True),
    Column("ram_gb", Integer, nullable=True),
    Column("storage_gb", Integer, nullable=True),
    Column("cpu", String(80), nullable=True),
    Column("screen_in", Float, nullable=True),
    Column("year", Integer, nullable=True),
)

declarations = Table(
    "market_declarations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("kind", String(10), nullable=False),  # single | csv | rack
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("location", String(200), nullable=False, default=""),  # rack: room / bay
    Column("planned_date", Date, nullable=False),
    Column("created_by", Integer, ForeignKey("market_users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("created_by", "request_id", name="uq_market_declarations_request"),
    Index("ix_market_declarations_planned", "planned_date"),
)

declaration_items = Table(
    "market_declaration_items",
    metadata,
    Column("asset_id", Integer, ForeignKey("assets.id"), primary_key=True),
    Column(
        "declaration_id",
        Integer,
        ForeignKey("market_declarations.id"),
        nullable=False,
        index=True,
    ),
)

claims = Table(
    "market_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    # One claim per declaration: the unique constraint settles a race for a batch.
    Column(
        "declaration_id", Integer, ForeignKey("market_declarations.id"), nullable=False, unique=True
    ),
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("destination_site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("created_by", Integer, ForeignKey("market_users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("created_by", "request_id", name="uq_market_claims_request"),
)

pickups = Table(
    "market_pickups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("claim_id", Integer, ForeignKey("market_claims.id"), nullable=False, unique=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),  # scheduled | handed_over
    Column("giver_signature", JSON, nullable=True),
    Column("taker_signature", JSON, nullable=True),
    Column("handed_over_at", DateTime(timezone=True), nullable=True),
)

lots = Table(
    "market_lots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("buyer_org_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("created_by", Integer, ForeignKey("market_users.id"), nullable=False),
    Column("criteria", JSON, nullable=False),
    Column("status", String(20), nullable=False),  # quoted|reserved|sold|donated|released
    Column("unit_price_cents", Integer, nullable=False),
    Column("warranty_months", Integer, nullable=False),
    Column("quote_number", String(40), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("quote_valid_until", DateTime(timezone=True), nullable=False),
    Column("reserved_until", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("created_by", "request_id", name="uq_market_lots_request"),
)

lot_items = Table(
    "market_lot_items",
    metadata,
    Column("lot_id", Integer, ForeignKey("market_lots.id"), primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id"), primary_key=True),
    Index("ix_market_lot_items_asset", "asset_id"),
)

vouchers = Table(
    "market_vouchers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("issuer_org_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("issued_by", Integer, ForeignKey("market_users.id"), nullable=False),
    Column("category", String(40), nullable=False),
    Column("social_price_cents", Integer, nullable=False),
    # The only fact about the person: which eligibility rule the social worker checked.
    Column("eligibility", String(40), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False),  # issued | redeemed | erased
    Column("redeemed_at", DateTime(timezone=True), nullable=True),
    Column("redeemed_asset_id", Integer, ForeignKey("assets.id"), nullable=True),
    Column("purge_after", DateTime(timezone=True), nullable=False),
    UniqueConstraint("issued_by", "request_id", name="uq_market_vouchers_request"),
)

phone_taps = Table(
    "market_phone_taps",
    metadata,
    # One device per staff phone; the scan goes through the ingest pipeline as a reader's.
    Column("device_id", String(40), ForeignKey("devices.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("market_users.id"), nullable=False, unique=True),
    Column("note", Text, nullable=False, default=""),
)

oidc_providers = Table(
    "market_oidc_providers",
    metadata,
    # One OpenID Connect provider per organisation that has one (migration 0005).
    Column("organisation_id", String(40), ForeignKey("organisations.id"), primary_key=True),
    Column("issuer", String(300), nullable=False),
    Column("client_id", String(200), nullable=False),
    Column("client_secret", String(1000), nullable=True),  # sealed (secretbox.py); None: PKCE only
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

oidc_requests = Table(
    "market_oidc_requests",
    metadata,
    # An authorisation request in flight: single use, short-lived.
    Column("state_hash", String(64), primary_key=True),
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("nonce", String(100), nullable=False),
    Column("code_verifier", String(200), nullable=False),
    Column("redirect_uri", String(500), nullable=False),
    Column("next_path", String(300), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

registrations = Table(
    "market_registrations",
    metadata,
    # Self-registration when the platform is open (migration 0006): pending until an
    # administrator approves it (then an organisation and an account are created).
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(200), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("organisation_name", String(200), nullable=False),
    Column("commune", String(100), nullable=False),
    Column("status", String(20), nullable=False),  # pending | approved | refused
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", Integer, ForeignKey("market_users.id"), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)
