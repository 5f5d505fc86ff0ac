"""Store-and-forward with two real Mosquitto brokers (local and central), the gateway
running as a real process and the server's real ingest writing the SQL ledger: an outage,
then a SIGKILL mid-forward; the ledger must hold every scan exactly once and in
per-device order. A raw recording subscriber checks the same at the MQTT level."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import (
    GatewayProcess,
    Ledger,
    LedgerRecorder,
    publish_readers,
    reader_scans,
)
from support.services import Mosquitto, MosquittoSettings

READERS = 5
PER_READER = 2000  # 10,000 scans in all
TOTAL = READERS * PER_READER
DEVICES = [f"reader-{i}" for i in range(READERS)]

BROKER = MosquittoSettings(persistence=True, max_queued_messages=0)


def _expected() -> dict[str, list]:
    return {f"reader-{i}": reader_scans(f"reader-{i}", PER_READER) for i in range(READERS)}


def _assert_sql_ledger(ledger: Ledger, scans: dict[str, list]) -> None:
    rows = ledger.rows()
    expected = {s.key for batch in scans.values() for s in batch}
    assert len(rows) == len(expected), "each scan exactly once"
    assert {key for _d, _s, key in rows} == expected
    for device, batch in scans.items():
        recorded = [seq for d, seq, _k in rows if d == device]
        assert recorded == [s.seq for s in batch], f"{device}: per-device order"


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
    ledger = Ledger(tmp_path / "ledger.sqlite3", central.host, central.port, DEVICES).start()
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
        assert ledger.wait_for(TOTAL, timeout=120)
        _assert_sql_ledger(ledger, scans)
        # the server's acks travelled back down through the gateway
        gateway.wait_health(lambda h: h["downlink"] >= TOTAL, timeout=60)
    finally:
        gateway.stop()
        ledger.stop()
        recorder.stop()


def test_sigkill_mid_forward_then_restart_loses_nothing(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    ledger = Ledger(tmp_path / "ledger.sqlite3", central.host, central.port, DEVICES).start()
    # One message in flight at a time: forwarding takes seconds, so the kill below lands
    # mid-forward whatever the load on this machine (with the default window the gateway
    # could forward all 10,000 before a busy test process had even seen 500 of them).
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port, window="1").start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        central.stop()
        scans = _expected()
        publish_readers(local.host, local.port, scans)
        gateway.wait_health(lambda h: h["queue"] == TOTAL, timeout=60)

        central.start()
        # the gateway's own account, not the (possibly lagging) recorder's
        before = gateway.wait_health(lambda h: h["delivered"] >= 500, timeout=60)
        gateway.kill()  # mid-forward
        assert before["queue"] > 0, "the kill must happen while forwarding"
        killed_at = recorder.distinct()

        gateway.start()
        assert recorder.wait_for(TOTAL, timeout=120), f"{recorder.distinct()} of {TOTAL}"
        after = gateway.wait_health(lambda h: h["queue"] == 0, timeout=30)
        _assert_ledger(recorder, scans)
        # the new process resumed from disk: it only sent what the first had not got acked
        assert 0 < after["delivered"] < TOTAL
        assert killed_at < TOTAL
        assert ledger.wait_for(TOTAL, timeout=120)
        _assert_sql_ledger(ledger, scans)
    finally:
        gateway.stop()
        ledger.stop()
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
