"""Time-series settings from the environment: which InfluxDB API, where, with what secret.

Defaults in code, site values in the environment, secrets never defaulted. With no
``REEMPLOI_INFLUX_URL`` the time series are off and the server runs without them.

=============================  ===================================================
``REEMPLOI_INFLUX_API``        ``v2`` (2.x/3.x write API, default) or ``v1`` (``/write``)
``REEMPLOI_INFLUX_URL``        e.g. ``http://influxdb:8086``
``REEMPLOI_INFLUX_ORG``        v2: organisation
``REEMPLOI_INFLUX_BUCKET``     v2: bucket; v1: database (``REEMPLOI_INFLUX_DATABASE``)
``REEMPLOI_INFLUX_TOKEN``      v2 token; on v1, sent as ``Authorization: Token``
``REEMPLOI_INFLUX_USERNAME``   v1 only (with ``REEMPLOI_INFLUX_PASSWORD``)
``REEMPLOI_TIMESERIES_OUTBOX`` SQLite file of the outbox (``var/timeseries-outbox.db``)
=============================  ===================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .sinks import InfluxV1Sink, InfluxV2Sink, Sink


class TimeSeriesConfigError(ValueError):
    """The environment asks for time series but leaves out something they need."""


@dataclass(frozen=True)
class TimeSeriesSettings:
    url: str | None = None
    api: str = "v2"
    org: str | None = None
    bucket: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    outbox_path: Path = Path("var/timeseries-outbox.db")
    batch_size: int = 5000

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TimeSeriesSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name) or None

        settings = cls(
            url=get("REEMPLOI_INFLUX_URL"),
            api=get("REEMPLOI_INFLUX_API") or "v2",
            org=get("REEMPLOI_INFLUX_ORG"),
            bucket=get("REEMPLOI_INFLUX_BUCKET") or get("REEMPLOI_INFLUX_DATABASE"),
            token=get("REEMPLOI_INFLUX_TOKEN"),
            username=get("REEMPLOI_INFLUX_USERNAME"),
            password=get("REEMPLOI_INFLUX_PASSWORD"),
            outbox_path=Path(get("REEMPLOI_TIMESERIES_OUTBOX") or "var/timeseries-outbox.db"),
            batch_size=int(get("REEMPLOI_TIMESERIES_BATCH") or 5000),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if not self.enabled:
            return
        if self.api not in ("v1", "v2"):
            raise TimeSeriesConfigError(
                "REEMPLOI_INFLUX_API doit valoir v1 ou v2 / must be v1 or v2"
            )
        missing = []
        if not self.bucket:
            missing.append("REEMPLOI_INFLUX_BUCKET")
        if self.api == "v2":
            if not self.org:
                missing.append("REEMPLOI_INFLUX_ORG")
            if not self.token:
                missing.append("REEMPLOI_INFLUX_TOKEN")
        if missing:
            raise TimeSeriesConfigError(
                "variables manquantes / missing variables: " + ", ".join(missing)
            )

    def make_sink(self) -> Sink:
        self.check()
        if not self.url or not self.bucket:
            raise TimeSeriesConfigError("REEMPLOI_INFLUX_URL absent / not set")
        if self.api == "v1":
            return InfluxV1Sink(
                self.url,
                self.bucket,
                username=self.username,
                password=self.password,
                token=self.token,
            )
        return InfluxV2Sink(self.url, self.org or "", self.bucket, self.token or "")
