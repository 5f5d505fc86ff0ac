"""Ingest end to end: a reader publishes on a real Mosquitto, the real ingest writes the
ledger (SQLite and PostgreSQL) and acks the reader."""

from __future__ import annotations

import json
import time

import pytest
from server_reader import TestReader
from server_world import (
    COUNTER,
    LAPTOP_GIAI,
    LAPTOP_URI,
    PHONE_UID,
    RESOLVER,
    SCREEN_GIAI,
    SCREEN_URI,
    World,
    start_ingest,
)
from sqlalchemy import event, func, select

from reemploi.protocol import wire
from reemploi.server.db.tables import (
    assets,
    custody_events,
    dead_letters,
    devices,
    ingest_counters,
    sightings,
)
from reemploi.server.ingest.mqtt import IngestService
from reemploi.server.ingest.writer import LocalWriter
from reemploi.server.ledger import verify


def count(world: World, table, *where) -> int:  # type: ignore[no-untyped-def]
    with world.engine.connect() as conn:
        q = select(func.count()).select_from(table)
        for cond in where:
            q = q.where(cond)
        return int(conn.execute(q).scalar_one())


def counter_value(world: World, name: str) -> int:
    with world.engine.connect() as conn:
        value = conn.execute(
            select(ingest_counters.c.count).where(ingest_counters.c.name == name)
        ).scalar()
    return int(value or 0)


def test_tap_at_collection_point_records_collected_here_and_acks_accepted(
    world: World, counter: TestReader
) -> None:
    scan = counter.tap(0, wire.KIND_NDEF_URI, LAPTOP_URI, int(time.time() * 1000))
    ack = counter.next_ack()
    assert (ack.seq, ack.key, ack.result, ack.feedback, ack.duplicate) == (
        0,
        scan.key,
        "accepted",
        "accept",
        False,
    )
    laptop = world.assets[LAPTOP_GIAI]
    with world.engine.connect() as conn:
        asset = conn.execute(select(assets).where(assets.c.id == laptop)).one()
        events = conn.execute(
            select(custody_events)
            .where(custody_events.c.asset_id == laptop)
            .order_by(custody_events.c.position)
        ).all()
        sighting = conn.execute(select(sightings).where(sightings.c.key == scan.key)).one()
        assert verify(conn) == []
    assert asset.state == "collected"
    assert asset.holder_site_id == "cp-grenoble-hdv"
    assert [e.step for e in events] == ["declare", "collect"]
    document = json.loads(events[-1].document)
    assert document["bizStep"] == "collecting"
    assert document["epcList"] == [f"https://id.gs1.org/8004/{LAPTOP_GIAI}"]
    assert sighting.event_position == events[-1].position
    assert sighting.result == "accepted"
    # one event, counted once (the flow maps sum the event:* counters)
    assert (counter_value(world, "event:collect"), counter_value(world, "accepted")) == (1, 1)


def test_tap_at_workshop_dock_after_collection_records_received_there(
    world: World, counter: TestReader, dock: TestReader
) -> None:
    counter.tap(0, wire.KIND_NDEF_URI, SCREEN_URI)
    assert counter.next_ack().result == "accepted"
    dock.tap(0, wire.KIND_NDEF_URI, SCREEN_URI)
    ack = dock.next_ack()
    assert ack.result == "accepted"
    with world.engine.connect() as conn:
        asset = conn.execute(select(assets).where(assets.c.id == world.assets[SCREEN_GIAI])).one()
        last = conn.execute(
            select(custody_events).order_by(custody_events.c.position.desc()).limit(1)
        ).one()
    assert (asset.state, asset.holder_site_id, asset.holder_org_id) == (
        "received",
        "atelier-pont-de-claix",
        "atelier-sud",
    )
    document = json.loads(last.document)
    assert document["bizStep"] == "receiving"
    types = {entry["type"] for entry in document["destinationList"]}
    assert {"possessing_party", "location"} <= types


def test_nfc_uid_tag_resolves_through_the_tag_table(world: World, counter: TestReader) -> None:
    counter.tap(3, wire.KIND_NFC_UID, PHONE_UID)
    assert counter.next_ack().result == "accepted"
    assert count(world, custody_events, custody_events.c.step == "collect") == 1


