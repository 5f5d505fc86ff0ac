"""Smoke test of bench/ingest.py: it runs end to end on small numbers, loses and doubles
nothing, and prints its table. No timing is asserted: the machine is shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.mosquitto


def run_quick_bench(tmp_path: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """``bench/ingest.py --quick *args``, which must exit 0: (its table, its JSON report)."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest.py"), "--quick", *args, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return proc.stdout, report


def test_quick_bench_counts_every_scan_once(tmp_path: Path) -> None:
    table, report = run_quick_bench(tmp_path, "--rounds", "2", "--trace")
    assert "| système / system" in table
    assert "plafond brut / raw ceiling" in table
    assert "système réel / real system (SQLite FULL)" in table
    assert "Objectifs / targets:" in table
    assert "nothing lost or doubled" in table

    measures = report["measures"]
    systems = {(m["system"], m["phase"]) for m in measures}
    phases = {"burst", "paced-500", "paced-1000"}
    assert systems == {(s, p) for s in ("ceiling", "real-sqlite") for p in phases}
    # every phase twice, each round on its own assets and sequence numbers
    assert sorted(m["round"] for m in measures) == [1] * 6 + [2] * 6
    assert "Par manche / per round" in table
    assert "Forme de la traîne" in table  # the share of acks past 1, 2 and 3 ms
    assert "Hors banc à" in table  # the rest of the machine: other processes, steal
    assert "Étalon processeur" in table
    assert "Ramasse-miettes des systèmes testés" in table
    assert "Sonde de réveil" in table  # what waking a process cost, start and end
    for when in ("start", "end"):
        wake = report["context"]["wakeup_probe"][when]
        assert wake["round_trips"] == 1000 and 0 < wake["p50_us"] <= wake["p99_us"], wake
    assert "NON gelé" not in table
    probe = report["context"]["cpu_probe_ms"]
    assert all(ms > 0 for ms in (*probe["start"], *probe["end"])), probe
    idle = report["context"]["cpu_idle"]  # how idle cores wait: what a wake-up costs
    assert set(idle) == {"driver", "governor", "halt_poll_ns"}, idle
    assert ("Veille des cœurs" in table) == bool(idle["driver"])
    for target in report["targets"]:
        assert len(target["rounds"]) == 2  # the verdict is the median of both rounds
        assert target["value"] == pytest.approx(sum(target["rounds"]) / 2, abs=2e-3)
    for m in measures:
        assert m["scans"] > 0
        assert m["acked_once"] == m["scans"], m
        assert m["acked_twice"] == 0 and m["stray_acks"] == 0 and m["missing"] == 0, m
        assert m["stored"] == m["distinct"] == m["scans"], m
        assert m["ok"] and not m["problems"], m
        # both systems start alike: their start-up heap out of the collector's reach
        collector = m["system_gc"]
        assert collector["frozen"] > 0 and collector["full_collections"] >= 0, m
        outside = m["outside_us_per_scan"]
        assert outside["processes"] >= 0 and outside["steal"] >= 0, m
        if m["system"] == "real-sqlite":
            # first taps chain one event each; repeat taps chain nothing
            assert m["events"] == m["expected_events"] > 0, m
            assert m["results"]["accepted/None"] == m["events"], m
            assert m["results"]["accepted/already_recorded"] == m["scans"] - m["events"], m
            assert m["dead_letters"] == 0, m
    # paced phases begin with 0.2 s (--quick) at the same pace: those scans are acked and
    # counted above, but their latencies are not in the figures; bursts keep every one
    for m in measures:
        if m["phase"] == "burst":
            assert m["warmup_scans"] == 0 and m["latency_scans"] == m["scans"], m
        else:
            rate = int(m["phase"].split("-")[1])
            assert m["scans"] == int(rate * 1.2), m
            assert m["warmup_scans"] == pytest.approx(rate * 0.2, abs=2), m
            assert m["latency_scans"] + m["warmup_scans"] == m["scans"], m
    assert report["context"]["warmup_seconds"] == 0.2
    assert "mise en route" in table
    burst = [m for m in measures if m["phase"] == "burst"]
    assert len(burst) == 4 and all(m["scans"] == 1000 for m in burst)
    # CPU per scan of the system under test and of the readers, read from /proc
    assert all(m["cpu_us_per_scan"]["system"] > 0 for m in burst)
    assert all(m["cpu_us_per_scan"]["readers"] > 0 for m in burst)
    assert "CPU par lecture" in table
    # --trace: each paced phase of the real system, latency by stage, stamped in two
    # processes on one clock: every stage is non-negative and within the total; the
    # slowest 1 % are the slowest by total, their stages add up to their total
    traced = [m for m in measures if m["stages_ms_p50_p90_p99_slowest1pct"]]
    assert {(m["system"], m["phase"]) for m in traced} == {
        ("real-sqlite", "paced-500"),
        ("real-sqlite", "paced-1000"),
    }
    for m in traced:
        stages = m["stages_ms_p50_p90_p99_slowest1pct"]
        assert list(stages) == [
            "total",
            "programmé → envoyé",
            "envoyé → reçu",
            "reçu → lot",
            "lot → validé",
            "validé → publié",
            "publié → ack lu",
            "lectures du lot",
        ]
        for name, (p50, p90, p99, _slowest) in stages.items():
            assert 0 <= p50 <= p90 <= p99, (name, stages)
            if name != "lectures du lot":
                assert p50 <= stages["total"][2], (name, stages)
        parts = sum(v[3] for k, v in stages.items() if k not in ("total", "lectures du lot"))
        assert parts == pytest.approx(stages["total"][3], rel=1e-6)
        assert stages["total"][3] >= stages["total"][2]  # the slowest 1 % are the tail
        assert stages["lectures du lot"][3] >= 1
    assert "Latence par étape" in table
    names = {t["target"] for t in report["targets"]}
    assert names == {"débit ≥ 0.8× plafond", "p99 ≤ 3.0 ms à 1000/s"}
    assert all(isinstance(t["met"], bool) for t in report["targets"])


