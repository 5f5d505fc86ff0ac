"""The server feeds the time series: every committed custody transfer, device health
from status messages, stock snapshots and ingest counters reach a real InfluxDB through
the real writer; the backfill from the ledger rewrites the same points, never doubles
them; and InfluxDB being down never touches the ledger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from server_world import LAPTOP_GIAI, RESOLVER, SCREEN_GIAI, World

from reemploi.protocol import wire
from reemploi.server.api.live import LiveHub
from reemploi.server.api.state import AppState
from reemploi.server.flows import FlowRecorder, transfers
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.registry import Registry
from reemploi.server.settings import ServerSettings
from reemploi.server.timeseries import TimeSeriesSettings, TimeSeriesWriter

COUNTER = ("cp-grenoble-hdv", "cp-grenoble-hdv-comptoir")
DOCK = ("atelier-pont-de-claix", "atelier-pdc-quai")


def query(url: str, db: str, q: str) -> list[list[Any]]:
    data = urllib.parse.urlencode({"db": db, "q": q}).encode()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=10) as response:
        body = json.loads(response.read())
    series = body["results"][0].get("series", [])
    return [row for s in series for row in s["values"]]


def state_for(world: World, influx_url: str, db: str, outbox: Path) -> AppState:
    ts = TimeSeriesSettings(url=influx_url, api="v1", bucket=db, outbox_path=outbox)
    state = AppState(ServerSettings(), world.engine, Registry(), LiveHub())
    state.timeseries = TimeSeriesWriter(ts.make_sink(), ts.outbox_path).start()
    state.flows = FlowRecorder(world.engine, state.timeseries, interval_s=0.2).start()
    return state


def feed(state: AppState, site: str, device: str, seq: int, data: str, kind: str = "scan") -> None:
    pipeline = IngestPipeline(state.engine, state.registry, IngestOptions())
    if kind == "scan":
        payload = wire.encode_scan(wire.Scan(device, seq, wire.KIND_NDEF_URI, data, None, None))
    else:
        payload = data.encode()
    result = pipeline.process(
        [Incoming(wire.topic(site, device, kind), payload, datetime.now(UTC))]
    )
    state.on_batch(result)


def wait_for(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def test_committed_transfers_health_and_stock_reach_influxdb(
    world: World,
    influxdb,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    db = f"flows_{int(time.time() * 1000)}"
    influxdb.create_database(db)
    state = state_for(world, influxdb.url, db, tmp_path / "outbox.db")
    try:
        feed(state, *COUNTER, 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
        feed(state, *COUNTER, 1, f"{RESOLVER}/8004/{SCREEN_GIAI}")
        feed(state, *DOCK, 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
        status = wire.Status(COUNTER[1], "online", "1.0.0", 10, 50000, 0, 0, -60, "power_on", None)
        feed(state, *COUNTER, 0, wire.encode_status(status).decode(), kind="status")
        rows = wait_for(
            lambda: (
                query(
                    influxdb.url,
                    db,
                    'SELECT "count", step, from_site, to_site FROM custody_transfer',
                )
                if len(query(influxdb.url, db, "SELECT * FROM custody_transfer")) >= 3
                else None
            )
        )
        assert rows is not None
        steps = sorted((r[2], r[3], r[4]) for r in rows)
        assert steps == sorted(
            [
                ("collecting", "cp-grenoble-hdv", "cp-grenoble-hdv"),
                ("collecting", "cp-grenoble-hdv", "cp-grenoble-hdv"),
                ("receiving", "cp-grenoble-hdv", "atelier-pont-de-claix"),
            ]
        )
        health = wait_for(
            lambda: query(influxdb.url, db, "SELECT online, heap_bytes FROM device_status")
        )
        assert [r[1:] for r in health] == [[1, 50000]]
        stock_q = (
            'SELECT "count" FROM stock '
            "WHERE site = 'atelier-pont-de-claix' AND category = 'laptop'"
        )

        def latest_stock() -> int | None:
            rows = query(influxdb.url, db, stock_q)
            return rows[-1][1] if rows else None

        assert wait_for(lambda: latest_stock() == 1)
        assert wait_for(lambda: query(influxdb.url, db, "SELECT * FROM ingest"))
        assert state.timeseries is not None and state.timeseries.health().ok
    finally:
        state.close()

    # backfill from the ledger writes the very same points: counts do not change
    before = query(influxdb.url, db, 'SELECT count("count") FROM custody_transfer')[0][1]
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    env = {
        "REEMPLOI_DATABASE_URL": world.engine.url.render_as_string(hide_password=False),
        "REEMPLOI_INFLUX_URL": influxdb.url,
        "REEMPLOI_INFLUX_API": "v1",
        "REEMPLOI_INFLUX_DATABASE": db,
        "PATH": "/usr/bin:/bin",
    }
    for _ in range(2):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "reemploi.server.cli",
                "backfill",
                "--since",
                since,
                "--until",
                until,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # the ledger holds 3 declarations (made before the recorder ran) + 3 live transfers
        assert "6 transferts" in proc.stdout
    after = query(influxdb.url, db, 'SELECT count("count") FROM custody_transfer')[0][1]
    assert (before, after) == (3, 6)  # the 3 live points were rewritten, not doubled


def test_influxdb_down_leaves_the_ledger_untouched_and_points_wait(
    world: World, tmp_path: Path
) -> None:
    state = state_for(world, "http://127.0.0.1:9", "nowhere", tmp_path / "outbox.db")
    try:
        feed(state, *COUNTER, 0, f"{RESOLVER}/8004/{LAPTOP_GIAI}")
        health = wait_for(
            lambda: (
                state.timeseries.health()
                if state.timeseries.health().status == "retrying"
                else None
            )  # type: ignore[union-attr]
        )
        assert health is not None and health.status == "retrying"
        with world.engine.connect() as conn:
            assert len(list(transfers(conn))) == 4
    finally:
        state.close()
