"""Lot movements from gateways: a cage with a BLE beacon is loaded into a carrier's van
(shipping, the carrier becomes the possessing party), leaves the collection point and
arrives at the sorting centre (receiving) — each asset's chain of custody shows it. Bad
gateway input is kept as evidence."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from server_world import LAPTOP_GIAI, SCREEN_GIAI, World
from sqlalchemy import select

from reemploi.domain.digital_link import sscc_uri
from reemploi.protocol import gateway_msgs, wire
from reemploi.provisioning.eddystone import lot_uid_identity
from reemploi.server.db.tables import assets, custody_events, dead_letters, lot_movements
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.ledger import verify
from reemploi.server.registry import (
    Device,
    Organisation,
    Registry,
    Site,
    add_device,
    add_organisation,
    add_site,
    pack_lot,
)

SSCC = "395212340000000014"
BEACON = lot_uid_identity(SSCC).identity()
CARRIER_PGLN = "https://id.gs1.org/417/9521234009016"


@pytest.fixture
def pipeline(world: World) -> IngestPipeline:
    with world.engine.begin() as conn:
        add_organisation(
            conn, Organisation("transports-alpes", CARRIER_PGLN, "Transports (démo)", "carrier")
        )
        add_site(
            conn,
            Site(
                "van-ab123cd",
                "https://id.gs1.org/414/9521234009023",
                "Fourgon AB-123-CD",
                "vehicle",
                "transports-alpes",
                "Grenoble",
                45.18,
                5.72,
            ),
        )
        add_device(conn, Device("gw-van-ab123cd", "van-ab123cd", "gateway", None, False))
        add_device(conn, Device("gw-cp-grenoble-hdv", "cp-grenoble-hdv", "gateway", None, False))
        add_device(conn, Device("gw-tri-sassenage", "tri-sassenage", "gateway", None, False))
    p = IngestPipeline(world.engine, Registry(), IngestOptions())
    for seq, giai in enumerate((LAPTOP_GIAI, SCREEN_GIAI)):
        scan = wire.Scan(
            "cp-grenoble-hdv-comptoir",
            seq,
            wire.KIND_NDEF_URI,
            f"https://id.reemploi.grenoble.example/8004/{giai}",
            None,
            None,
        )
        send(
            p,
            wire.topic("cp-grenoble-hdv", "cp-grenoble-hdv-comptoir", "scan"),
            wire.encode_scan(scan),
        )
    with world.engine.begin() as conn:
        pack_lot(
            conn,
            sscc_uri(SSCC),
            [world.assets[LAPTOP_GIAI], world.assets[SCREEN_GIAI]],
            "cp-grenoble-hdv",
            [BEACON],
        )
    return p


def send(p: IngestPipeline, topic: str, payload: bytes) -> None:
    p.process([Incoming(topic, payload, datetime.now(UTC))])


def move(
    p: IngestPipeline,
    site: str,
    gateway: str,
    seq: int,
    event: str,
    mode: str,
    beacon: str = BEACON,
) -> bytes:
    now = int(time.time() * 1000)
    raw = gateway_msgs.encode_lot_movement(
        gateway_msgs.LotMovement(gateway, seq, event, beacon, mode, now, now - 5000, -58, 12)
    )
    send(p, gateway_msgs.gateway_topic(site, gateway, "lot"), raw)
    return raw


def chain(world: World, giai: str) -> list[tuple[str, str | None]]:
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(custody_events.c.step, custody_events.c.site_to)
            .where(custody_events.c.asset_id == world.assets[giai])
            .order_by(custody_events.c.position)
        ).all()
    return [(r.step, r.site_to) for r in rows]


def test_lot_journey_ships_with_the_carrier_and_is_received_at_sorting(
    world: World, pipeline: IngestPipeline
) -> None:
    move(pipeline, "van-ab123cd", "gw-van-ab123cd", 0, "arrived", "vehicle")
    move(pipeline, "cp-grenoble-hdv", "gw-cp-grenoble-hdv", 0, "departed", "site")
    move(pipeline, "van-ab123cd", "gw-van-ab123cd", 1, "departed", "vehicle")
    move(pipeline, "tri-sassenage", "gw-tri-sassenage", 0, "arrived", "site")
    for giai in (LAPTOP_GIAI, SCREEN_GIAI):
        assert chain(world, giai) == [
            ("declare", "cp-grenoble-hdv"),
            ("collect", "cp-grenoble-hdv"),
            ("pack", "cp-grenoble-hdv"),
            ("ship", "van-ab123cd"),
            ("receive", "tri-sassenage"),
        ]
    with world.engine.connect() as conn:
        laptop = conn.execute(select(assets).where(assets.c.id == world.assets[LAPTOP_GIAI])).one()
        docs = [
            json.loads(d)
            for d in conn.execute(
                select(custody_events.c.document)
                .where(custody_events.c.asset_id == world.assets[LAPTOP_GIAI])
                .order_by(custody_events.c.position)
            ).scalars()
        ]
        counts = conn.execute(
            select(lot_movements.c.seq, lot_movements.c.events).order_by(lot_movements.c.id)
        ).all()
        assert verify(conn) == []
    assert (laptop.state, laptop.holder_site_id, laptop.holder_org_id) == (
        "received",
        "tri-sassenage",
        "tri-solidaire",
    )
    pack, ship, receive = docs[2], docs[3], docs[4]
    assert pack["type"] == "AggregationEvent" and pack["parentID"] == sscc_uri(SSCC)
    assert ship["bizStep"] == "shipping" and ship["disposition"] == "in_transit"
    carrier = {"type": "possessing_party", "destination": CARRIER_PGLN}
    assert carrier in ship["destinationList"]
    assert {"type": "possessing_party", "source": CARRIER_PGLN} in receive["sourceList"]
    assert receive["bizStep"] == "receiving"
    assert [c.events for c in counts] == [2, 0, 0, 2]


def test_site_departure_without_a_carrier_ships_but_keeps_custody_with_the_shipper(
    world: World, pipeline: IngestPipeline
) -> None:
    move(pipeline, "cp-grenoble-hdv", "gw-cp-grenoble-hdv", 0, "departed", "site")
    assert chain(world, LAPTOP_GIAI)[-1] == ("ship", "cp-grenoble-hdv")
    with world.engine.connect() as conn:
        state = conn.execute(
            select(assets.c.state).where(assets.c.id == world.assets[LAPTOP_GIAI])
        ).scalar_one()
    assert state == "in_transit"


def test_duplicate_and_replayed_lot_messages(world: World, pipeline: IngestPipeline) -> None:
    raw = move(pipeline, "van-ab123cd", "gw-van-ab123cd", 0, "arrived", "vehicle")
    send(pipeline, gateway_msgs.gateway_topic("van-ab123cd", "gw-van-ab123cd", "lot"), raw)
    move(pipeline, "van-ab123cd", "gw-van-ab123cd", 0, "departed", "vehicle")
    with world.engine.connect() as conn:
        assert len(conn.execute(select(lot_movements)).all()) == 1
        reasons = conn.execute(select(dead_letters.c.reason)).scalars().all()
    assert reasons == ["replayed_seq"]
    assert [s for s, _ in chain(world, LAPTOP_GIAI)].count("ship") == 1


def test_unknown_beacon_is_recorded_as_an_unknown_lot(
    world: World, pipeline: IngestPipeline
) -> None:
    stranger = lot_uid_identity("395212340000000021").identity()
    move(pipeline, "tri-sassenage", "gw-tri-sassenage", 0, "arrived", "site", stranger)
    with world.engine.connect() as conn:
        row = conn.execute(select(lot_movements)).one()
    assert (row.result, row.reason, row.lot_id) == ("unknown_tag", "unknown_lot", None)


def test_malformed_lot_message_and_forwarded_evidence_are_kept(
    world: World, pipeline: IngestPipeline
) -> None:
    send(pipeline, "reemploi/v1/tri-sassenage/gw-tri-sassenage/lot", b'{"v":1}')
    evidence = gateway_msgs.make_evidence(
        "gw-tri-sassenage",
        "reemploi/v1/tri-sassenage/tri-sassenage-quai/scan",
        "bad_json",
        "payload is not JSON",
        b"{garbage",
        int(time.time() * 1000),
    )
    send(
        pipeline,
        "reemploi/v1/tri-sassenage/gw-tri-sassenage/evidence",
        gateway_msgs.encode_evidence(evidence),
    )
    with world.engine.connect() as conn:
        rows = conn.execute(select(dead_letters).order_by(dead_letters.c.id)).all()
    assert [(r.reason, r.device_id) for r in rows] == [
        ("missing_field", "gw-tri-sassenage"),
        ("bad_json", "tri-sassenage-quai"),
    ]
    assert bytes(rows[1].payload) == b"{garbage"


def test_transhipment_to_another_van_is_transporting_with_the_new_carrier(
    world: World, pipeline: IngestPipeline
) -> None:
    second_carrier = "https://id.gs1.org/417/9521234009030"
    with world.engine.begin() as conn:
        add_organisation(
            conn, Organisation("transports-isere", second_carrier, "Transports 2 (démo)", "carrier")
        )
        add_site(
            conn,
            Site(
                "van-ef456gh",
                "https://id.gs1.org/414/9521234009047",
                "Fourgon EF-456-GH",
                "vehicle",
                "transports-isere",
                "Échirolles",
                45.15,
                5.72,
            ),
        )
        add_device(conn, Device("gw-van-ef456gh", "van-ef456gh", "gateway", None, False))
    move(pipeline, "van-ab123cd", "gw-van-ab123cd", 0, "arrived", "vehicle")
    move(pipeline, "van-ef456gh", "gw-van-ef456gh", 0, "arrived", "vehicle")
    assert [s for s, _ in chain(world, LAPTOP_GIAI)][-2:] == ["ship", "transport"]
    with world.engine.connect() as conn:
        last = json.loads(
            conn.execute(
                select(custody_events.c.document)
                .where(custody_events.c.asset_id == world.assets[LAPTOP_GIAI])
                .order_by(custody_events.c.position.desc())
                .limit(1)
            ).scalar_one()
        )
        holder = conn.execute(
            select(assets.c.state, assets.c.holder_org_id).where(
                assets.c.id == world.assets[LAPTOP_GIAI]
            )
        ).one()
    assert last["bizStep"] == "transporting" and "bizLocation" not in last
    assert {"type": "possessing_party", "source": CARRIER_PGLN} in last["sourceList"]
    assert {"type": "possessing_party", "destination": second_carrier} in last["destinationList"]
    assert tuple(holder) == ("in_transit", "transports-isere")
