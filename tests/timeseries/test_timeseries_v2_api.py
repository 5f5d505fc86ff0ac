"""The 2.x/3.x write API through influxdb-client, against a real server that speaks it
(VictoriaMetrics accepts /api/v2/write; it keeps numeric fields only)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from victoria import VictoriaMetrics

from reemploi.server.timeseries import (
    CustodyTransfer,
    InfluxV2Sink,
    SinkRefused,
    SinkUnavailable,
    TimeSeriesWriter,
)
from reemploi.server.timeseries.settings import TimeSeriesSettings


def _wait_for(victoria: VictoriaMetrics, match: str, samples: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        series = victoria.export(match)
        if sum(len(s["values"]) for s in series) >= samples or time.monotonic() > deadline:
            return series
        time.sleep(0.2)


def test_writer_delivers_transfers_through_the_v2_write_api(
    victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    records = [
        CustodyTransfer(
            now - timedelta(seconds=i),
            f"a{i}",
            "phone",
            "receiving",
            "dechetterie-meylan",
            "atelier-fontaine",
            "metro",
            "atelier",
            0.2,
            0.0,
            ledger_seq=i,
        )
        for i in range(200)
    ]
    settings = TimeSeriesSettings(
        url=victoria.url, api="v2", org="reemploi", bucket="flux", token="jeton-de-test"
    )
    writer = TimeSeriesWriter(settings.make_sink(), tmp_path / "o.db", batch_size=50).start()
    writer.record_many(records)
    assert writer.flush(30)
    assert writer.health().written_points == 200
    writer.close()
    series = _wait_for(victoria, '{__name__="custody_transfer_count"}', 200)
    assert sum(sum(s["values"]) for s in series) == 200
    [one] = series
    assert one["metric"]["from_site"] == "dechetterie-meylan"
    assert one["metric"]["outcome"] == "chain" and one["metric"]["step"] == "receiving"
    weights = _wait_for(victoria, '{__name__="custody_transfer_weight_kg"}', 200)
    assert sum(sum(s["values"]) for s in weights) == pytest.approx(40.0)


def test_a_bad_token_is_refused_with_a_clear_error(victoria_with_auth: VictoriaMetrics) -> None:
    sink = InfluxV2Sink(victoria_with_auth.url, "reemploi", "flux", "mauvais-jeton")
    with pytest.raises(SinkRefused, match="jeton invalides") as caught:
        sink.write(f"m f=1 {time.time_ns()}")
    assert caught.value.status_code == 401


def test_an_unreachable_v2_server_is_unavailable_not_refused() -> None:
    sink = InfluxV2Sink("http://127.0.0.1:9", "reemploi", "flux", "jeton", timeout_s=1)
    with pytest.raises(SinkUnavailable, match="injoignable"):
        sink.write("m f=1 1")
