"""Load test driven by the firmware's own reader simulator: ten readers of the demo
territory (``reader.app.Reader`` on ``reader.sim`` hardware, one data folder each) tap
3,000 NDEF URIs of declared assets as fast as the firmware takes them, the real ingest
(its own process, SQLite) acks, and Mosquitto goes down for 2.5 s half-way through.

Every tap the firmware played as "accept" or "queued" is in the ledger's sightings
exactly once (per device: sequence numbers 0..n-1, no gap, no double), every reader got
an ack for each of its scans and emptied its offline queue, each reader booted again on
its folder goes on with a higher sequence number, and nothing became a dead letter.
The run itself is ``bench/firmware_fleet.py`` (which also prints throughput and ack
latency); no timing is asserted here: the machine is shared."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from support.services import Mosquitto

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import firmware_fleet  # noqa: E402
from firmware_fleet import FleetSettings  # noqa: E402

from reemploi.server.demo.readers import firmware_simulator  # noqa: E402

pytestmark = pytest.mark.timeout(240)

READERS = 10
TAPS = 3000


def test_firmware_fleet_loses_and_doubles_nothing_across_a_broker_outage(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings = FleetSettings(readers=READERS, taps=TAPS, restart_broker=True, outage_s=2.5)
    report = firmware_fleet.run(settings, fresh_mosquitto, tmp_path)

    # the broker really went away half-way, and the firmware felt it
    assert report.restarted_after is not None and 0 < report.restarted_after < TAPS
    patterns: Counter[str] = sum((r.patterns for r in report.readers), Counter())
    assert sum(patterns.values()) == TAPS
    assert set(patterns) <= {"accept", "queued"}, patterns  # every tap read, none refused
    assert patterns["queued"] >= 1, patterns  # some taps waited out the outage

    assert len(report.readers) == READERS
    assert len({r.device for r in report.readers}) == READERS
    for r in report.readers:
        n = r.planned
        assert n in (TAPS // READERS, TAPS // READERS + 1)
        assert sum(r.patterns.values()) == n and len(r.seqs) == n, r.device
        # the firmware numbered its scans 0..n-1 in tap order (fresh data folder)
        assert r.seqs == list(range(n)), r.device
        # sightings: each sequence number exactly once, then the tap after the reboot
        rows, distinct, seqs = report.ledger[r.device]
        assert r.reboot_tap is not None
        reboot_seq, reboot_pattern = r.reboot_tap
        assert rows == distinct == n + 1, (r.device, rows, distinct)
        assert seqs == [*range(n), reboot_seq], r.device
        # acks: one or more for every scan (re-sent scans are acked again), none stray
        assert set(r.acks) == set(range(n)), r.device
        assert r.queue_left == 0 and r.drops == 0, r.device
        # the persisted sequence goes on after a reboot (never reused)
        assert r.next_seq_after_reboot == reboot_seq
        assert n <= reboot_seq <= n + 32, (r.device, reboot_seq)  # at most one block skipped
        stored = int((tmp_path / "readers" / r.device / "seq.txt").read_text())
        assert stored > reboot_seq
        assert reboot_pattern == "accept"

    # the ledger: all accepted, one chained event per first tap, no dead letter
    assert report.results == Counter({"accepted": TAPS + READERS})
    assert report.events == report.first_taps > 0
    assert report.dead_letters == 0
    assert firmware_fleet.problems(report) == []
    assert len(report.latencies_ms) == TAPS  # a first ack measured for every scan

    # the shortened LED/buzzer patterns were only for the run
    feedback = sys.modules["reader.feedback"]
    assert firmware_simulator() is sys.modules["reader.sim"]
    assert sum(step[-1] for step in feedback.PATTERNS["accept"]) == 1000
