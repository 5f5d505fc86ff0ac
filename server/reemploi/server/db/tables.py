"""Tables of the system of record (SQLAlchemy Core, one metadata).

Evidence and facts are kept apart: ``sightings`` holds every read as it arrived,
``custody_events`` holds the hash-chained EPCIS events derived from them, ``assets`` is the
projection (current state and holder), ``dead_letters`` keeps what could not be read.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("pgln", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("gln", String(80), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("organisation_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("commune", String(100), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("role", String(40), nullable=False),
    Column("tap_step", String(40), nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("online", Boolean, nullable=False, default=False),
    Column("last_seen", DateTime(timezone=True), nullable=True),
    Column("status", JSON, nullable=True),
)

assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("epc", String(120), nullable=False, unique=True),
    Column("category", String(40), nullable=False),
    Column("description", String(200), nullable=False, default=""),
    Column("serial", String(80), nullable=True),
    Column("owner_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("state", String(40), nullable=False),
    Column("holder_org_id", String(40), ForeignKey("organisations.id"), nullable=False),
    Column("holder_site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("grade", String(4), nullable=True),
    Column("weight_kg", Float, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_assets_state_site", "state", "holder_site_id"),
    Index("ix_assets_category", "category"),
)

tags = Table(
    "tags",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id"), nullable=False, index=True),
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(32), nullable=False),
    Column("device_id", String(40), ForeignKey("devices.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("site_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("data", Text, nullable=False),
    Column("rssi", Integer, nullable=True),
    Column("device_clock", BigInteger, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id"), nullable=True),
    Column("result", String(20), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("event_position", Integer, nullable=True),
    Column("anomaly", String(40), nullable=True),
    UniqueConstraint("device_id", "seq", name="uq_sightings_device_seq"),
    Index("ix_sightings_asset", "asset_id"),
)

custody_events = Table(
    "custody_events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("event_id", String(80), nullable=False, unique=True),
    Column("event_hash", String(120), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("asset_id", Integer, ForeignKey("assets.id"), nullable=True, index=True),
    Column("step", String(40), nullable=False),
    Column("state_from", String(40), nullable=True),
    Column("state_to", String(40), nullable=False),
    Column("site_from", String(40), nullable=True),
    Column("site_to", String(40), nullable=False),
    Column("document", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("reason", String(40), nullable=False, index=True),
    Column("detail", String(300), nullable=False, default=""),
    Column("device_id", String(40), nullable=True),
)

ingest_counters = Table(
    "ingest_counters",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# NTAG 424 DNA anti-clone tags: UID → asset, and the last SUN counter accepted (replays of
# a counter not greater than it are refused).
sun_tags = Table(
    "sun_tags",
    metadata,
    Column("uid", String(14), primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id"), nullable=False, index=True),
    Column("last_counter", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

# Lots (cages, pallets) identified by an SSCC, with the BLE beacons they carry and the
# assets packed into them; lot movements reported by gateways, deduplicated by key.
lots = Table(
    "lots",
    metadata,
    Column("id", String(80), primary_key=True),  # canonical SSCC Digital Link
    Column("site_id", String(40), ForeignKey("sites.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

lot_beacons = Table(
    "lot_beacons",
    metadata,
    Column("beacon", String(80), primary_key=True),  # e.g. eu:<namespace>:<instance>
    Column("lot_id", String(80), ForeignKey("lots.id"), nullable=False, index=True),
)

lot_members = Table(
    "lot_members",
    metadata,
    Column("lot_id", String(80), ForeignKey("lots.id"), primary_key=True),
    Column("asset_id", Integer, ForeignKey("assets.id"), primary_key=True),
)

lot_movements = Table(
    "lot_movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(32), nullable=False),
    Column("gateway_id", String(40), ForeignKey("devices.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("site_id", String(40), nullable=False),
    Column("event", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("beacon", String(80), nullable=False),
    Column("gateway_clock", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("lot_id", String(80), nullable=True),
    Column("result", String(20), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("events", Integer, nullable=False),
    Column("latitude", Float, nullable=True),
    Column("longitude", Float, nullable=True),
    UniqueConstraint("key", name="uq_lot_movements_key"),
    UniqueConstraint("gateway_id", "seq", name="uq_lot_movements_gateway_seq"),
)
