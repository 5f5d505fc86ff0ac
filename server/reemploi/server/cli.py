"""``reemploi-server``: run the API and the MQTT ingest (``run``, the default), or rebuild
the time series of a period from the ledger (``backfill``)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

import uvicorn

from .api.app import build_state, create_app
from .db.engine import make_engine
from .flows import transfers
from .runtime import settle_after_startup
from .settings import ServerSettings
from .timeseries import TimeSeriesSettings, backfill


def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def run(no_ingest: bool) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings()
    state = build_state(settings, with_ingest=not no_ingest)
    app = create_app(state)
    settle_after_startup()
    try:
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="info")
    finally:
        state.close()
    return 0


def rebuild(since: datetime, until: datetime) -> int:
    series = TimeSeriesSettings.from_env()
    if not series.enabled:
        print("REEMPLOI_INFLUX_URL n'est pas défini : rien à reconstruire.", file=sys.stderr)
        return 2
    engine = make_engine(ServerSettings().database_url)
    try:
        with engine.connect() as conn:
            report = backfill(
                transfers(conn, since=since, until=until),
                series.make_sink(),
                start=since,
                end=until,
            )
    finally:
        engine.dispose()
    print(
        f"Séries reconstruites du {since.isoformat()} au {until.isoformat()} : "
        f"{report.records_in_period} transferts, {report.points_written} points écrits "
        "(une nouvelle exécution réécrit les mêmes points, sans doublon)."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reemploi-server",
        description="Serveur Réemploi : API HTTP et ingestion MQTT (réglages REEMPLOI_*).",
    )
    sub = parser.add_subparsers(dest="command")
    run_cmd = sub.add_parser("run", help="API et ingestion (par défaut)")
    run_cmd.add_argument("--no-ingest", action="store_true", help="API seule, sans MQTT")
    fill = sub.add_parser("backfill", help="reconstruire les séries InfluxDB depuis le registre")
    fill.add_argument("--since", type=_when, required=True, help="début (ISO 8601, UTC par défaut)")
    fill.add_argument("--until", type=_when, required=True, help="fin exclue (ISO 8601)")
    args = parser.parse_args(argv)
    if args.command == "backfill":
        return rebuild(args.since, args.until)
    return run(getattr(args, "no_ingest", False))


if __name__ == "__main__":
    sys.exit(main())