@pytest.mark.postgres
@pytest.mark.parametrize("transport", ["tcp 127.0.0.1", "unix socket"])
def test_quick_bench_on_postgres_shows_postgres_own_ceiling(tmp_path: Path, transport: str) -> None:
    """With --postgres, the raw ceiling runs on PostgreSQL too: every scan stored once in
    its own table per phase, shown in the table and reported as a reference beside the
    targets — never as a system the targets are checked on. Over TCP (default) or, with
    --postgres-socket, the cluster's Unix socket for both PostgreSQL systems."""
    socket = ["--postgres-socket"] if transport == "unix socket" else []
    table, report = run_quick_bench(tmp_path, "--postgres", "--rates", "1000", *socket)
    assert report["context"]["postgres_transport"] == transport
    assert ("sa socket Unix" in table) == bool(socket)
    assert "plafond brut PostgreSQL / raw ceiling (paho + PostgreSQL)" in table
    assert "repère / reference — ceiling-postgres: p99 à 1000/s" in table
    # the cluster's write-ahead log recycled before measuring (bench/_cluster.py)
    assert report["context"]["postgres_wal_segments_ready"] >= 48
    assert "journal recyclé avant mesure" in table

    measures = report["measures"]
    systems = ("ceiling", "ceiling-postgres", "real-sqlite", "real-postgres")
    assert {(m["system"], m["phase"]) for m in measures} == {
        (s, p) for s in systems for p in ("burst", "paced-1000")
    }
    for m in measures:
        assert m["acked_once"] == m["scans"] > 0, m
        assert m["acked_twice"] == 0 and m["stray_acks"] == 0 and m["missing"] == 0, m
        assert m["stored"] == m["distinct"] == m["scans"], m
        assert m["ok"] and not m["problems"], m
    assert {t["system"] for t in report["targets"]} == {"real-sqlite", "real-postgres"}
    [reference] = report["references"]
    paced = next(
        m for m in measures if m["system"] == "ceiling-postgres" and m["phase"] == "paced-1000"
    )
    assert reference["system"] == "ceiling-postgres"
    assert reference["rounds"] == [paced["p99_ms"]]
    assert reference["above_target"] == (paced["p99_ms"] > 3.0)
