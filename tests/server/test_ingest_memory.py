"""The writer's memory (ingest/memory.py): on PostgreSQL a batch whose taps all concern
assets the writer has just written skips its reads (one round trip instead of two), and
whatever changed behind the writer's back — an asset moved by another writer, a chain
grown or restored elsewhere, a sequence number already stored — is caught by the
database inside the batch, which is then done again with its reads: the answers and the
ledger are the ones a reading writer gives."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from server_world import COUNTER, DOCK, LAPTOP_GIAI, LAPTOP_URI, SCREEN_URI, World, load_world
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from test_ingest_pipelined import _statements, _traced, _waits

from reemploi.domain.digital_link import giai_uri
from reemploi.protocol import wire
from reemploi.server.db.engine import make_engine
from reemploi.server.db.tables import assets, custody_events, dead_letters, ledger_head, sightings
from reemploi.server.ingest.memory import (
    KnownAsset,
    WriterMemory,
    assets_guard,
    head_guard,
    is_stale,
)
from reemploi.server.ingest.pipeline import BatchResult, Incoming, IngestOptions, IngestPipeline
from reemploi.server.ledger import Head, verify
from reemploi.server.registry import Registry

# ------------------------------------------------------------------ the memory alone


def _known(n: int, state: str = "collected") -> KnownAsset:
    return KnownAsset(n, f"urn:epc:id:giai:9521234.{n}", "laptop", state, "org", "site")


def test_the_memory_keeps_the_assets_used_last_and_forgets_everything_at_once() -> None:
    memory = WriterMemory(assets_max=2)
    memory.remember([_known(1), _known(2)], Head(5, "h5"))
    assert memory.asset(_known(1).epc) == _known(1)  # 1 is now the most recent
    memory.remember([_known(3)], None)  # 2, the least recently used, goes
    assert len(memory) == 2
    assert memory.asset(_known(2).epc) is None
    assert memory.asset(_known(3).epc) == _known(3)
    assert memory.head == Head(5, "h5")  # a batch that did not touch the head keeps it
    memory.remember([_known(1, "received")], Head(6, "h6"))
    assert memory.asset(_known(1).epc) == _known(1, "received") and memory.head == Head(6, "h6")
    memory.forget()
    assert len(memory) == 0 and memory.head is None
    with pytest.raises(ValueError):
        WriterMemory(assets_max=0)


def test_only_a_failed_check_counts_as_stale() -> None:
    class Failed(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    assert is_stale(Failed("22012")) and is_stale(Failed("23505"))
    assert not is_stale(Failed("P0001")) and not is_stale(Failed("08006"))
    assert not is_stale(RuntimeError("no sqlstate"))
    with pytest.raises(ValueError):
        assets_guard([], lock=False)
    sql, params = assets_guard([_known(2), _known(1)], lock=True)
    assert sql.count("WHERE id = :i") == sql.count("FOR UPDATE") == 2
    assert (params["i0"], params["i1"]) == (1, 2)  # locked in the order of their ids
    assert "FOR UPDATE" not in assets_guard([_known(1)], lock=False)[0]
    assert head_guard(Head(3, "h"))[1] == {"count": 3, "last": "h"}


# ------------------------------------------------------------------ against PostgreSQL


def _tap(where: tuple[str, str], seq: int, uri: str) -> Incoming:
    site, device = where
    scan = wire.Scan(device, seq, wire.KIND_NDEF_URI, uri)
    return Incoming(wire.topic(site, device, "scan"), wire.encode_scan(scan), datetime.now(UTC))


def _ack(result: BatchResult, index: int = 0) -> dict[str, object]:
    return dict(json.loads(result.acks[index].payload))


def _laptop_state(engine: Engine) -> tuple[str, str]:
    with engine.connect() as conn:
        row = conn.execute(
            select(assets.c.state, assets.c.holder_site_id).where(assets.c.epc.like("%LAP%"))
        ).one()
    return row.state, row.holder_site_id


@pytest.mark.postgres
@pytest.mark.parametrize("remembered", [10_000, 0], ids=["remembering", "reading"])
def test_a_repeat_tap_of_an_asset_just_written_is_one_round_trip(
    pg_world: World, tmp_path: Path, remembered: int
) -> None:
    """The laptop's collection, then the same reader's double tap: with the memory the
    second batch is one wait for the server (BEGIN, the asset check, the sighting, the
    counters, COMMIT), without it two; the answer is the same."""
    pipeline = IngestPipeline(
        pg_world.engine, Registry(), IngestOptions(remembered_assets=remembered)
    )
    with pg_world.engine.connect() as conn:
        first = pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)
        again, lines = _traced(
            conn, tmp_path / "libpq.trace", pipeline, [_tap(COUNTER, 2, LAPTOP_URI)]
        )
        assert verify(conn) == []
    assert _ack(first)["reason"] is None
    assert (_ack(again)["result"], _ack(again)["reason"]) == ("accepted", "already_recorded")
    done = _statements(lines)
    assert done[0] == "BEGIN" and done[-1] == "COMMIT" and done.count("BEGIN") == 1, done
    assert _waits(lines) == (1 if remembered else 2), "\n".join(lines)
    memory = pipeline.memory
    if remembered:
        assert memory is not None and (memory.batches, memory.stale) == (1, 0)
    else:
        assert memory is None


@pytest.mark.postgres
def test_an_asset_moved_by_another_writer_is_noticed_and_the_batch_read_again(
    pg_world: World,
) -> None:
    """The laptop is collected by this writer; another writer (the hybrid's other half)
    takes it to the workshop dock. This writer's next tap of it at the counter must not
    answer from its memory (« already recorded »): the check fails, the batch is read
    again and refused like a reading writer refuses it — the laptop is no longer here."""
    engine = pg_world.engine
    ours = IngestPipeline(engine, Registry(), IngestOptions())
    theirs = IngestPipeline(engine, Registry(), IngestOptions())
    with engine.connect() as conn:
        ours.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)
    with engine.connect() as conn:
        moved = theirs.process([_tap(DOCK, 1, LAPTOP_URI)], conn)
    assert _ack(moved)["reason"] is None and _laptop_state(engine)[1] == DOCK[0]
    with engine.connect() as conn:
        again = ours.process([_tap(COUNTER, 2, LAPTOP_URI)], conn)
        assert verify(conn) == []
        events = conn.execute(select(func.count()).select_from(custody_events)).scalar_one()
    assert (_ack(again)["result"], _ack(again)["reason"]) == ("rejected", "illegal_transition")
    assert ours.memory is not None and (ours.memory.batches, ours.memory.stale) == (1, 1)
    assert _laptop_state(engine)[1] == DOCK[0]
    assert events == 3 + 2  # three declarations, the collection, the reception: nothing more
    # the batch read again refreshed the memory: the next tap goes without reads again
    with engine.connect() as conn:
        ours.process([_tap(COUNTER, 3, LAPTOP_URI)], conn)
    assert (ours.memory.batches, ours.memory.stale) == (2, 1)


@pytest.mark.postgres
def test_a_chain_head_changed_elsewhere_is_noticed_before_an_event_is_chained(
    pg_world: World,
) -> None:
    """The writer remembers the chain's head after the laptop's collection; the ledger is
    then put back one event (a restore from a backup taken just before). Its next batch,
    the laptop received at the dock, must not chain onto the head it remembers (the
    position would leave a gap no unique key sees): the head check fails, the batch is
    read again, and the chain verifies."""
    engine = pg_world.engine
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 1, SCREEN_URI)], conn)
    with engine.begin() as conn:  # the backup: the ledger as it is now
        saved = conn.execute(select(ledger_head.c.count, ledger_head.c.last_hash)).one()
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 2, LAPTOP_URI)], conn)
    with engine.begin() as conn:  # the restore: the laptop's collection is undone
        conn.execute(delete(sightings).where(sightings.c.seq == 2))
        conn.execute(delete(custody_events).where(custody_events.c.position > saved.count))
        conn.execute(update(ledger_head).values(count=saved.count, last_hash=saved.last_hash))
        conn.execute(
            update(assets)
            .where(assets.c.id == pg_world.assets[LAPTOP_GIAI])
            .values(state="declared", holder_site_id=COUNTER[0])
        )
    with engine.connect() as conn:
        # the laptop as the memory has it (collected) is stale too: make it current, so
        # that only the head is left to be found stale
        conn.execute(
            update(assets)
            .where(assets.c.id == pg_world.assets[LAPTOP_GIAI])
            .values(state="collected")
        )
        conn.commit()
        result = pipeline.process([_tap(DOCK, 1, LAPTOP_URI)], conn)
        assert verify(conn) == []
        positions = conn.execute(select(custody_events.c.position).order_by("position")).scalars()
        assert list(positions) == list(range(1, saved.count + 2))
    assert _ack(result)["reason"] is None
    assert pipeline.memory is not None and (pipeline.memory.batches, pipeline.memory.stale) == (
        1,
        1,
    )


@pytest.mark.postgres
def test_a_sequence_number_already_stored_is_caught_by_the_database(pg_world: World) -> None:
    """Without reads the batch does not know which sequence numbers are stored: a resent
    scan (same key) or a replayed number (other data) makes the sighting's insert fail,
    and the batch read again answers as always — a duplicate acked as such, a replay
    refused and kept as a dead letter — with nothing recorded twice."""
    engine = pg_world.engine
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)
        pipeline.process([_tap(COUNTER, 2, SCREEN_URI)], conn)  # both assets remembered
        resent = pipeline.process([_tap(COUNTER, 2, SCREEN_URI)], conn)
        # found stale, the memory was emptied, then given the screen read again
        replayed = pipeline.process([_tap(COUNTER, 1, SCREEN_URI)], conn)  # 1 was the laptop
        stored = conn.execute(select(func.count()).select_from(sightings)).scalar_one()
        dead = conn.execute(select(dead_letters.c.reason)).scalars().all()
        assert verify(conn) == []
    assert _ack(resent)["duplicate"] is True and _ack(resent)["result"] == "accepted"
    assert (_ack(replayed)["result"], _ack(replayed)["reason"]) == ("rejected", "replayed_seq")
    assert stored == 2 and dead == ["replayed_seq"]
    assert pipeline.memory is not None and (pipeline.memory.batches, pipeline.memory.stale) == (
        2,
        2,
    )


@pytest.mark.postgres
def test_a_failed_batch_forgets_everything_and_an_unknown_asset_is_read(pg_world: World) -> None:
    """A batch that fails for any other reason (here the server refuses a sighting)
    leaves the memory empty: the next batch reads. A batch tapping an asset the memory
    does not hold reads too."""
    engine = pg_world.engine
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    memory = pipeline.memory
    assert memory is not None
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)
        assert memory.head is not None and len(memory) == 1
        pipeline.process([_tap(COUNTER, 2, LAPTOP_URI), _tap(COUNTER, 3, SCREEN_URI)], conn)
        assert memory.batches == 0 and len(memory) == 2  # the screen was not known: read
        conn.execute(text("ALTER TABLE sightings ADD CONSTRAINT no_four CHECK (seq <> 4)"))
        conn.commit()
        with pytest.raises(Exception, match="no_four"):
            pipeline.process([_tap(COUNTER, 4, LAPTOP_URI)], conn)
        assert memory.batches == 1 and memory.stale == 0  # tried, failed for another reason
        assert memory.head is None and len(memory) == 0
        result = pipeline.process([_tap(COUNTER, 5, LAPTOP_URI)], conn)
        assert memory.batches == 1 and len(memory) == 1  # read, then remembered
    assert _ack(result)["reason"] == "already_recorded"


def test_sqlite_keeps_no_memory(tmp_path: Path) -> None:
    """SQLite's reads are calls in the same process: nothing to save, nothing kept."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        load_world(engine)
        assert IngestPipeline(engine, Registry(), IngestOptions()).memory is None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_asset_the_batch_moves_is_locked_by_its_check(pg_world: World) -> None:
    """Another transaction is moving the laptop (not committed yet) when this writer's
    batch, from memory, receives it at the dock: the check waits for that transaction and
    then sees the laptop moved — the batch is read again and records nothing twice.
    Without the lock the check would read the old laptop, and the batch would chain a
    second reception over the other transaction's move."""
    engine = pg_world.engine
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    laptop = pg_world.assets[LAPTOP_GIAI]
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)
        events_before = conn.execute(select(func.count()).select_from(custody_events)).scalar_one()
    results: list[BatchResult] = []
    with engine.connect() as other:
        other.execute(
            update(assets)
            .where(assets.c.id == laptop)
            .values(state="received", holder_site_id=DOCK[0])
        )

        def batch() -> None:
            with engine.connect() as conn:
                results.append(pipeline.process([_tap(DOCK, 1, LAPTOP_URI)], conn))

        worker = threading.Thread(target=batch)
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()  # waiting for the other transaction's row lock
        other.commit()
    worker.join(30)
    assert not worker.is_alive() and len(results) == 1
    assert _ack(results[0])["reason"] == "already_recorded"
    assert pipeline.memory is not None and (pipeline.memory.batches, pipeline.memory.stale) == (
        1,
        1,
    )
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(custody_events)).scalar_one()
    assert events == events_before


