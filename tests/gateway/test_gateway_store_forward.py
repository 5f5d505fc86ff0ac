"""Store-and-forward with two real Mosquitto brokers (local and central) and the gateway
running as a real process: an outage, then a SIGKILL mid-forward; the ledger must hold
every scan exactly once and in per-device order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess, LedgerRecorder, publish_readers, reader_scans
from support.services import Mosquitto, MosquittoSettings

READERS = 5
PER_READER = 2000  # 10,000 scans in all
TOTAL = READERS * PER_READER

BROKER = MosquittoSettings(persistence=True, max_queued_messages=0)


def _expected() -> dict[str, list]:
    return {f"reader-{i}": reader_scans(f"reader-{i}", PER_READER) for i in range(READERS)}


def _assert_ledger(recorder: LedgerRecorder, scans: dict[str, list]) -> None:
    expected_keys = {s.key for batch in scans.values() for s in batch}
    assert recorder.malformed == 0
    assert recorder.keys == expected_keys, "every scan, and nothing else"
    for device, batch in scans.items():
        # what an idempotent ledger keeps: each scan once, in the reader's order
        assert recorder.first_seqs[device] == [s.seq for s in batch], device


@pytest.fixture
def brokers(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> tuple[Mosquitto, Mosquitto]:
    return make_mosquitto(BROKER), make_mosquitto(BROKER)


def test_central_outage_10000_scans_arrive_once_in_per_device_order(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        central.stop()
        gateway.wait_health(lambda h: h["link"] == "down")

        scans = _expected()
        publish_readers(local.host, local.port, scans)
        during = gateway.wait_health(lambda h: h["queue"] == TOTAL, timeout=60)
        assert during["delivered"] == 0
        assert during["oldest_unsent_s"] is not None

        central.start()
        assert recorder.wait_for(TOTAL, timeout=120), f"{recorder.distinct()} of {TOTAL}"
        after = gateway.wait_health(lambda h: h["queue"] == 0, timeout=30)
        _assert_ledger(recorder, scans)
        assert after["delivered"] == TOTAL
        assert after["drops"] == 0
        assert after["evidence"] == 0
    finally:
        gateway.stop()
        recorder.stop()


def test_sigkill_mid_forward_then_restart_loses_nothing(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        central.stop()
        scans = _expected()
        publish_readers(local.host, local.port, scans)
        gateway.wait_health(lambda h: h["queue"] == TOTAL, timeout=60)

        central.start()
        assert recorder.wait_for(500, timeout=60)
        gateway.kill()  # mid-forward
        assert recorder.distinct() < TOTAL, "the kill must happen while forwarding"
        killed_at = recorder.distinct()

        gateway.start()
        assert recorder.wait_for(TOTAL, timeout=120), f"{recorder.distinct()} of {TOTAL}"
        after = gateway.wait_health(lambda h: h["queue"] == 0, timeout=30)
        _assert_ledger(recorder, scans)
        assert after["delivered"] >= TOTAL - killed_at
    finally:
        gateway.stop()
        recorder.stop()


def test_scans_published_while_the_gateway_is_dead_are_forwarded_after_restart(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        gateway.kill()
        scans = {"reader-a": reader_scans("reader-a", 300)}
        publish_readers(local.host, local.port, scans)  # held by the local broker's session
        gateway.start()
        assert recorder.wait_for(300, timeout=60)
        _assert_ledger(recorder, scans)
    finally:
        gateway.stop()
        recorder.stop()
