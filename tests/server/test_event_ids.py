"""Event IDs are well-formed version-7 UUID URNs (RFC 9562): time first, strictly
increasing within a process, all different across random-block boundaries and threads."""

from __future__ import annotations

import threading
import time
import uuid

from reemploi.server.ingest.event_ids import EventIds


def _uuid(urn: str) -> uuid.UUID:
    assert urn.startswith("urn:uuid:")
    value = uuid.UUID(urn[len("urn:uuid:") :])
    assert str(value) == urn[len("urn:uuid:") :]
    return value


def test_ids_are_version_7_uuids_that_never_repeat_across_threads() -> None:
    ids = EventIds()
    drawn: list[list[str]] = []

    def draw() -> None:
        mine = [ids.urn() for _ in range(1500)]
        drawn.append(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [urn for mine in drawn for urn in mine]
    assert len(flat) == 6000 == len(set(flat))  # > 10 blocks of 512 random tails
    for mine in drawn:  # each thread sees them increase (one lock orders them)
        assert mine == sorted(mine)
    before_ms = time.time_ns() // 1_000_000 - 60_000
    for urn in flat[:300]:
        value = _uuid(urn)
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert before_ms <= value.int >> 80 <= before_ms + 120_000  # Unix time in ms


def test_ids_within_one_millisecond_count_up_and_overflow_into_the_next() -> None:
    ids = EventIds(clock_ms=lambda: 1_700_000_000_000)
    values = [_uuid(ids.urn()).int for _ in range(5000)]  # > 4096: the counter overflows
    assert values == sorted(values) and len(set(values)) == 5000
    stamps = {v >> 80 for v in values}
    assert min(stamps) == 1_700_000_000_000 and 1 <= max(stamps) - min(stamps) <= 2
    assert all((v >> 76) & 0xF == 7 for v in values)


def test_a_clock_stepping_back_never_yields_an_older_id() -> None:
    now = [2_000_000]
    ids = EventIds(clock_ms=lambda: now[0])
    first = ids.urn()
    now[0] -= 1000  # NTP steps the clock back a second
    second = ids.urn()
    assert second > first
