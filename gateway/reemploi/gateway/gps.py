"""Vehicle position from gpsd (JSON over TCP, port 2947): pure TPV parsing + a thin reader.

The reader asks gpsd to ``?WATCH`` in JSON and hands the bridge ``("gps", Position)`` for
each ``TPV`` report with a 2D/3D fix, and ``("gps", None)`` for a ``TPV`` without one
(mode 0/1: the fix is lost, the last position must not be attached any more). Other
reports (``VERSION``, ``DEVICES``, ``WATCH``, ``SKY``…) and garbage are ignored.
"""

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


def read_report(line: str | bytes) -> tuple[bool, Position | None]:
    """``(is_tpv, position)``: position only for a TPV with a usable 2D/3D fix."""
    try:
        obj = json.loads(line)
    except ValueError:
        return False, None
    if not isinstance(obj, dict) or obj.get("class") != "TPV":
        return False, None
    return True, _fix(obj)


def parse_tpv(line: str | bytes) -> Position | None:
    """A gpsd ``TPV`` report with a 2D/3D fix → Position; anything else → None."""
    return read_report(line)[1]


def _fix(obj: dict[str, Any]) -> Position | None:
    mode = obj.get("mode")
    if type(mode) is not int or mode not in (2, 3):
        return None
    lat, lon = obj.get("lat"), obj.get("lon")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if isinstance(lat, bool) or isinstance(lon, bool):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    at = 0
    if isinstance(obj.get("time"), str):
        try:
            at = int(datetime.fromisoformat(obj["time"].replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            at = 0
    return Position(float(lat), float(lon), mode, max(at, 0))


class GpsdReader:
    """Connects to gpsd, watches, and reconnects every ``retry_s`` after a failure."""

    def __init__(
        self,
        host: str,
        port: int,
        sink: Callable[[tuple[Any, ...]], None],
        retry_s: float = 5.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.sink = host, port, sink
        self.retry_s, self.read_timeout_s = retry_s, read_timeout_s
        self.connections = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        with socket.create_connection((self.host, self.port), self.read_timeout_s) as sock:
            self.connections += 1
            sock.sendall(WATCH)
            for line in sock.makefile("rb"):
                if self._stop.is_set():
                    return
                is_tpv, position = read_report(line)
                if is_tpv:
                    self.sink(("gps", position))

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.run_once()
            self._stop.wait(self.retry_s)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="gpsd")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.read_timeout_s + 1)