def test_duplicate_delivery_is_recorded_once_and_acked_again_as_duplicate(
    world: World, counter: TestReader
) -> None:
    scan = wire.Scan(COUNTER[1], 7, wire.KIND_NDEF_URI, LAPTOP_URI, None, None)
    raw = wire.encode_scan(scan)
    counter.publish_raw(raw)
    first = counter.next_ack()
    counter.publish_raw(raw)
    second = counter.next_ack()
    assert (first.result, first.duplicate) == ("accepted", False)
    assert (second.result, second.duplicate, second.key) == ("accepted", True, scan.key)
    assert count(world, sightings, sightings.c.key == scan.key) == 1
    assert count(world, custody_events, custody_events.c.step == "collect") == 1
    assert counter_value(world, "duplicate") == 1


def test_replayed_sequence_number_with_other_content_is_refused_and_kept(
    world: World, counter: TestReader
) -> None:
    counter.tap(5, wire.KIND_NDEF_URI, LAPTOP_URI)
    assert counter.next_ack().result == "accepted"
    counter.tap(5, wire.KIND_NDEF_URI, SCREEN_URI)
    ack = counter.next_ack()
    assert (ack.result, ack.reason, ack.feedback) == ("rejected", "replayed_seq", "refuse")
    assert count(world, dead_letters, dead_letters.c.reason == "replayed_seq") == 1
    screen = world.assets[SCREEN_GIAI]
    assert count(world, custody_events, custody_events.c.asset_id == screen) == 1  # declare only


def test_unknown_tag_is_kept_as_a_sighting_and_acked_unknown(
    world: World, counter: TestReader
) -> None:
    scan = counter.tap(1, wire.KIND_NDEF_URI, f"{RESOLVER}/8004/9521234ZZZ999999")
    ack = counter.next_ack()
    assert (ack.result, ack.feedback) == ("unknown_tag", "unknown")
    with world.engine.connect() as conn:
        row = conn.execute(select(sightings).where(sightings.c.key == scan.key)).one()
    assert (row.result, row.asset_id, row.data) == ("unknown_tag", None, scan.data)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"v":1,"device":', "bad_json"),
        (b'{"v":1,"device":"cp-grenoble-hdv-comptoir","seq":"x"}', "missing_field"),
        (b"\xff\xfe", "bad_encoding"),
        (b'{"v":1,"qr":"' + b"x" * 5000 + b'"}', "too_large"),
    ],
)
def test_malformed_scan_goes_to_dead_letters_with_raw_bytes_and_a_refusal(
    world: World, counter: TestReader, payload: bytes, reason: str
) -> None:
    counter.publish_raw(payload)
    ack = counter.next_ack()
    assert (ack.result, ack.reason) == ("rejected", reason)
    with world.engine.connect() as conn:
        row = conn.execute(select(dead_letters)).one()
    assert (row.reason, bytes(row.payload), row.device_id) == (reason, payload, COUNTER[1])
    # ingest goes on after the bad message
    counter.tap(9, wire.KIND_NDEF_URI, LAPTOP_URI)
    assert counter.next_ack().result == "accepted"


