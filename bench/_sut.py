"""The system under test, in a process of its own (as in production: the readers are
other machines). ``ingest.py`` starts one per run and stops it with SIGTERM:

    python bench/_sut.py ceiling --host H --port P --client-id C --db FILE
    python bench/_sut.py ceiling --host H --port P --client-id C --conninfo PG --table T
    python bench/_sut.py real    --host H --port P --client-id C --url DATABASE_URL

Prints ``ready`` once subscribed, and ``stopped`` after a clean stop (queue drained,
last batch committed and acked), followed by what its garbage collector did (a JSON
object, see :class:`GcWatch`). Running the readers in the measuring process and the
system apart keeps them from sharing one interpreter lock, for both systems alike.

Both systems start alike: their start-up heap (modules, the ledger's memory) is moved out
of the collector's reach, as ``reemploi-server run`` does (``runtime.settle_after_startup``).
The ceiling did not until the eighteenth session: a full collection of that heap stopped
it ≈ 50 ms about 9 s into every phase at 1,000 scans/s (≈ 50 acks past 3 ms each time,
seen in the acks' timeline) — a pause of the reference, not of durable ingest.
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ceiling import PostgresStore, RawCeiling, RawStore, SqliteStore
from _trace import SutTracer

from reemploi.server.db.engine import make_engine
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import WriterSpec, make_writer
from reemploi.server.registry import Registry
from reemploi.server.runtime import settle_after_startup


class GcWatch:
    """Counts the full (oldest-generation) collections of this process and how long they
    took: a pause of the system under test shows in its latencies, this says whether the
    collector caused it."""

    def __init__(self) -> None:
        self.full = 0
        self.full_ms = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.full += 1
            self.full_ms += (time.perf_counter() - self._started) * 1e3

    def report(self) -> str:
        return json.dumps(
            {
                "frozen": gc.get_freeze_count(),
                "full_collections": self.full,
                "full_ms": round(self.full_ms, 1),
            }
        )


def settled() -> GcWatch:
    """The start-up heap out of the collector's reach (``runtime.settle_after_startup``,
    as ``reemploi-server run`` does), then the watch over the collections that follow:
    both systems start this way."""
    settle_after_startup()
    return GcWatch()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=("ceiling", "real"))
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--db", type=Path, help="ceiling: its SQLite file")
    parser.add_argument("--conninfo", help="ceiling: PostgreSQL instead of SQLite")
    parser.add_argument("--table", default="raw_scans", help="ceiling: its PostgreSQL table")
    parser.add_argument("--url")
    parser.add_argument(
        "--writer",
        choices=("hybrid", "process", "local"),
        default="hybrid",
        help="real: ledger writer as deployed (hybrid), in a process of its own, or here",
    )
    parser.add_argument("--trace", type=Path, help="real: write per-scan stage stamps here")
    args = parser.parse_args()
    address = BrokerAddress(args.host, args.port, False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    if args.system == "ceiling":
        store: RawStore
        if args.conninfo:
            store = PostgresStore(args.conninfo, args.table)
        else:
            if args.db is None:
                parser.error("plafond : --db ou --conninfo obligatoire")
            store = SqliteStore(args.db)
        ceiling = RawCeiling(address, store, args.client_id)
        watch = settled()
        ceiling.start()
        print("ready", flush=True)
        stop.wait()
        ceiling.stop()
    else:
        # as `reemploi-server run` builds it (an engine here connects only for local batches)
        engine = make_engine(args.url, "FULL")
        writer = make_writer(
            args.writer,
            IngestPipeline(engine, Registry(), IngestOptions()),
            WriterSpec(args.url, "FULL", IngestOptions()),
        )
        service = IngestService(
            writer,
            address,
            client_id=args.client_id,
            batch_max=2000,
        )
        tracer = SutTracer(service) if args.trace else None
        watch = settled()
        service.start(wait_s=10)
        if not service.connected.is_set():
            print("no broker", flush=True)
            return 1
        print("ready", flush=True)
        stop.wait()
        service.wait_idle(10)
        service.stop()
        if tracer is not None:
            tracer.dump(args.trace)
        engine.dispose()
    print("stopped", watch.report(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
