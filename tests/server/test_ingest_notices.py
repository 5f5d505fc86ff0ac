"""A writer's memory made complete (ingest/memory.py, migration 0010_assets_notify): on
PostgreSQL a writer's connection starts with the assets still in hand and the chain's
head, and every change another writer commits to an asset is announced to it, so that a
*first* tap of an asset declared at the counter is one round trip too. The writers' own
changes are not announced; an idle writer keeps up with the notices."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import psycopg
import pytest
from alembic import command
from server_reader import TestReader
from server_world import COUNTER, DOCK, LAPTOP_GIAI, LAPTOP_URI, SCREEN_URI, World
from sqlalchemy import Engine, select, text, update
from test_ingest_memory import _ack, _known, _tap
from test_ingest_pipelined import _traced, _waits

from reemploi.domain.digital_link import giai_uri
from reemploi.protocol import wire
from reemploi.server.db.engine import alembic_config, make_engine, migrate
from reemploi.server.db.tables import assets, ledger_head
from reemploi.server.demo.flows import label_uri
from reemploi.server.ingest.counters import read_all
from reemploi.server.ingest.memory import CHANNEL, RECALL_MAX_SCANS, KnownAsset, WriterMemory
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import LocalWriter
from reemploi.server.ledger import Head, verify
from reemploi.server.registry import Declaration, Registry, declare_asset

NEW_GIAI = "9521234NEW000009"

# ------------------------------------------------------------------ the memory alone


def test_notices_update_add_and_drop_assets_and_an_unreadable_one_empties_the_memory() -> None:
    memory = WriterMemory(assets_max=10)
    memory.load([_known(1), _known(2)], Head(4, "h4"))
    moved = [1, _known(1).epc, "laptop", "received", "atelier", "atelier-pdc"]
    memory.notified(json.dumps(moved))
    assert memory.asset(_known(1).epc) == KnownAsset.of(moved)
    memory.notified(json.dumps([3, _known(3).epc, "phone", "declared", "org", "site"]))
    assert memory.asset(_known(3).epc) is not None and len(memory) == 3  # declared elsewhere
    memory.notified(json.dumps([2, _known(2).epc, "laptop", "sold", "buyer", "site"]))
    assert memory.asset(_known(2).epc) is None  # left the chain of reuse: not kept
    memory.notified(json.dumps([3, _known(3).epc]))  # deleted
    assert memory.asset(_known(3).epc) is None
    assert memory.head == Head(4, "h4") and memory.notices == 4 and memory.unreadable == 0
    for bad in ("not json", "[1, 2, 3]", '{"id": 1}', "[1]"):
        memory.load([_known(1)], Head(4, "h4"))
        memory.notified(bad)
        assert len(memory) == 0 and memory.head is None, bad
    assert memory.unreadable == 4


def test_a_stale_batch_forgets_only_what_it_relied_on() -> None:
    memory = WriterMemory(assets_max=10)
    memory.load([_known(1), _known(2), _known(3)], Head(4, "h4"))
    memory.forget([_known(2)])
    assert memory.head is None and len(memory) == 2 and memory.asset(_known(2).epc) is None
    memory.forget()
    assert len(memory) == 0


def test_the_load_keeps_the_most_recently_changed() -> None:
    memory = WriterMemory(assets_max=2)
    memory.load([_known(1), _known(2), _known(3)], None)  # least recently changed first
    assert memory.asset(_known(1).epc) is None and len(memory) == 2


# ------------------------------------------------------------------ against PostgreSQL


def _remembering(engine: Engine) -> tuple[IngestPipeline, WriterMemory]:
    """A pipeline on PostgreSQL, and its memory."""
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    assert pipeline.memory is not None
    return pipeline, pipeline.memory


def _declare(engine: Engine, giai: str) -> int:
    """What the web application does when an IT manager declares a unit."""
    with engine.begin() as conn:
        return declare_asset(
            conn,
            Declaration(
                epc=giai_uri(giai), category="laptop", owner_id="ville-grenoble", site_id=COUNTER[0]
            ),
        )


@pytest.mark.postgres
def test_a_writer_starts_with_the_assets_in_hand_and_a_first_tap_is_one_round_trip(
    pg_world: World, tmp_path: Path
) -> None:
    """The world's three units are declared before the writer connects: it loads them
    (not the one already sold) with the chain's head, and the laptop's collection — its
    first tap, a custody event — is one wait for the server instead of two."""
    engine = pg_world.engine
    with engine.begin() as conn:
        conn.execute(update(assets).where(assets.c.epc.like("%PHO%")).values(state="sold"))
        head = conn.execute(select(ledger_head.c.count, ledger_head.c.last_hash)).one()
    pipeline, memory = _remembering(engine)
    with engine.connect() as conn:
        assert pipeline.attach(conn) == 2
        pipeline.rehearse(conn)  # the readers' registry warmed, as a writer starts
        assert memory.head == Head(head.count, head.last_hash)
        assert memory.asset(giai_uri(LAPTOP_GIAI)) is not None
        collected, lines = _traced(
            conn, tmp_path / "libpq.trace", pipeline, [_tap(COUNTER, 1, LAPTOP_URI)]
        )
        assert verify(conn) == []
    assert _ack(collected)["reason"] is None  # collected here: an event chained
    assert _waits(lines) == 1, "\n".join(lines)
    assert (memory.batches, memory.stale) == (1, 0)


@pytest.mark.postgres
def test_changes_made_elsewhere_reach_the_writer_before_its_next_batch(
    pg_world: World, tmp_path: Path
) -> None:
    """After the writer connected, the web application declares a laptop and a workshop
    takes the screen: the notices bring both into the writer's memory before its next
    batch, so the new laptop's first tap is one round trip, and the screen is known where
    it now is."""
    engine = pg_world.engine
    pipeline, memory = _remembering(engine)
    with engine.connect() as conn:
        pipeline.attach(conn)
        new_id = _declare(engine, NEW_GIAI)
        with engine.begin() as web:
            web.execute(
                update(assets)
                .where(assets.c.epc.like("%SCR%"))
                .values(state="received", holder_site_id=DOCK[0], holder_org_id="atelier-sud")
                .execution_options(synchronize_session=False)
            )
        time.sleep(0.2)  # notices travel after each commit
        assert pipeline.catch_up(conn) == 2
        new = memory.asset(giai_uri(NEW_GIAI))
        assert new is not None and (new.id, new.state) == (new_id, "declared")
        screen = memory.asset(giai_uri("9521234SCR000002"))
        assert screen is not None and (screen.state, screen.holder_site) == ("received", DOCK[0])
        # the head moved (the declaration chained an event): found stale once, read again
        collected = pipeline.process([_tap(COUNTER, 1, label_uri(NEW_GIAI))], conn)
        assert (memory.batches, memory.stale) == (1, 1)
        again, lines = _traced(
            conn, tmp_path / "libpq.trace", pipeline, [_tap(COUNTER, 2, SCREEN_URI)]
        )
        assert verify(conn) == []
        assert read_all(conn)["memory_stale"] == 1  # counted where operators look
    assert _ack(collected)["reason"] is None
    # the screen is at the workshop now: the counter may not collect it, nor does the
    # memory answer from what it was
    assert (_ack(again)["result"], _ack(again)["reason"]) == ("rejected", "illegal_transition")
    assert _waits(lines) == 1 and (memory.batches, memory.stale) == (2, 1)


@pytest.mark.postgres
def test_the_ingest_writers_own_changes_are_not_announced(
    pg_world: World, postgres_database_url: str
) -> None:
    """A listener sees the web application's change and none of an ingest writer's
    (each writer knows what it wrote; a notice per tap would cost every commit)."""
    engine = pg_world.engine
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        pipeline = IngestPipeline(engine, Registry(), IngestOptions())
        with engine.connect() as conn:
            pipeline.attach(conn)
            assert _ack(pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn))["reason"] is None
            assert list(listener.notifies(timeout=0.5)) == []
            with engine.begin() as web:  # another connection: the writer's is checked out
                web.execute(text("UPDATE assets SET state = 'inspected' WHERE epc LIKE '%LAP%'"))
                web.execute(text("UPDATE assets SET grade = 'A' WHERE epc LIKE '%SCR%'"))  # no
            notices = list(listener.notifies(timeout=1.0, stop_after=1))
            assert list(listener.notifies(timeout=0.3)) == []  # nothing for the grade
    assert [n.channel for n in notices] == [CHANNEL]
    row = json.loads(notices[0].payload)
    assert row[1] == giai_uri(LAPTOP_GIAI) and row[3] == "inspected" and len(row) == 6


@pytest.mark.postgres
def test_a_large_batch_reads_whatever_is_remembered(pg_world: World) -> None:
    """A burst's batch reads its assets: a stale memory would make it do all its work
    twice, and its reads are a small part of its time."""
    engine = pg_world.engine
    pipeline, memory = _remembering(engine)
    with engine.connect() as conn:
        pipeline.attach(conn)
        taps = [_tap(COUNTER, seq, LAPTOP_URI) for seq in range(1, RECALL_MAX_SCANS + 2)]
        result = pipeline.process(taps, conn)
        assert memory.batches == 0
        pipeline.process(taps[:RECALL_MAX_SCANS], conn)  # all resent: within the limit
        assert memory.batches == 1
    assert len(result.acks) == RECALL_MAX_SCANS + 1


@pytest.mark.postgres
def test_an_idle_ingest_service_keeps_its_writers_memory_current(
    pg_world: World,
    mosquitto,  # type: ignore[no-untyped-def]
) -> None:
    """No scan for a while: the service still has its writer read the notices (once a
    second), so a unit declared meanwhile is known before its first tap arrives."""
    engine = pg_world.engine
    pipeline, memory = _remembering(engine)
    service = IngestService(
        LocalWriter(pipeline), BrokerAddress(mosquitto.host, mosquitto.port, tls=False), "idle"
    )
    service.start(wait_s=10)
    reader = TestReader(mosquitto.host, mosquitto.port, *COUNTER)
    try:
        assert memory.head is not None  # the writer connected (and rehearsed) at start
        _declare(engine, NEW_GIAI)
        deadline = time.monotonic() + 5
        while memory.asset(giai_uri(NEW_GIAI)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert memory.asset(giai_uri(NEW_GIAI)) is not None and memory.notices == 1
        reader.tap(1, wire.KIND_NDEF_URI, label_uri(NEW_GIAI))
        ack = reader.next_ack(timeout=10)
        assert (ack.seq, ack.result, ack.reason) == (1, wire.RESULT_ACCEPTED, None)
    finally:
        reader.close()
        service.stop()


@pytest.mark.postgres
def test_the_notices_come_and_go_with_the_migration(postgres_database_url: str) -> None:
    engine = make_engine(postgres_database_url)
    try:
        migrate(engine)

        def triggers() -> list[str]:
            with engine.connect() as conn:
                return sorted(
                    conn.execute(
                        text(
                            "SELECT tgname FROM pg_trigger"
                            " WHERE tgrelid = 'assets'::regclass AND NOT tgisinternal"
                            " AND tgfoid IN (SELECT oid FROM pg_proc"
                            " WHERE proname = 'reemploi_asset_changed')"
                        )
                    ).scalars()
                )

        assert triggers() == ["assets_added_or_removed", "assets_moved"]
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0009_opaque_no_stats")
        assert triggers() == []
        migrate(engine)
        assert triggers() == ["assets_added_or_removed", "assets_moved"]
    finally:
        engine.dispose()


def test_the_assets_kept_cost_the_cycle_collector_nothing() -> None:
    """50,000 assets kept as objects added ≈ 13 ms to every full collection of the
    writer's process, a pause in the ack latency's tail: they are kept in a form the
    collector stops tracking."""
    gc.collect()
    before = len(gc.get_objects())
    memory = WriterMemory(assets_max=20_000)
    memory.load((_known(n) for n in range(20_000)), Head(1, "h"))
    gc.collect()
    assert len(memory) == 20_000
    assert len(gc.get_objects()) - before < 100
    assert memory.asset(_known(7).epc) == _known(7)
