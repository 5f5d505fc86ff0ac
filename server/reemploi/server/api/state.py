"""What the running server holds: engine, registry, ingest service, live feed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ..ingest.mqtt import IngestService
from ..registry import Registry
from ..settings import ServerSettings
from .live import LiveHub


@dataclass
class AppState:
    settings: ServerSettings
    engine: Engine
    registry: Registry
    live: LiveHub
    ingest: IngestService | None = None
