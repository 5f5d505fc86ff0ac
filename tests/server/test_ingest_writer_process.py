"""The ledger written from a writer process (``ingest/writer.py``): real Mosquitto, real
SQLite or PostgreSQL, a real child process. What only this mode can get wrong: the
child's identity, its death, the database failing under it, a clean stop."""

from __future__ import annotations

import os
import select as io_select
import signal
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from server_reader import TestReader
from server_world import (
    COUNTER,
    LAPTOP_GIAI,
    LAPTOP_URI,
    SCREEN_URI,
    World,
    declare_laptops,
    load_world,
    start_ingest,
)
from sqlalchemy import func, select, text

from reemploi.protocol import wire
from reemploi.server import ledger
from reemploi.server.api.app import build_state
from reemploi.server.db.engine import make_engine
from reemploi.server.db.tables import custody_events, sightings
from reemploi.server.ingest.memory import RECALL_MAX_SCANS
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import BatchResult, IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import (
    Hint,
    HybridWriter,
    LocalWriter,
    ProcessWriter,
    Received,
    WriterSpec,
    make_writer,
)
from reemploi.server.registry import Registry
from reemploi.server.settings import ServerSettings
from reemploi.server.timeseries import TimeSeriesSettings

# the shared ingest fixture (conftest.py), with the ledger written from a writer process
in_a_writer_process = pytest.mark.parametrize("ingest", ["process"], indirect=True)


def _writer(service: IngestService) -> ProcessWriter:
    assert isinstance(service.writer, ProcessWriter)
    return service.writer


def _sightings_of(world: World, seq: int) -> int:
    with world.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(sightings)
                .where(sightings.c.device_id == COUNTER[1], sightings.c.seq == seq)
            ).scalar_one()
        )


@in_a_writer_process
def test_batches_are_written_by_a_child_process_and_reported_back(
    world: World, ingest: IngestService, counter: TestReader
) -> None:
    seen: list[BatchResult] = []
    ingest.on_batch = seen.append
    pid = _writer(ingest).pid
    assert pid is not None and pid != os.getpid()
    os.kill(pid, 0)  # alive
    counter.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
    ack = counter.next_ack()
    assert (ack.seq, ack.result, ack.reason) == (1, wire.RESULT_ACCEPTED, None)
    with world.engine.connect() as conn:
        steps = conn.execute(
            select(custody_events.c.step).where(
                custody_events.c.asset_id == world.assets[LAPTOP_GIAI]
            )
        ).scalars()
        assert list(steps) == ["declare", "collect"]
    assert ingest.wait_idle(5)
    live = [event for result in seen for event in result.live]
    assert [(e.asset_id, e.step, e.state) for e in live] == [
        (world.assets[LAPTOP_GIAI], "collect", "collected")
    ]
    assert sum(result.counts["accepted"] for result in seen) == 1


@in_a_writer_process
def test_a_killed_writer_process_is_started_again_and_nothing_is_lost_or_doubled(
    world: World, ingest: IngestService, counter: TestReader
) -> None:
    writer = _writer(ingest)
    counter.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
    assert counter.next_ack().result == wire.RESULT_ACCEPTED
    first = writer.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    counter.tap(2, wire.KIND_NDEF_URI, SCREEN_URI)
    ack = counter.next_ack(timeout=30)
    assert (ack.seq, ack.result) == (2, wire.RESULT_ACCEPTED)
    assert writer.restarts == 1 and writer.pid not in (None, first)
    assert ingest.last_error is not None and "écriture" in ingest.last_error
    assert counter.no_ack(wait=1.0)  # acked once
    assert (_sightings_of(world, 1), _sightings_of(world, 2)) == (1, 1)


@pytest.mark.postgres
def test_database_connections_cut_under_the_writer_process_the_batch_is_retried(
    postgres_database_url: str,
    mosquitto,  # type: ignore[no-untyped-def]
) -> None:
    world = load_world(make_engine(postgres_database_url))
    service = start_ingest(world.engine, mosquitto.host, mosquitto.port, "process")
    reader = TestReader(mosquitto.host, mosquitto.port, *COUNTER)
    try:
        reader.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
        assert reader.next_ack().result == wire.RESULT_ACCEPTED
        # the server kicks every other session of this database, the writer's included
        with world.engine.connect() as conn:
            cut = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert cut >= 1
        reader.tap(2, wire.KIND_NDEF_URI, SCREEN_URI)
        ack = reader.next_ack(timeout=30)
        assert (ack.seq, ack.result) == (2, wire.RESULT_ACCEPTED)
        assert service.last_error is not None and "écriture du registre" in service.last_error
        assert _writer(service).restarts == 0  # the child survived and reconnected
        assert reader.no_ack(wait=1.0)
        assert (_sightings_of(world, 1), _sightings_of(world, 2)) == (1, 1)
    finally:
        reader.close()
        service.stop()
        world.engine.dispose()


