"""Vehicle position from gpsd (JSON over TCP, port 2947): pure TPV parsing + a thin reader."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reemploi.protocol.gateway_msgs import Position

WATCH = b'?WATCH={"enable":true,"json":true}\n'


def parse_tpv(line: str | bytes) -> Position | None:
    """A gpsd ``TPV`` report with a 2D/3D fix → Position; anything else → None."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("class") != "TPV" or obj.get("mode") not in (2, 3):
        return None
    lat, lon = obj.get("lat"), obj.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    at = 0
    if isinstance(obj.get("time"), str):
        try:
            at = int(datetime.fromisoformat(obj["time"].replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            at = 0
    return Position(float(lat), float(lon), int(obj["mode"]), at)


class GpsdReader:
    def __init__(self, host: str, port: int, sink: Callable[[tuple[Any, ...]], None]) -> None:
        self.host, self.port, self.sink = host, port, sink
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            sock.sendall(WATCH)
            for line in sock.makefile("rb"):
                if self._stop.is_set():
                    return
                position = parse_tpv(line)
                if position is not None:
                    self.sink(("gps", position))

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.run_once()
            self._stop.wait(5)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
