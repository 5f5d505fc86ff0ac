"""Helpers for server tests: a migrated database (SQLite or PostgreSQL) loaded with the
demo territory and a few declared assets, and the real ingest on a real Mosquitto."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from reemploi.domain.digital_link import giai_uri
from reemploi.server.db.engine import migrate
from reemploi.server.demo.territory import load_territory
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import WriterKind, WriterSpec, make_writer
from reemploi.server.registry import (
    Declaration,
    Registry,
    declare_asset,
)

RESOLVER = "https://id.reemploi.grenoble.example"
LAPTOP_GIAI = "9521234LAP000001"
SCREEN_GIAI = "9521234SCR000002"
PHONE_GIAI = "9521234PHO000003"
PHONE_UID = "04A1B2C3D4E5F6"
LAPTOP_URI = f"{RESOLVER}/8004/{LAPTOP_GIAI}"
SCREEN_URI = f"{RESOLVER}/8004/{SCREEN_GIAI}"
COUNTER = ("cp-grenoble-hdv", "cp-grenoble-hdv-comptoir")  # (site, reader) at a collection point
DOCK = ("atelier-pont-de-claix", "atelier-pdc-quai")  # a workshop's receiving dock


@dataclass
class World:
    engine: Engine
    assets: dict[str, int]


def load_world(engine: Engine) -> World:
    migrate(engine)
    made: dict[str, int] = {}
    with engine.begin() as conn:
        load_territory(conn)
        for giai, cat, uid in (
            (LAPTOP_GIAI, "laptop", None),
            (SCREEN_GIAI, "screen", None),
            (PHONE_GIAI, "phone", PHONE_UID),
        ):
            made[giai] = declare_asset(
                conn,
                Declaration(
                    epc=giai_uri(giai),
                    category=cat,
                    owner_id="ville-grenoble",
                    site_id="cp-grenoble-hdv",
                    nfc_uid=uid,
                ),
            )
    return World(engine, made)


def declare_laptops(engine: Engine, n: int) -> dict[str, int]:
    """``n`` more laptops declared at the counter's collection point: link → asset id."""
    made: dict[str, int] = {}
    with engine.begin() as conn:
        for i in range(n):
            giai = f"9521234BULK{i:05d}"
            made[f"{RESOLVER}/8004/{giai}"] = declare_asset(
                conn,
                Declaration(
                    epc=giai_uri(giai),
                    category="laptop",
                    owner_id="ville-grenoble",
                    site_id=COUNTER[0],
                ),
            )
    return made


_ids = iter(range(1, 10**6))


def start_ingest(
    engine: Engine,
    host: str,
    port: int,
    writer: WriterKind = "local",
    local_max: int = 1,
    ca_file: str | None = None,
) -> IngestService:
    """The real ingest; ``writer="process"`` writes the ledger from a writer process,
    ``"local"`` from the ingest thread of this one, ``"hybrid"`` (as ``reemploi-server
    run`` does) batches of up to ``local_max`` here and larger ones in the process; with
    ``ca_file``, over TLS."""
    options = IngestOptions()
    url = engine.url.render_as_string(hide_password=False)
    service = IngestService(
        make_writer(
            writer,
            IngestPipeline(engine, Registry(ttl_s=0.0), options),
            WriterSpec(url, "FULL", options, 0.0),
            local_max,
        ),
        BrokerAddress(host, port, tls=ca_file is not None, ca_file=ca_file),
        client_id=f"server-test-{next(_ids)}",
    )
    service.start(wait_s=10)
    assert service.connected.is_set(), "ingest could not connect to Mosquitto"
    return service