def test_stop_commits_what_was_received_and_ends_the_child(
    world: World,
    mosquitto,  # type: ignore[no-untyped-def]
) -> None:
    service = start_ingest(world.engine, mosquitto.host, mosquitto.port, "process")
    reader = TestReader(mosquitto.host, mosquitto.port, *COUNTER)
    try:
        for seq in range(1, 41):
            reader.tap(seq, wire.KIND_NDEF_URI, LAPTOP_URI if seq % 2 else SCREEN_URI)
        deadline = time.monotonic() + 10
        while service.received < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = _writer(service).pid
        assert pid is not None
    finally:
        service.stop()
        reader.close()
    assert service.processed == service.received == 40
    assert all(_sightings_of(world, seq) == 1 for seq in range(1, 41))
    with pytest.raises(ProcessLookupError):  # the child is gone, and reaped
        os.kill(pid, 0)


@pytest.mark.parametrize(
    ("url", "choice", "expected"),
    [
        ("file", "hybrid", HybridWriter),
        ("file", "process", ProcessWriter),
        ("file", "local", LocalWriter),
        ("sqlite://", "hybrid", LocalWriter),  # in memory: no other process can open it
    ],
)
def test_settings_choose_the_ledger_writer(
    tmp_path: Path, url: str, choice: str, expected: type
) -> None:
    database_url = f"sqlite:///{tmp_path / 'r.db'}" if url == "file" else url
    state = build_state(
        ServerSettings(database_url=database_url, ingest_writer=choice),  # type: ignore[arg-type]
        timeseries=TimeSeriesSettings(),
    )
    try:
        assert state.ingest is not None
        assert type(state.ingest.writer) is expected
    finally:
        state.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("remembered", [None, 0, 50])
def test_settings_size_the_ledger_writers_memory_on_postgresql(
    postgres_database_url: str, remembered: int | None
) -> None:
    """``REEMPLOI_INGEST_REMEMBERED_ASSETS`` reaches both writers of the hybrid (this
    process's pipeline and the writer process's options); 0 turns the memory off."""
    extra = {} if remembered is None else {"ingest_remembered_assets": remembered}
    state = build_state(
        ServerSettings(database_url=postgres_database_url, **extra),  # type: ignore[arg-type]
        timeseries=TimeSeriesSettings(),
    )
    try:
        writer = state.ingest.writer if state.ingest is not None else None
        assert isinstance(writer, HybridWriter)
        memory = writer.local.pipeline.memory
        expected = 50_000 if remembered is None else remembered
        assert writer.remote.spec.options.remembered_assets == expected
        if expected:
            assert memory is not None and memory.assets_max == expected
        else:
            assert memory is None
    finally:
        state.engine.dispose()


def test_a_frozen_writer_process_is_replaced_and_its_batch_written_once(
    world: World,
    mosquitto,  # type: ignore[no-untyped-def]
) -> None:
    writer = ProcessWriter(
        WriterSpec(world.engine.url.render_as_string(hide_password=False), registry_ttl_s=0.0),
        batch_timeout_s=2.0,
    )
    service = IngestService(
        writer, BrokerAddress(mosquitto.host, mosquitto.port, tls=False), client_id="frozen"
    )
    service.start(wait_s=10)
    reader = TestReader(mosquitto.host, mosquitto.port, *COUNTER)
    frozen = writer.pid
    try:
        assert frozen is not None
        os.kill(frozen, signal.SIGSTOP)  # alive, holding its pipe, answering nothing
        reader.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
        ack = reader.next_ack(timeout=30)
        assert (ack.seq, ack.result) == (1, wire.RESULT_ACCEPTED)
        assert writer.restarts == 1 and writer.pid not in (None, frozen)
        assert service.last_error is not None and "ne répond plus" in service.last_error
        assert reader.no_ack(wait=1.0)
        assert _sightings_of(world, 1) == 1
        with pytest.raises(ProcessLookupError):  # the frozen one was killed and reaped
            os.kill(frozen, 0)
    finally:
        reader.close()
        service.stop()


def test_hybrid_writer_writes_small_batches_here_and_large_ones_in_the_process(
    world: World,
) -> None:
    options = IngestOptions()
    url = world.engine.url.render_as_string(hide_password=False)
    writer = make_writer(
        "hybrid",
        IngestPipeline(world.engine, Registry(ttl_s=0.0), options),
        WriterSpec(url, "FULL", options, 0.0),
        local_max=2,
    )
    assert isinstance(writer, HybridWriter)
    site, device = COUNTER
    now = datetime.now(UTC)

    def scans(first: int, count: int) -> list[tuple[str, bytes, datetime]]:
        return [
            (
                wire.topic(site, device, "scan"),
                wire.encode_scan(wire.Scan(device, seq, wire.KIND_NFC_UID, "04A1B2C3", None, 0)),
                now,
            )
            for seq in range(first, first + count)
        ]

    writer.start()
    try:
        assert writer.local.checkpointer is None  # the writer process checkpoints
        writer.submit(scans(1, 2))
        assert writer.pending_fileno() is None  # written by collect(), in this process
        small = writer.collect()
        writer.submit(scans(3, 10))
        fileno = writer.pending_fileno()
        assert fileno is not None  # the writer process has it: wait for its answer
        assert io_select.select([fileno], [], [], 30)[0] == [fileno]
        large = writer.collect()
        assert (writer.local_batches, writer.remote_batches) == (1, 1)
    finally:
        writer.stop()
    assert [wire.decode_ack(a.payload).seq for a in small.acks] == [1, 2]
    assert [wire.decode_ack(a.payload).seq for a in large.acks] == list(range(3, 13))
    assert all(_sightings_of(world, seq) == 1 for seq in range(1, 13))


