"""bench/_sut.py's GcWatch: the full collections of the system under test, counted and
timed, and the start-up heap it froze."""

from __future__ import annotations

import gc
import json

from _sut import GcWatch


def test_full_collections_are_counted_and_timed_and_younger_ones_are_not() -> None:
    watch = GcWatch()
    gc.disable()  # only the collections asked for below
    try:
        gc.collect(0)
        gc.collect(1)
        assert json.loads(watch.report())["full_collections"] == 0
        garbage = [[i] for i in range(200_000)]  # something to walk through
        gc.collect()
        gc.collect(2)
        report = json.loads(watch.report())
        assert report["full_collections"] == 2
        assert report["full_ms"] > 0
        assert report["frozen"] == gc.get_freeze_count()
        del garbage
    finally:
        gc.enable()
        gc.callbacks.remove(watch._callback)
