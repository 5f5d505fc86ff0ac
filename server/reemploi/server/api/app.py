"""The FastAPI application: lifespan wiring, JSON errors in French, the web page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..db.engine import make_engine, migrate
from ..flows import FlowRecorder
from ..ingest.mqtt import BrokerAddress, IngestService
from ..ingest.pipeline import IngestOptions, IngestPipeline
from ..ingest.writer import WriterSpec, make_writer
from ..market.config import MarketSettings
from ..market.install import install_market
from ..registry import Registry
from ..settings import ServerSettings
from ..timeseries import TimeSeriesSettings, TimeSeriesWriter
from .live import LiveHub
from .routes import router
from .state import AppState

log = logging.getLogger("reemploi.server")

WEB = resources.files("reemploi.server") / "web"


def build_state(
    settings: ServerSettings,
    *,
    with_ingest: bool = True,
    timeseries: TimeSeriesSettings | None = None,
) -> AppState:
    """Everything the server runs; time series from ``REEMPLOI_INFLUX_*`` unless given."""
    engine = make_engine(settings.database_url, settings.sqlite_synchronous)
    migrate(engine)
    state = AppState(settings=settings, engine=engine, registry=Registry(), live=LiveHub())
    ts = timeseries if timeseries is not None else TimeSeriesSettings.from_env()
    if ts.enabled:
        state.timeseries = TimeSeriesWriter(
            ts.make_sink(), ts.outbox_path, batch_size=ts.batch_size
        ).start()
        state.flows = FlowRecorder(engine, state.timeseries).start()
    if with_ingest:
        options = IngestOptions(
            settings.clock_tolerance_s,
            settings.clock_max_age_s,
            settings.sun_keys(),
            settings.ingest_remembered_assets,
        )
        writer = make_writer(
            settings.ingest_writer,
            IngestPipeline(engine, state.registry, options),
            WriterSpec(
                settings.database_url, settings.sqlite_synchronous, options, state.registry.ttl_s
            ),
            settings.ingest_local_max,
        )
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        state.ingest = IngestService(
            writer,
            BrokerAddress.from_url(
                settings.mqtt_url, settings.mqtt_username, password, settings.mqtt_ca_file
            ),
            client_id=settings.mqtt_client_id,
            batch_max=settings.ingest_batch_max,
            on_batch=state.on_batch,
        )
    return state


def create_app(state: AppState, market: MarketSettings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state.ingest is not None:
            state.ingest.start(wait_s=0)
        yield

    app = FastAPI(
        title="Réemploi",
        description="Traçabilité et stock du matériel informatique de réemploi — "
        "Grenoble-Alpes Métropole",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.reemploi = state
    app.include_router(router)
    install_market(app, market)  # marketplace and coordination web app (issue 8)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Erreur"
        if exc.status_code == 404 and message == "Not Found":
            message = "Ressource introuvable"
        return JSONResponse({"error": exc.status_code, "message": message}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_r: Request, exc: RequestValidationError) -> JSONResponse:
        fields: list[dict[str, Any]] = [
            {"champ": ".".join(str(p) for p in err.get("loc", ())), "erreur": err.get("msg")}
            for err in exc.errors()
        ]
        return JSONResponse(
            {"error": 422, "message": "Paramètres invalides", "details": fields}, 422
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((WEB / "index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=str(WEB)), name="static")
    return app
