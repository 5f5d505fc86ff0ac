"""Event IDs drawn in blocks are well-formed version-4 UUID URNs, all different, across
block boundaries and threads."""

from __future__ import annotations

import threading
import uuid

from reemploi.server.ingest.event_ids import EventIds


def test_ids_are_random_version_4_uuids_and_never_repeat() -> None:
    ids = EventIds()
    drawn: list[str] = []

    def draw() -> None:
        for _ in range(1500):
            drawn.append(ids.urn())

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(drawn) == 6000 == len(set(drawn))  # > 20 blocks of 256
    for urn in drawn[:300]:
        assert urn.startswith("urn:uuid:")
        value = uuid.UUID(urn[len("urn:uuid:") :])
        assert value.version == 4 and value.variant == uuid.RFC_4122
        assert str(value) == urn[len("urn:uuid:") :]
