"""Benchmark of the time-series writer against a real InfluxDB, beside raw POSTs.

    .venv/bin/python bench/timeseries.py                  # 50,000 transfers (~200,000 points)
    .venv/bin/python bench/timeseries.py --quick --json out.json

Starts its own InfluxDB 1.x (tests/support/services.py: Debian's influxd on 127.0.0.1 and
a free port). Then, in the same run, each into its own empty database:

* raw: the distinct points of the same custody transfers (each transfer, the time it
  waited, and one position per site and day), encoded beforehand (not timed), POSTed
  to ``/write`` in batches of ``--batch`` lines by one plain httpx client — the ceiling
  of this machine, InfluxDB and the HTTP path;
* writer: the same transfers handed to ``TimeSeriesWriter.record()`` one by one, through
  encoding, the durable SQLite outbox (WAL, ``synchronous=NORMAL``) and ``InfluxV1Sink``,
  timed from the first ``record()`` to ``flush()`` returning (everything acknowledged).

Raw and writer runs alternate for ``--rounds`` rounds (3 by default); the table shows
the median round of each and every round's ratio, because the machine is shared.

Then the delay from a custody event to its point being queryable: one transfer at a
time, ``record()`` then poll ``/query`` for that exact point every millisecond.

Counts in InfluxDB prove every point arrived once. Target: writer ≥ 50 % of raw points/s.
The load shares the machine's two cores with InfluxDB: compare ratios within one run.
Exit status 1 when a count is wrong; a missed target is reported, not a failure.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # tests/support: the throwaway services

from support.services import InfluxDB1  # noqa: E402

from reemploi.server.timeseries import (  # noqa: E402
    CustodyTransfer,
    GeoPoint,
    InfluxV1Sink,
    TimeSeriesWriter,
    encode_point,
    points_of,
)
from reemploi.server.timeseries.records import transfer_time_ns  # noqa: E402

TARGET_RATIO = 0.5
SITES = {
    "mairie-echirolles": ("ville-echirolles", GeoPoint(45.1436, 5.7184)),
    "dechetterie-meylan": ("grenoble-alpes-metropole", GeoPoint(45.2096, 5.78)),
    "atelier-fontaine": ("asso-atelier", GeoPoint(45.1927, 5.6857)),
    "boutique-grenoble": ("asso-atelier", GeoPoint(45.1885, 5.7245)),
}
ROUTES = [
    ("mairie-echirolles", "atelier-fontaine", "receiving", "collecting"),
    ("dechetterie-meylan", "atelier-fontaine", "receiving", "collecting"),
    ("atelier-fontaine", "boutique-grenoble", "shipping", "receiving"),
]
CATEGORIES = [("laptop", 2.0), ("screen", 4.5), ("phone", 0.2), ("desktop", 7.5)]


def make_transfers(count: int, start: datetime, first_seq: int = 1) -> list[CustodyTransfer]:
    transfers = []
    for i in range(count):
        source, target, step, previous = ROUTES[i % len(ROUTES)]
        category, weight = CATEGORIES[i % len(CATEGORIES)]
        moment = start + timedelta(milliseconds=37 * i)
        transfers.append(
            CustodyTransfer(
                time=moment,
                asset_id=f"https://id.reemploi.example/8004/0614141{i:08d}",
                category=category,
                step=step,
                from_site=source,
                to_site=target,
                from_org=SITES[source][0],
                to_org=SITES[target][0],
                weight_kg=weight,
                co2e_avoided_kg=0.0,
                ledger_seq=first_seq + i,
                previous_time=moment - timedelta(days=2),
                previous_step=previous,
                from_location=SITES[source][1],
                to_location=SITES[target][1],
            )
        )
    return transfers


def query(url: str, database: str, text: str) -> list[dict[str, Any]]:
    body = urllib.parse.urlencode({"db": database, "q": text, "epoch": "ns"}).encode()
    with urllib.request.urlopen(f"{url}/query", data=body, timeout=30) as response:
        result = json.loads(response.read())["results"][0]
    if "error" in result:
        raise RuntimeError(result["error"])
    return list(result.get("series", []))


def count_points(url: str, database: str) -> int:
    total = 0
    for measurement, field in (
        ("custody_transfer", "count"),
        ("stage_duration", "duration_s"),
        ("site", "lat"),
    ):
        series = query(url, database, f'SELECT count("{field}") FROM "{measurement}"')
        total += int(series[0]["values"][0][1]) if series else 0
    return total


def distinct_points(transfers: list[CustodyTransfer]) -> int:
    """Points InfluxDB keeps: site positions of one instant overwrite each other."""
    keys = set()
    for transfer in transfers:
        for point in points_of(transfer):
            keys.add((point.measurement, tuple(sorted(point.tags.items())), point.time_ns))
    return len(keys)


def run_raw(
    influx: InfluxDB1, transfers: list[CustodyTransfer], batch: int, database: str
) -> dict[str, Any]:
    influx.create_database(database)
    # the same distinct lines the writer sends (it skips repeated site positions)
    lines = list(dict.fromkeys(encode_point(p) for t in transfers for p in points_of(t)))
    bodies = ["\n".join(lines[i : i + batch]).encode() for i in range(0, len(lines), batch)]
    client = httpx.Client(timeout=60)
    started = time.perf_counter()
    for body in bodies:
        response = client.post(f"{influx.url}/write", params={"db": database}, content=body)
        response.raise_for_status()
    elapsed = time.perf_counter() - started
    client.close()
    return {
        "points": len(lines),
        "seconds": elapsed,
        "points_per_s": len(lines) / elapsed,
        "transfers_per_s": len(transfers) / elapsed,
    }


def run_writer(
    influx: InfluxDB1, transfers: list[CustodyTransfer], batch: int, folder: Path, database: str
) -> dict[str, Any]:
    influx.create_database(database)
    writer = TimeSeriesWriter(
        InfluxV1Sink(influx.url, database), folder / f"{database}.db", batch_size=batch
    ).start()
    record_time = 0.0
    started = time.perf_counter()
    for transfer in transfers:
        before = time.perf_counter()
        writer.record(transfer)
        record_time += time.perf_counter() - before
    if not writer.flush(600):
        raise RuntimeError(f"writer did not drain: {writer.health()}")
    elapsed = time.perf_counter() - started
    health = writer.health()
    writer.close()
    return {
        "points": health.written_points,
        "seconds": elapsed,
        "points_per_s": health.written_points / elapsed,
        "transfers_per_s": len(transfers) / elapsed,
        "record_call_us": record_time / len(transfers) * 1e6,
        "health": health.status,
    }


def run_latency(influx: InfluxDB1, samples: int, folder: Path) -> dict[str, Any]:
    influx.create_database("latency")
    writer = TimeSeriesWriter(
        InfluxV1Sink(influx.url, "latency"), folder / "latency.db", linger_s=0.0
    ).start()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    delays = []
    client = httpx.Client(timeout=10)
    for transfer in make_transfers(samples, start, first_seq=10_000_000):
        at_ns = transfer_time_ns(transfer)
        text = f'SELECT count("count") FROM "custody_transfer" WHERE time = {at_ns}'
        began = time.perf_counter()
        writer.record(transfer)
        while True:
            answer = client.post(f"{influx.url}/query", data={"db": "latency", "q": text}).json()
            if answer["results"][0].get("series"):
                break
            if time.perf_counter() - began > 10:
                raise RuntimeError("point not visible after 10 s")
            time.sleep(0.001)
        delays.append((time.perf_counter() - began) * 1000)
        time.sleep(0.02)
    client.close()
    writer.close()
    ordered = sorted(delays)
    return {
        "samples": samples,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max_ms": ordered[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transfers", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/writer runs")
    parser.add_argument("--quick", action="store_true", help="10,000 transfers, 50 samples")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.transfers, args.latency_samples = 10_000, 50

    transfers = make_transfers(args.transfers, datetime(2025, 3, 3, 7, tzinfo=UTC))
    expected = distinct_points(transfers)
    problems = []
    raws: list[dict[str, Any]] = []
    writers: list[dict[str, Any]] = []
    with InfluxDB1() as influx, tempfile.TemporaryDirectory(prefix="bench-ts-") as tmp:
        # interleaved rounds: the machine is shared, so compare medians of alternating runs
        for round_number in range(args.rounds):
            raws.append(run_raw(influx, transfers, args.batch, f"raw{round_number}"))
            writers.append(
                run_writer(influx, transfers, args.batch, Path(tmp), f"writer{round_number}")
            )
        latency = run_latency(influx, args.latency_samples, Path(tmp))
        for round_number in range(args.rounds):
            for name in (f"raw{round_number}", f"writer{round_number}"):
                stored = count_points(influx.url, name)
                if stored != expected:
                    problems.append(f"{name}: {stored} points stored, {expected} expected")
    raw = min(
        raws,
        key=lambda r: abs(r["points_per_s"] - statistics.median(x["points_per_s"] for x in raws)),
    )
    writer = min(
        writers,
        key=lambda r: abs(
            r["points_per_s"] - statistics.median(x["points_per_s"] for x in writers)
        ),
    )
    ratio = writer["points_per_s"] / raw["points_per_s"]
    round_ratios = [
        w["points_per_s"] / r["points_per_s"] for r, w in zip(raws, writers, strict=True)
    ]
    report = {
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "transfers": args.transfers,
        "batch": args.batch,
        "rounds": args.rounds,
        "raw": raw,
        "writer": writer,
        "raw_rounds": raws,
        "writer_rounds": writers,
        "round_ratios": round_ratios,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "latency": latency,
        "problems": problems,
    }
    print(
        f"Transferts / transfers : {args.transfers} ({raw['points']} points, lots de {args.batch})"
    )
    print(f"{'':34}{'points/s':>12}{'transferts/s':>14}{'secondes':>10}")
    for name, run in (
        ("POST brut / raw line protocol", raw),
        ("writer (outbox + V1 sink)", writer),
    ):
        print(
            f"{name:34}{run['points_per_s']:>12,.0f}{run['transfers_per_s']:>14,.0f}"
            f"{run['seconds']:>10.2f}"
        )
    verdict = "atteint / met" if report["target_met"] else "NON atteint / NOT met"
    print(
        f"Rapport des médianes / ratio of medians ({args.rounds} tours alternés) : {ratio:.0%} "
        f"(objectif ≥ {TARGET_RATIO:.0%} : {verdict}) ; par tour / per round : "
        + ", ".join(f"{r:.0%}" for r in round_ratios)
    )
    print(f"Coût d'un record() / cost of one record() call : {writer['record_call_us']:.1f} µs")
    print(
        "Événement → point interrogeable / event → queryable point : "
        f"p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms, "
        f"max {latency['max_ms']:.1f} ms ({latency['samples']} événements)"
    )
    for problem in problems:
        print(f"ERREUR / ERROR: {problem}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
