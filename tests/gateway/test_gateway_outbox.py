"""The outbox state machine (pure, clock passed in) and its SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess

from reemploi.gateway.outbox import (
    ALARM_CLOCK_JUMP,
    ALARM_OUTBOX_FULL,
    ALARM_OUTBOX_HIGH,
    ALARM_REFUSED,
    Entry,
    IllegalTransition,
    Outbox,
    OutboxFull,
)
from reemploi.gateway.outbox_store import NewMessage, OutboxStore, salvage


def filled(n: int, window: int = 3, max_bytes: int = 10_000) -> Outbox:
    box = Outbox(max_bytes=max_bytes, window=window)
    for i in range(1, n + 1):
        box.accept(Entry(i, 100.0 + i, 100), now=100.0 + i)
    return box


def test_nothing_is_sent_while_the_link_is_down_and_order_is_kept_after() -> None:
    box = filled(5)
    assert box.next_batch(200.0) == []
    box.link_changed(True, 200.0)
    assert [e.id for e in box.next_batch(200.0)] == [1, 2, 3]  # window of 3
    for mid, entry in enumerate(box.next_batch(200.0), start=10):
        box.sent(entry.id, mid)
    assert box.next_batch(200.0) == []  # window full
    assert box.acked(10).id == 1
    assert [e.id for e in box.next_batch(200.0)] == [4]
    assert box.depth == 4 and box.in_flight == 2


def test_in_flight_entries_survive_a_link_loss_and_restart_requeues_them() -> None:
    box = filled(2)
    box.link_changed(True, 0)
    box.sent(1, 7)
    box.link_changed(False, 1)
    assert box.in_flight == 1  # paho retransmits with the same handle
    fresh = Outbox(max_bytes=10_000)
    fresh.restore([Entry(2, 0, 100), Entry(1, 0, 100)])
    fresh.link_changed(True, 0)
    assert [e.id for e in fresh.next_batch(0)] == [1, 2]


def test_illegal_transitions_raise_and_change_nothing() -> None:
    box = filled(1)
    with pytest.raises(IllegalTransition):
        box.acked(99)
    with pytest.raises(IllegalTransition):
        box.sent(42, 1)
    with pytest.raises(IllegalTransition):
        box.accept(Entry(1, 0, 100), now=102)
    assert box.depth == 1 and box.bytes_used == 100


def test_budget_refuses_and_counts_drops_with_alarms() -> None:
    box = filled(8, max_bytes=850)
    assert ALARM_OUTBOX_HIGH in box.alarms()
    with pytest.raises(OutboxFull):
        box.accept(Entry(9, 0, 100), now=200)
    assert box.counters.drops == 1
    assert ALARM_OUTBOX_FULL in box.alarms()
    assert not box.fits(100) and box.fits(50)


def test_refused_publish_holds_its_stream_until_retry_in_original_order() -> None:
    box = filled(3)
    box.link_changed(True, 0)
    for mid, e in enumerate(box.next_batch(0), start=1):
        box.sent(e.id, mid)
    box.acked(1)
    box.refused(2)
    box.acked(3)
    assert ALARM_REFUSED in box.alarms()
    box.accept(Entry(4, 0, 100), now=300)
    assert box.next_batch(300) == []  # order of the refused device is kept
    assert box.retry_held() == 1
    assert [e.id for e in box.next_batch(300)] == [2, 4]


def test_oldest_unsent_age_and_clock_jump() -> None:
    box = filled(2)
    assert box.oldest_unsent_age(111.0) == pytest.approx(10.0)
    box.link_changed(True, 50.0)  # the clock went back by a minute
    assert ALARM_CLOCK_JUMP in box.alarms()
    assert box.oldest_unsent_age(50.0) == 0.0  # clamped, never negative


# ---------------------------------------------------------------- SQLite


def msg(i: int) -> NewMessage:
    return NewMessage(f"k{i}", "reemploi/v1/s/r/scan", f"payload {i}".encode(), 1000.0 + i)


def test_store_keeps_order_refuses_duplicate_keys_and_reloads(tmp_path: Path) -> None:
    store = OutboxStore(tmp_path / "o.sqlite3")
    entries = store.add_many([msg(1), msg(2), msg(1)])
    assert entries[2] is None and entries[0] is not None and entries[1] is not None
    assert store.db_mode() == "wal"
    store.hold([entries[1].id])
    store.close()
    again = OutboxStore(tmp_path / "o.sqlite3")
    loaded, held = again.load()
    assert [e.id for e in loaded] == [entries[0].id, entries[1].id]
    assert held == {entries[1].id}
    assert again.messages([entries[0].id]) == {entries[0].id: (msg(1).topic, msg(1).payload)}
    again.delete_delivered([entries[0].id])
    assert again.count() == 1
    assert again.next_counter("lot_seq") == 0 and again.next_counter("lot_seq") == 1


def test_corrupted_outbox_file_is_detected_quarantined_and_salvageable(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    store = OutboxStore(path)
    store.add_many([msg(i) for i in range(50)])
    store.close()
    with path.open("r+b") as f:  # scribble over the b-tree pages, keep the header
        f.seek(1024)
        f.write(b"\xde\xad" * 2048)
    reopened = OutboxStore(path)
    assert reopened.quarantined is not None
    moved = Path(reopened.quarantined.moved_to)
    assert moved.exists() and moved.name.startswith("o.sqlite3.corrupt-")
    assert reopened.count() == 0  # a fresh outbox
    list(salvage(moved))  # never raises on a broken file


def test_garbage_outbox_file_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    store = OutboxStore(path)
    assert store.quarantined is not None
    assert "not a database" in store.quarantined.reason
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(store.quarantined.moved_to).execute("SELECT 1 FROM outbox")


def test_gateway_reports_a_quarantined_outbox_in_health_and_status(tmp_path: Path) -> None:
    """The real program: garbage outbox at start-up → quarantined, alarm in status."""
    state = tmp_path / "gw"
    state.mkdir()
    (state / "outbox.sqlite3").write_bytes(b"\x00garbage" * 512)
    gateway = GatewayProcess(state, local_port=1, central_port=1)  # no brokers needed
    gateway.start()
    try:
        health = gateway.wait_health(lambda h: "outbox_quarantined" in h["alarms"])
        assert Path(health["quarantine"]["file"]).exists()  # type: ignore[index]
        status = gateway.cli("status")
        assert status.returncode == 1
        assert "ALARME" in status.stdout and "quarantined" in status.stdout
    finally:
        gateway.stop()
