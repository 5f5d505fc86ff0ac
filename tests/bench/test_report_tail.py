"""bench/_report: the shape of the tail — the share of acks past 1, 2 and 3 ms at the
highest paced rate, per system, the median of the rounds — and what the rest of the
machine used meanwhile."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from _cpu import CpuUse
from _report import _collector, _idle, _outside, _probe, _tail_shape, _wakeups, tail_shares


def _measure(system: str, rnd: int, latencies: list[float]) -> SimpleNamespace:
    return SimpleNamespace(
        system=system,
        phase="paced-1000",
        round=rnd,
        run=SimpleNamespace(latencies_ms=latencies),
    )


def test_shares_count_each_threshold_inclusively() -> None:
    latencies = [0.5] * 6 + [1.0, 1.5, 2.0, 3.0]
    assert tail_shares(latencies) == pytest.approx([40.0, 20.0, 10.0])
    assert tail_shares([]) == [0.0, 0.0, 0.0]


def test_a_second_mode_and_a_stall_are_told_apart() -> None:
    # the same p99 class, two shapes: many acks at 2.2 ms, or a few stalled at 8 ms
    second_mode = [0.8] * 85 + [2.2] * 15
    stall = [0.8] * 98 + [8.0] * 2
    measures = [
        _measure("real-postgres", 1, second_mode),
        _measure("real-postgres", 2, second_mode),
        _measure("real-postgres", 3, [0.8] * 100),
        _measure("ceiling", 1, stall),
    ]
    lines = _tail_shape(measures, ["ceiling", "real-postgres", "real-sqlite"], 1000)
    assert lines[0].startswith("Forme de la traîne à 1000/s")
    assert lines[1] == "  ceiling: ≥ 1 ms 2.0 % ; ≥ 2 ms 2.0 % ; ≥ 3 ms 2.0 %"
    # median of the rounds (15, 15, 0): the round without a tail does not hide the mode
    assert lines[2] == "  real-postgres: ≥ 1 ms 15.0 % ; ≥ 2 ms 15.0 % ; ≥ 3 ms 0.0 %"
    assert len(lines) == 4 and lines[3] == ""  # no rounds of real-sqlite: no line


def test_nothing_paced_at_that_rate_prints_nothing() -> None:
    assert _tail_shape([_measure("ceiling", 1, [1.0])], ["ceiling"], 500) == []


def test_the_rest_of_the_machine_is_shown_per_scan_median_of_the_rounds() -> None:
    def paced(rnd: int, outside: float, steal: float) -> SimpleNamespace:
        m = _measure("real-postgres", rnd, [1.0])
        m.run.scans = 10_000
        m.cpu = CpuUse(1.0, 1.0, 1.0, 1.0, outside, steal)
        return m

    measures = [paced(1, 0.05, 0.0), paced(2, 0.9, 0.3), paced(3, 0.1, 0.02)]
    lines = _outside(measures, ["ceiling", "real-postgres"], 1000)
    assert lines[0].startswith("Hors banc à 1000/s")
    assert lines[1] == "  real-postgres: 10 / 2"  # 0.1 s and 0.02 s over 10,000 scans
    assert _outside(measures, ["real-postgres"], 500) == []


def test_the_cpu_probe_is_printed_when_measured() -> None:
    assert _probe({}) == []
    (line,) = _probe({"cpu_probe_ms": {"start": [21.9, 208.0], "end": [30.2, 301.5]}})
    assert line.startswith("Étalon processeur")
    assert "calcul 21.9 → 30.2 ms, mémoire 208.0 → 301.5 ms" in line


def test_how_idle_cores_wait_is_printed() -> None:
    assert _idle({}) == []
    assert _idle({"cpu_idle": {"driver": None, "governor": None, "halt_poll_ns": None}}) == []
    (line,) = _idle({"cpu_idle": {"driver": "haltpoll", "governor": "haltpoll", "halt_poll_ns": 0}})
    assert line.startswith("Veille des cœurs / CPU idle : haltpoll (haltpoll)")
    assert "attente active avant l'arrêt 0 µs" in line
    (line,) = _idle(
        {"cpu_idle": {"driver": "intel_idle", "governor": "menu", "halt_poll_ns": None}}
    )
    assert line == "Veille des cœurs / CPU idle : intel_idle (menu)"
    (line,) = _idle(
        {"cpu_idle": {"driver": "haltpoll", "governor": "haltpoll", "halt_poll_ns": 200000}}
    )
    assert "halt polling 200 µs" in line


def test_full_collections_of_a_system_during_its_phases_are_named() -> None:
    def measure(system: str, phase: str, rnd: int, gc: dict[str, float] | None) -> SimpleNamespace:
        m = _measure(system, rnd, [1.0])
        m.phase, m.gc = phase, gc
        return m

    quiet = {"frozen": 120_000, "full_collections": 0, "full_ms": 0.0}
    paused = {"frozen": 0, "full_collections": 1, "full_ms": 48.6}
    assert _collector([measure("ceiling", "burst", 1, None)], ["ceiling"]) == []
    lines = _collector([measure("ceiling", "burst", 1, quiet)], ["ceiling"])
    assert lines[0].endswith("full collections during the phases: aucune / none")
    assert lines[1:] == [""]
    measures = [
        measure("ceiling", "paced-1000", 1, paused),
        measure("ceiling", "paced-1000", 2, quiet),
        measure("real-postgres", "paced-1000", 1, quiet),
    ]
    lines = _collector(measures, ["ceiling", "real-postgres"])
    assert lines[0].endswith(": ceiling 1 (49 ms ; paced-1000 #1)")
    assert lines[1] == "  tas de démarrage NON gelé / start-up heap NOT frozen: ceiling"


def test_the_wakeup_probe_is_printed_when_measured() -> None:
    assert _wakeups({}) == []
    start = {"p50_us": 61.2, "p99_us": 180.4, "max_us": 3900.0, "slow": 3, "round_trips": 1000}
    end = {"p50_us": 64.0, "p99_us": 1210.0, "max_us": 4100.0, "slow": 12, "round_trips": 1000}
    (line,) = _wakeups({"wakeup_probe": {"start": start, "end": end}})
    assert line.startswith("Sonde de réveil (aller-retour entre deux processus, un par ms, 1000")
    assert "p50 61 → 64 µs, p99 180 → 1210 µs, ≥ 1 ms : 3 → 12 (début → fin)" in line
