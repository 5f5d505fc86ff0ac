"""The writer against real servers: points arrive once, the caller is never held up, and
when InfluxDB is down, slow or refusing, the points wait in the outbox with a clear
error in the health until they can be delivered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from influx_target import InfluxTarget
from support.lifecycle import start_or_fail
from support.processes import free_port
from support.services import InfluxDB1

from reemploi.server.timeseries import (
    Backoff,
    CustodyTransfer,
    InfluxV1Sink,
    Point,
    SinkUnavailable,
    TimeSeriesWriter,
)

FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0.0)
T = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def transfers(count: int, start_seq: int = 1, at: datetime = T) -> list[CustodyTransfer]:
    return [
        CustodyTransfer(
            time=at + timedelta(seconds=i),
            asset_id=f"asset-{start_seq + i}",
            category="laptop",
            step="receiving",
            from_site="mairie-echirolles",
            to_site="atelier-fontaine",
            from_org="ville-echirolles",
            to_org="asso-atelier",
            weight_kg=2.0,
            co2e_avoided_kg=0.0,
            ledger_seq=start_seq + i,
        )
        for i in range(count)
    ]


def test_every_record_reaches_influxdb_exactly_once(
    influx_db: InfluxTarget, tmp_path: Path
) -> None:
    writer = TimeSeriesWriter(
        InfluxV1Sink(influx_db.url, influx_db.database), tmp_path / "o.db", batch_size=1000
    ).start()
    for transfer in transfers(5000):
        writer.record(transfer)
    assert writer.flush(60)
    health = writer.health()
    writer.close()
    assert influx_db.count("custody_transfer") == 5000
    assert health.status == "ok" and health.written_points == 5000 and health.pending_points == 0


def test_a_lot_moved_at_one_instant_gives_one_point_per_asset(
    influx_db: InfluxTarget, tmp_path: Path
) -> None:
    lot = [
        CustodyTransfer(
            T, f"asset-{i}", "screen", "shipping", "a", "b", "o", "p", 4.5, 0.0, ledger_seq=1000 + i
        )
        for i in range(50)
    ]
    writer = TimeSeriesWriter(InfluxV1Sink(influx_db.url, influx_db.database), tmp_path / "o.db")
    writer.start().record_many(lot)
    assert writer.flush(30)
    writer.close()
    assert influx_db.count("custody_transfer") == 50


def test_record_returns_at_once_and_points_wait_while_influxdb_is_unreachable(
    tmp_path: Path,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    writer = TimeSeriesWriter(InfluxV1Sink(dead, "reemploi"), tmp_path / "o.db", backoff=FAST)
    writer.start()
    started = time.perf_counter()
    for transfer in transfers(2000):
        writer.record(transfer)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"record() took {elapsed:.3f} s for 2000 records"
    assert not writer.flush(1.0)
    health = writer.health()
    writer.close(timeout_s=0.5)
    assert health.status == "retrying"
    assert health.pending_points == 2000 and health.consecutive_failures >= 1
    assert "injoignable" in health.message and "2000 points" in health.message
    assert health.last_error_kind == "unavailable"


def test_points_survive_an_outage_and_a_restart_and_arrive_once(tmp_path: Path) -> None:
    influx = start_or_fail(InfluxDB1)
    try:
        influx.create_database("reemploi")
        target = InfluxTarget(influx.url, "reemploi")
        outbox = tmp_path / "outbox.db"
        writer = TimeSeriesWriter(InfluxV1Sink(influx.url, "reemploi"), outbox, backoff=FAST)
        writer.start().record_many(transfers(300))
        assert writer.flush(30)

        influx.stop()
        writer.record_many(transfers(700, start_seq=301))
        assert not writer.flush(1.0)
        assert writer.health().status == "retrying"
        writer.close(timeout_s=0.5)  # server restarts while InfluxDB is still down

        influx.start()
        again = TimeSeriesWriter(InfluxV1Sink(influx.url, "reemploi"), outbox, backoff=FAST)
        assert again.health().pending_points == 700
        assert again.start().flush(30)
        assert again.health().status == "ok"
        again.close()
        assert target.count("custody_transfer") == 1000
    finally:
        influx.close()


def test_unknown_database_is_reported_as_refused_then_delivered_once_created(
    influxdb: InfluxDB1, tmp_path: Path
) -> None:
    writer = TimeSeriesWriter(
        InfluxV1Sink(influxdb.url, "pas_encore_creee"), tmp_path / "o.db", backoff=FAST
    ).start()
    writer.record_many(transfers(10))
    assert not writer.flush(1.0)
    health = writer.health()
    assert health.status == "refused" and health.last_error_kind == "refused"
    assert "ne connaît pas la base" in health.message and "pas_encore_creee" in health.message
    influxdb.create_database("pas_encore_creee")
    assert writer.flush(10)
    writer.close()
    assert InfluxTarget(influxdb.url, "pas_encore_creee").count("custody_transfer") == 10


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real TCP server that accepts connections and never answers (InfluxDB hung)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_hung_influxdb_times_out_without_holding_up_the_caller(
    silent_server: str, tmp_path: Path
) -> None:
    sink = InfluxV1Sink(silent_server, "reemploi", timeout_s=0.3)
    with pytest.raises(SinkUnavailable, match="injoignable"):
        sink.write("m f=1i 1")
    writer = TimeSeriesWriter(sink, tmp_path / "o.db", backoff=FAST).start()
    started = time.perf_counter()
    writer.record_many(transfers(100))
    assert time.perf_counter() - started < 0.1
    assert not writer.flush(1.0)
    assert writer.health().pending_points == 100
    writer.close(timeout_s=0.5)


def test_a_batch_influxdb_rejects_is_set_aside_and_the_rest_goes_on(
    influx_db: InfluxTarget, tmp_path: Path
) -> None:
    writer = TimeSeriesWriter(
        InfluxV1Sink(influx_db.url, influx_db.database), tmp_path / "o.db", linger_s=0
    ).start()
    writer.record_many(transfers(5))
    assert writer.flush(10)
    # "count" is an integer field: a text value in the same shard conflicts (400)
    at_ns = int(T.timestamp()) * 10**9 + 999
    writer.write_points([Point("custody_transfer", {"step": "x"}, {"count": "texte"}, at_ns)])
    assert writer.flush(10)
    writer.record_many(transfers(5, start_seq=6))
    assert writer.flush(10)
    health = writer.health()
    writer.close()
    assert influx_db.count("custody_transfer") == 10
    assert health.status == "ok" and health.rejected_batches == 1
    assert "rejetés" in health.message


def test_an_invalid_record_is_counted_never_raised(influx_db: InfluxTarget, tmp_path: Path) -> None:
    writer = TimeSeriesWriter(InfluxV1Sink(influx_db.url, influx_db.database), tmp_path / "o.db")
    writer.start()
    naive = transfers(1)[0].__class__(**{**transfers(1)[0].__dict__, "time": datetime(2025, 1, 1)})
    writer.record(naive)  # no time zone: refused by the encoder, not by an exception here
    writer.record_many(transfers(3))
    assert writer.flush(10)
    health = writer.health()
    writer.close()
    assert health.invalid_records == 1 and "time zone" in (health.last_error or "")
    assert influx_db.count("custody_transfer") == 3


def test_backoff_doubles_up_to_its_ceiling() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.2)
    assert [backoff.delay(n, rand=lambda: 0.5) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff.delay(1, rand=lambda: 1.0) == pytest.approx(0.6)
    assert backoff.delay(1, rand=lambda: 0.0) == pytest.approx(0.4)
