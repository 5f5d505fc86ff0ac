"""``reemploi-server``: run the API and the MQTT ingest with settings from the environment."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from .api.app import build_state, create_app
from .settings import ServerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reemploi-server",
        description="Serveur Réemploi : API HTTP et ingestion MQTT (réglages REEMPLOI_*).",
    )
    parser.add_argument("--no-ingest", action="store_true", help="API seule, sans MQTT")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings()
    state = build_state(settings, with_ingest=not args.no_ingest)
    app = create_app(state)
    try:
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="info")
    finally:
        if state.ingest is not None:
            state.ingest.stop()
        state.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
