"""What the running server holds: engine, registry, ingest service, live feed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ..flows import FlowRecorder
from ..ingest.mqtt import IngestService
from ..ingest.pipeline import BatchResult
from ..registry import Registry
from ..settings import ServerSettings
from ..timeseries import TimeSeriesWriter
from .live import LiveHub


@dataclass
class AppState:
    settings: ServerSettings
    engine: Engine
    registry: Registry
    live: LiveHub
    ingest: IngestService | None = None
    timeseries: TimeSeriesWriter | None = None
    flows: FlowRecorder | None = None

    def on_batch(self, result: BatchResult) -> None:
        """Every committed ingest batch goes to each sink: the live page, the time series."""
        self.live.on_batch(result)
        if self.flows is not None:
            self.flows.on_batch(result)

    def close(self) -> None:
        """Stop in order: ingest (no new batches), flows, the writer (its outbox keeps what
        it could not send), the database."""
        if self.ingest is not None:
            self.ingest.stop()
        if self.flows is not None:
            self.flows.stop()
        if self.timeseries is not None:
            self.timeseries.close()
        self.engine.dispose()
