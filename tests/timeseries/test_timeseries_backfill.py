"""Backfill rebuilds a period from the ledger's transfers; running it again, or over
what the live writer already wrote, never doubles anything."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from influx_target import InfluxTarget
from scripted_flow import END, T0, build_flow

from reemploi.server.timeseries import InfluxV1Sink, TimeSeriesWriter, backfill
from reemploi.server.timeseries.cli import main as timeseries_main


def _totals(target: InfluxTarget) -> tuple[int, int, float]:
    [series] = target.query(
        'SELECT sum("count"), count("count"), sum("co2e_avoided_kg") FROM "custody_transfer"'
    )
    _, total, points, co2 = series["values"][0]
    return total, points, co2


def test_backfill_after_live_writes_and_twice_more_changes_nothing(
    influx_db: InfluxTarget, tmp_path: Path
) -> None:
    flow = build_flow()
    sink = InfluxV1Sink(influx_db.url, influx_db.database)
    writer = TimeSeriesWriter(sink, tmp_path / "o.db").start()
    writer.record_many(flow.transfers)
    assert writer.flush(30)
    writer.close()
    live = _totals(influx_db)
    assert live[0] == live[1] == len(flow.transfers)
    for _ in range(2):
        report = backfill(
            flow.transfers, InfluxV1Sink(influx_db.url, influx_db.database), start=T0, end=END
        )
        assert report.records_in_period == len(flow.transfers)
        assert _totals(influx_db) == live
    assert influx_db.count("stage_duration", "duration_s") == sum(
        1 for t in flow.transfers if t.previous_time
    )


def test_backfill_into_an_empty_database_rebuilds_only_the_period(
    influx_db: InfluxTarget,
) -> None:
    flow = build_flow()
    start, end = T0 + timedelta(days=2), T0 + timedelta(days=7)
    report = backfill(
        flow.transfers,
        InfluxV1Sink(influx_db.url, influx_db.database),
        start=start,
        end=end,
        batch_size=7,
    )
    inside = [t for t in flow.transfers if start <= t.time < end]
    assert report.records_read == len(flow.transfers)
    assert report.records_in_period == len(inside) > 0
    assert report.batches > 1
    assert _totals(influx_db)[0] == len(inside)


def test_backfill_refuses_an_empty_period() -> None:
    with pytest.raises(ValueError, match="after start"):
        backfill([], InfluxV1Sink("http://127.0.0.1:9", "x"), start=END, end=T0)


def test_backfill_command_reads_transfers_as_json_lines(
    influx_db: InfluxTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flow = build_flow()
    lines = []
    for transfer in flow.transfers:
        data = dict(transfer.__dict__)
        for key in ("time", "previous_time"):
            data[key] = data[key].isoformat() if data[key] else None
        for key in ("from_location", "to_location"):
            data[key] = data[key].__dict__ if data[key] else None
        lines.append(json.dumps(data))
    export = tmp_path / "transfers.jsonl"
    export.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("REEMPLOI_INFLUX_URL", influx_db.url)
    monkeypatch.setenv("REEMPLOI_INFLUX_API", "v1")
    monkeypatch.setenv("REEMPLOI_INFLUX_DATABASE", influx_db.database)
    monkeypatch.setenv("REEMPLOI_TIMESERIES_OUTBOX", str(tmp_path / "o.db"))
    argv = ["backfill", str(export), "--start", T0.isoformat(), "--end", END.isoformat()]
    assert timeseries_main(argv) == 0
    assert timeseries_main(argv) == 0
    assert _totals(influx_db)[0] == len(flow.transfers)
    assert f'"records_in_period": {len(flow.transfers)}' in capsys.readouterr().out
