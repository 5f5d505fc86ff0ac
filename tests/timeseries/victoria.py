"""A throwaway VictoriaMetrics (Debian ``victoria-metrics``) on 127.0.0.1: a real server
that accepts InfluxDB's 2.x write API, so ``influxdb-client``'s wire path is tested.

Installed by ``scripts/install-timeseries-tools.sh``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from support.processes import (
    LOOPBACK,
    ManagedService,
    ServiceProcess,
    find_program,
    free_port,
    make_service_folder,
)


class VictoriaMetrics(ManagedService):
    def __init__(self, basic_auth: tuple[str, str] | None = None) -> None:
        self.program = find_program("victoria-metrics", "/usr/bin/victoria-metrics")
        self.port = free_port()
        self.folder = make_service_folder("victoria")
        self.basic_auth = basic_auth
        argv = [
            self.program,
            f"-httpListenAddr={LOOPBACK}:{self.port}",
            f"-storageDataPath={self.folder / 'data'}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ]
        if basic_auth:
            argv += [f"-httpAuth.username={basic_auth[0]}", f"-httpAuth.password={basic_auth[1]}"]
        self._process = ServiceProcess(
            "victoria-metrics", argv, log_path=self.folder / "victoria-metrics.log"
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> VictoriaMetrics:
        self._process.start(self._healthy, timeout=timeout)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return int(response.status) in (200, 401)
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except (urllib.error.URLError, OSError):
            return False

    def export(self, match: str) -> list[dict[str, Any]]:
        """Raw samples of every series matching ``match`` (``/api/v1/export``)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as response:
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]
