"""Process settings for the long-running server, applied once everything is loaded.

A full (generation 2) garbage collection walks every tracked object: in the ingest
process that is the whole of SQLAlchemy, FastAPI, paho and our tables, and one pass
takes 40–50 ms on the reference machine (measured with ``gc.callbacks`` under
``bench/ingest.py``) — a stall that every scan waiting on the writer pays in its ack
latency. Once start-up is over those objects live as long as the process, so they are
moved out of the collector's reach (:func:`gc.freeze`); what ingest allocates afterwards
is still collected as usual.
"""

from __future__ import annotations

import gc


def settle_after_startup() -> int:
    """Freeze the objects alive now out of future collections; returns how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