class _Hybrid:
    """A hybrid writer on ``pg_world`` (the process takes batches of more than two scans)
    and first taps at the counter of the given links, one sequence number each."""

    def __init__(self, world: World) -> None:
        self.pipeline = IngestPipeline(world.engine, Registry(ttl_s=0.0), IngestOptions())
        url = world.engine.url.render_as_string(hide_password=False)
        spec = WriterSpec(url, "FULL", self.pipeline.options, 0.0)
        writer = make_writer("hybrid", self.pipeline, spec, local_max=2)
        assert isinstance(writer, HybridWriter)
        self.writer = writer
        self.seq = iter(range(1, 1000))
        self.now = datetime.now(UTC)

    def write(self, *uris: str) -> BatchResult:
        site, device = COUNTER
        self.writer.submit(
            [
                (
                    wire.topic(site, device, "scan"),
                    wire.encode_scan(wire.Scan(device, next(self.seq), wire.KIND_NDEF_URI, uri)),
                    self.now,
                )
                for uri in uris
            ]
        )
        fileno = self.writer.pending_fileno()
        if fileno is not None:
            assert io_select.select([fileno], [], [], 30)[0] == [fileno]
        return self.writer.collect()


def _events(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(custody_events)).scalar_one())


def test_the_two_writers_of_a_hybrid_tell_each_other_what_they_committed(
    pg_world: World,
) -> None:
    # PostgreSQL: each writer takes the chain's head and the assets from what it remembers
    # (ingest/memory.py), and the database does not announce an ingest writer's changes.
    # Each batch after a switch between the two would find its memory stale and be done
    # twice ("memory_stale"), unless each tells the other what it committed.
    declared = declare_laptops(pg_world.engine, 5)  # before the writers load theirs
    a, b, c, d, e = declared
    before = _events(pg_world)
    hybrid = _Hybrid(pg_world)
    writer = hybrid.writer
    writer.start()
    try:
        results = [
            hybrid.write(a),  # here: the chain moves
            hybrid.write(b, c, d),  # the process: its head is the one the first moved
            hybrid.write(e, b),  # here again: the head and asset b as the process left them
        ]
        memory = hybrid.pipeline.memory
        assert memory is not None
        assert (memory.batches, memory.stale) == (2, 0)  # both local batches skipped reads
    finally:
        writer.stop()
    assert (writer.local_batches, writer.remote_batches) == (2, 1)
    for result in results:
        assert "memory_stale" not in result.counts, result.counts
        assert {wire.decode_ack(ack.payload).result for ack in result.acks} == {
            wire.RESULT_ACCEPTED
        }
    assert results[1].head is not None and results[1].head.count == before + 4  # a, b, c, d
    assert {row[0] for row in results[1].assets} == {declared[x] for x in (b, c, d)}
    with pg_world.engine.connect() as conn:
        assert ledger.verify(conn) == []
    assert _events(pg_world) - before == 5  # one first tap each: a, b, c, d, e


def test_a_hybrid_keeps_its_hint_for_a_batch_that_uses_it_and_never_sends_an_older_head(
    pg_world: World,
) -> None:
    # A batch of more than RECALL_MAX_SCANS reads everything: the local writer's news wait
    # for the next smaller one; by then the process has committed a newer head, which an
    # older one from the hint must not replace (its next batch would be done twice).
    links = list(declare_laptops(pg_world.engine, 1 + (RECALL_MAX_SCANS + 1) + 3))
    first, large, small = links[0], links[1 : RECALL_MAX_SCANS + 2], links[RECALL_MAX_SCANS + 2 :]
    hybrid = _Hybrid(pg_world)
    writer = hybrid.writer
    hints: list[Hint | None] = []
    submit = writer.remote.submit

    def remote_submit(batch: Sequence[Received], hint: Hint | None = None) -> None:
        hints.append(hint)
        submit(batch, hint)

    writer.remote.submit = remote_submit  # type: ignore[method-assign]
    writer.start()
    try:
        results = [hybrid.write(first), hybrid.write(*large), hybrid.write(*small)]
    finally:
        writer.stop()
    assert (writer.local_batches, writer.remote_batches) == (1, 2)
    assert hints[0] is None  # the large batch reads its assets and the head
    assert hints[1] is not None
    assets, head = hints[1]
    assert head is None  # the process's own head, from the large batch, is newer
    assert [row[1] for row in assets] == [
        row[1] for row in results[0].assets
    ]  # the first tap's asset, still news to the process
    for result in results:
        assert "memory_stale" not in result.counts, result.counts
    with pg_world.engine.connect() as conn:
        assert ledger.verify(conn) == []
