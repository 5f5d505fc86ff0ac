"""Anti-clone tags in ingest: a genuine NTAG 424 DNA SUN URL records custody; a copied
(replayed), tampered or unconfigured one is refused with its reason and kept as evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from server_world import LAPTOP_GIAI, World
from sqlalchemy import select

from reemploi.domain.sun import SunKeys, sign_sun_url
from reemploi.protocol import wire
from reemploi.server.db.tables import custody_events, sightings, sun_tags
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.registry import Registry, register_sun_tag
from reemploi.server.settings import ServerSettings

KEYS = SunKeys(bytes(range(1, 17)), bytes(range(17, 33)))
UID = bytes.fromhex("04DE5F1EACC040")
BASE = f"https://id.reemploi.grenoble.example/8004/{LAPTOP_GIAI}"
SITE, DEVICE = "cp-grenoble-hdv", "cp-grenoble-hdv-comptoir"


class Counter:
    seq = 0


def tap(pipeline: IngestPipeline, url: str) -> wire.Ack:
    Counter.seq += 1
    scan = wire.Scan(DEVICE, Counter.seq, wire.KIND_SUN_URL, url, None, None)
    result = pipeline.process(
        [Incoming(wire.topic(SITE, DEVICE, "scan"), wire.encode_scan(scan), datetime.now(UTC))]
    )
    (ack,) = result.acks
    return wire.decode_ack(ack.payload)


@pytest.fixture
def pipeline(world: World) -> IngestPipeline:
    with world.engine.begin() as conn:
        register_sun_tag(conn, UID.hex(), world.assets[LAPTOP_GIAI])
    return IngestPipeline(world.engine, Registry(), IngestOptions(sun_keys=KEYS))


def test_genuine_sun_tap_records_custody_and_moves_the_counter(
    world: World, pipeline: IngestPipeline
) -> None:
    ack = tap(pipeline, sign_sun_url(BASE, UID, 5, KEYS))
    assert (ack.result, ack.reason) == ("accepted", None)
    with world.engine.connect() as conn:
        assert conn.execute(select(sun_tags.c.last_counter)).scalar_one() == 5
        steps = conn.execute(select(custody_events.c.step)).scalars().all()
    assert steps.count("collect") == 1


def test_replayed_sun_url_is_refused_even_under_a_new_sequence_number(
    world: World, pipeline: IngestPipeline
) -> None:
    url = sign_sun_url(BASE, UID, 9, KEYS)
    assert tap(pipeline, url).result == "accepted"
    copied = tap(pipeline, url)
    assert (copied.result, copied.reason, copied.feedback) == ("rejected", "sun_replayed", "refuse")
    older = tap(pipeline, sign_sun_url(BASE, UID, 8, KEYS))
    assert older.reason == "sun_replayed"
    assert tap(pipeline, sign_sun_url(BASE, UID, 10, KEYS)).result == "accepted"
    with world.engine.connect() as conn:
        kept = (
            conn.execute(select(sightings.c.data).where(sightings.c.reason == "sun_replayed"))
            .scalars()
            .all()
        )
    assert kept.count(url) == 1


def test_tampered_mac_is_refused_as_a_copy(pipeline: IngestPipeline) -> None:
    url = sign_sun_url(BASE, UID, 3, KEYS)
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert tap(pipeline, forged).reason == "sun_bad_mac"


def test_tag_signed_with_other_keys_is_refused(pipeline: IngestPipeline) -> None:
    other = SunKeys(bytes(range(2, 18)), bytes(range(17, 33)))
    ack = tap(pipeline, sign_sun_url(BASE, UID, 3, other))
    # a wrong meta key decrypts to noise: refused at the first check it fails
    assert ack.result == "rejected"
    assert ack.reason in {"sun_bad_picc", "sun_uid_length", "sun_bad_mac"}


def test_sun_url_carrying_another_assets_link_is_refused(pipeline: IngestPipeline) -> None:
    other = "https://id.reemploi.grenoble.example/8004/9521234SCR000002"
    assert tap(pipeline, sign_sun_url(other, UID, 4, KEYS)).reason == "sun_url_mismatch"


def test_unknown_uid_is_an_unknown_tag(pipeline: IngestPipeline) -> None:
    ack = tap(pipeline, sign_sun_url(BASE, bytes.fromhex("04000000000001"), 1, KEYS))
    assert ack.result == "unknown_tag"


def test_without_keys_sun_scans_are_refused_not_trusted(world: World) -> None:
    pipeline = IngestPipeline(world.engine, Registry(), IngestOptions())
    assert tap(pipeline, sign_sun_url(BASE, UID, 1, KEYS)).reason == "sun_not_configured"


def test_settings_refuse_factory_and_malformed_sun_keys() -> None:
    with pytest.raises(ValidationError, match="clé SUN nulle"):
        ServerSettings(sun_meta_read_key="0" * 32, sun_file_master_key="11" * 16)
    with pytest.raises(ValidationError, match="hexadécimaux"):
        ServerSettings(sun_meta_read_key="xyz", sun_file_master_key="11" * 16)
    keys = ServerSettings(sun_meta_read_key="01" * 16, sun_file_master_key="02" * 16).sun_keys()
    assert keys is not None and keys.meta_read_key == bytes([1]) * 16
