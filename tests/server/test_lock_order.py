"""Every ledger writer takes its locks in one order — the chain's head, then the assets
(``ledger.lock_head``) — so the ingest and the web application never wait for each other
in a circle. With the web's custody step taking the asset first, a tap of the same unit
at the same moment was a deadlock: PostgreSQL ended one of the two after a second."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from server_world import COUNTER, LAPTOP_GIAI, LAPTOP_URI, load_world
from sqlalchemy import func, select

from reemploi.domain.custody import Step
from reemploi.protocol import wire
from reemploi.server.db.engine import make_engine
from reemploi.server.db.tables import assets, custody_events, sites
from reemploi.server.ingest import pipeline as ingest_pipeline
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.ledger import verify
from reemploi.server.market.custody_steps import StepTarget, apply_step
from reemploi.server.market.errors import Conflict
from reemploi.server.registry import Registry


@pytest.mark.postgres
def test_a_tap_and_a_web_custody_step_on_the_same_unit_do_not_deadlock(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter's tap has read the laptop (and locked the chain's head) when the web
    application records the laptop's hand-over: the web's step waits for the tap, the tap
    commits its collection, then the step finds the laptop already collected and refuses
    it (a clean conflict for the person at the screen), with no deadlock on either side."""
    engine = make_engine(postgres_database_url)
    try:
        world = load_world(engine)
        laptop = world.assets[LAPTOP_GIAI]
        site, device = COUNTER
        with engine.connect() as conn:
            organisation = conn.execute(
                select(sites.c.organisation_id).where(sites.c.id == site)
            ).scalar_one()
        read, go = threading.Event(), threading.Event()
        real_write = ingest_pipeline._Batch.write

        def write_when_told(batch: Any, conn: Any) -> None:
            read.set()
            assert go.wait(30)
            real_write(batch, conn)

        monkeypatch.setattr(ingest_pipeline._Batch, "write", write_when_told)
        outcomes: dict[str, object] = {}

        def tap() -> None:
            scan = wire.Scan(device, 1, wire.KIND_NDEF_URI, LAPTOP_URI)
            batch = [
                Incoming(
                    wire.topic(site, device, "scan"), wire.encode_scan(scan), datetime.now(UTC)
                )
            ]
            pipeline = IngestPipeline(engine, Registry(), IngestOptions(remembered_assets=0))
            try:
                with engine.connect() as conn:
                    outcomes["tap"] = pipeline.process(batch, conn)
            except Exception as exc:  # kept for the assertions below
                outcomes["tap"] = exc

        def web_step() -> None:
            try:
                with engine.begin() as conn:
                    outcomes["web"] = apply_step(
                        conn, [laptop], Step.COLLECT, StepTarget(organisation, site)
                    )
            except Exception as exc:  # kept for the assertions below
                outcomes["web"] = exc

        tapping = threading.Thread(target=tap)
        tapping.start()
        assert read.wait(30)  # the tap's reads are done: the head is locked
        stepping = threading.Thread(target=web_step)
        stepping.start()
        stepping.join(1.5)
        assert stepping.is_alive()  # the web's step waits for the tap
        go.set()
        tapping.join(30)
        stepping.join(30)
        assert not tapping.is_alive() and not stepping.is_alive()
        tapped = outcomes["tap"]
        assert isinstance(tapped, ingest_pipeline.BatchResult), tapped
        assert b'"accepted","reason":null' in tapped.acks[0].payload
        assert isinstance(outcomes["web"], Conflict), outcomes["web"]
        with engine.connect() as conn:
            assert verify(conn) == []
            state = conn.execute(select(assets.c.state).where(assets.c.id == laptop)).scalar_one()
            events = conn.execute(select(func.count()).select_from(custody_events)).scalar_one()
        assert state == "collected" and events == 3 + 1  # three declarations, one collection
    finally:
        engine.dispose()
