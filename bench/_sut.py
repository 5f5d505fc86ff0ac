"""The system under test, in a process of its own (as in production: the readers are
other machines). ``ingest.py`` starts one per run and stops it with SIGTERM:

    python bench/_sut.py ceiling --host H --port P --client-id C --db FILE
    python bench/_sut.py ceiling --host H --port P --client-id C --conninfo PG --table T
    python bench/_sut.py real    --host H --port P --client-id C --url DATABASE_URL

Prints ``ready`` once subscribed, and ``stopped`` after a clean stop (queue drained,
last batch committed and acked). Running the readers in the measuring process and the
system apart keeps them from sharing one interpreter lock, for both systems alike.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _ceiling import PostgresStore, RawCeiling, RawStore, SqliteStore
from _trace import SutTracer

from reemploi.server.db.engine import make_engine
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.ingest.writer import WriterSpec, make_writer
from reemploi.server.registry import Registry
from reemploi.server.runtime import settle_after_startup


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
        settle_after_startup()  # as `reemploi-server run` does
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
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
