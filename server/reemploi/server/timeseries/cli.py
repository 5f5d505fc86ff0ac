"""``reemploi-timeseries``: look at the outbox, send it now, or backfill from an export.

    reemploi-timeseries status               # outbox: points waiting, rejected batches
    reemploi-timeseries drain [--timeout 60] # send what waits in the outbox now
    reemploi-timeseries backfill transfers.jsonl --start 2025-01-01T00:00:00+01:00 \
        --end 2025-02-01T00:00:00+01:00

``backfill`` reads custody transfers as JSON lines (the fields of
:class:`~.records.CustodyTransfer`, times in ISO 8601 with an offset). Settings come
from the environment (see :mod:`.settings`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .backfill import backfill
from .outbox import Outbox
from .records import CustodyTransfer, GeoPoint
from .settings import TimeSeriesSettings
from .sinks import SinkError
from .writer import TimeSeriesWriter


def transfer_from_json(data: dict[str, Any]) -> CustodyTransfer:
    values = dict(data)
    for key in ("time", "previous_time"):
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    for key in ("from_location", "to_location"):
        if values.get(key):
            values[key] = GeoPoint(**values[key])
    return CustodyTransfer(**values)


def read_transfers(path: Path) -> Iterator[CustodyTransfer]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield transfer_from_json(json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise SystemExit(f"{path}:{number}: ligne invalide / bad line: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reemploi-timeseries")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="état de l'outbox / outbox state")
    drain = sub.add_parser("drain", help="envoie l'outbox / send the outbox now")
    drain.add_argument("--timeout", type=float, default=60.0)
    fill = sub.add_parser("backfill", help="reconstruit une période / rebuild a period")
    fill.add_argument("transfers", type=Path)
    fill.add_argument("--start", type=datetime.fromisoformat, required=True)
    fill.add_argument("--end", type=datetime.fromisoformat, required=True)
    args = parser.parse_args(argv)
    settings = TimeSeriesSettings.from_env()

    if args.command == "status":
        stats = Outbox(settings.outbox_path).stats()
        print(json.dumps(stats.__dict__, indent=2))
        return 0
    if not settings.enabled:
        print("REEMPLOI_INFLUX_URL absent : séries désactivées / disabled", file=sys.stderr)
        return 2
    if args.command == "drain":
        writer = TimeSeriesWriter(settings.make_sink(), settings.outbox_path).start()
        done = writer.flush(args.timeout)
        print(json.dumps(writer.health().as_dict(), indent=2, ensure_ascii=False))
        writer.close(timeout_s=1)
        return 0 if done else 1
    sink = settings.make_sink()
    try:
        report = backfill(read_transfers(args.transfers), sink, start=args.start, end=args.end)
    except SinkError as exc:
        print(f"backfill interrompu / stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        sink.close()
    print(json.dumps(report.__dict__, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