def test_unknown_device_is_dead_lettered_without_ack(world: World, mosquitto) -> None:  # type: ignore[no-untyped-def]
    service = start_ingest(world.engine, mosquitto.host, mosquitto.port)
    stranger = TestReader(mosquitto.host, mosquitto.port, "cp-grenoble-hdv", "intrus-01")
    try:
        stranger.tap(0, wire.KIND_NDEF_URI, LAPTOP_URI)
        assert stranger.no_ack(1.5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not count(world, dead_letters):
            time.sleep(0.05)
        assert count(world, dead_letters, dead_letters.c.reason == "unknown_device") == 1
        assert count(world, sightings) == 0
    finally:
        stranger.close()
        service.stop()


def test_device_publishing_under_another_devices_topic_is_refused(
    world: World, counter: TestReader
) -> None:
    scan = wire.Scan("cp-smh-campus-comptoir", 1, wire.KIND_NDEF_URI, LAPTOP_URI, None, None)
    counter.publish_raw(wire.encode_scan(scan))
    ack = counter.next_ack()
    assert (ack.result, ack.reason) == ("rejected", "device_mismatch")
    assert count(world, sightings) == 0


def test_clock_far_off_is_accepted_with_server_time_and_counted(
    world: World, counter: TestReader
) -> None:
    future = int((time.time() + 3 * 3600) * 1000)
    scan = counter.tap(2, wire.KIND_NDEF_URI, LAPTOP_URI, future)
    assert counter.next_ack().result == "accepted"
    with world.engine.connect() as conn:
        row = conn.execute(select(sightings).where(sightings.c.key == scan.key)).one()
        event = conn.execute(
            select(custody_events).where(custody_events.c.position == row.event_position)
        ).one()
    assert row.anomaly == "clock_skew"
    assert abs(event.event_time.timestamp() - time.time()) < 60
    assert counter_value(world, "clock_skew") == 1


def test_step_not_allowed_from_current_state_is_refused(world: World, dock: TestReader) -> None:
    dock.tap(0, wire.KIND_NDEF_URI, LAPTOP_URI)  # still "declared": cannot be received
    ack = dock.next_ack()
    assert (ack.result, ack.reason) == ("rejected", "illegal_transition")
    assert count(world, custody_events, custody_events.c.step == "receive") == 0
    assert count(world, sightings, sightings.c.reason == "illegal_transition") == 1


def test_repeated_tap_at_the_same_place_is_accepted_without_a_new_event(
    world: World, counter: TestReader
) -> None:
    counter.tap(0, wire.KIND_NDEF_URI, LAPTOP_URI)
    counter.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
    acks = [counter.next_ack(), counter.next_ack()]
    assert [(a.result, a.reason) for a in acks] == [
        ("accepted", None),
        ("accepted", "already_recorded"),
    ]
    assert count(world, custody_events, custody_events.c.step == "collect") == 1


def test_status_updates_device_and_last_will_marks_it_offline(
    world: World, counter: TestReader
) -> None:
    status = wire.Status(COUNTER[1], "online", "1.2.0", 60, 90000, 0, 0, -60, "power_on", None)
    counter.publish_raw(wire.encode_status(status), kind="status")
    deadline = time.monotonic() + 5
    online = False
    while time.monotonic() < deadline and not online:
        with world.engine.connect() as conn:
            online = bool(
                conn.execute(select(devices.c.online).where(devices.c.id == COUNTER[1])).scalar()
            )
        time.sleep(0.05)
    assert online
    counter.publish_raw(wire.offline_status(COUNTER[1]), kind="status")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and online:
        with world.engine.connect() as conn:
            online = bool(
                conn.execute(select(devices.c.online).where(devices.c.id == COUNTER[1])).scalar()
            )
        time.sleep(0.05)
    assert not online


@pytest.mark.parametrize("ingest", ["local"], indirect=True)
def test_writer_keeps_one_connection_and_opens_a_new_one_after_a_failed_batch(
    world: World, ingest: IngestService, counter: TestReader
) -> None:
    checkouts: list[int] = []

    def on_checkout(*_args: object) -> None:
        checkouts.append(1)

    event.listen(world.engine, "checkout", on_checkout)
    try:
        counter.tap(0, wire.KIND_NDEF_URI, LAPTOP_URI)
        assert counter.next_ack().result == wire.RESULT_ACCEPTED
        counter.tap(1, wire.KIND_NDEF_URI, SCREEN_URI)
        assert counter.next_ack().result == wire.RESULT_ACCEPTED
        assert len(checkouts) <= 1  # two batches, at most one pool checkout (none if held)
        # the database connection breaks under the writer: the batch is kept, retried on
        # a new connection, and acked once
        assert isinstance(ingest.writer, LocalWriter)
        held = ingest.writer._conn
        assert held is not None
        held.connection.driver_connection.close()  # type: ignore[union-attr]
        before = len(checkouts)
        counter.tap(2, wire.KIND_NDEF_URI, LAPTOP_URI)
        ack = counter.next_ack(timeout=15)
        assert (ack.seq, ack.result, ack.reason) == (2, wire.RESULT_ACCEPTED, "already_recorded")
        assert len(checkouts) == before + 1
        assert ingest.last_error is not None and "écriture du registre" in ingest.last_error
        assert counter.no_ack(wait=1.5)
    finally:
        event.remove(world.engine, "checkout", on_checkout)