@pytest.mark.postgres
def test_the_checks_fail_on_a_row_changed_or_gone_and_pass_on_one_unchanged(
    pg_world: World,
) -> None:
    """The statements themselves: an asset or a head as remembered passes; one changed,
    or gone (a restore to an empty ledger, an asset deleted), fails as stale."""
    engine = pg_world.engine
    pipeline = IngestPipeline(engine, Registry(), IngestOptions())
    with engine.connect() as conn:
        pipeline.process([_tap(COUNTER, 1, LAPTOP_URI)], conn)  # a head, a laptop known
    memory = pipeline.memory
    assert memory is not None and memory.head is not None
    laptop = memory.asset(giai_uri(LAPTOP_GIAI))
    assert laptop is not None
    moved = KnownAsset(laptop.id, laptop.epc, laptop.category, "received", "x", "y")
    gone = KnownAsset(10**9, "urn:epc:id:giai:9521234.GONE", "laptop", "collected", "x", "y")

    def fails(sql: str, params: dict[str, object]) -> bool:
        with engine.connect() as conn:
            try:
                conn.execute(text(sql), params)
            except DBAPIError as exc:
                assert exc.orig is not None and is_stale(exc.orig), exc
                return True
            return False

    assert not fails(*assets_guard([laptop], lock=True))
    assert not fails(*head_guard(memory.head))
    assert fails(*assets_guard([laptop, moved], lock=False))
    assert fails(*assets_guard([gone, laptop], lock=True))
    assert fails(*head_guard(Head(memory.head.count - 1, memory.head.last_hash)))
    with engine.begin() as conn:
        conn.execute(delete(ledger_head))
    assert fails(*head_guard(memory.head))
