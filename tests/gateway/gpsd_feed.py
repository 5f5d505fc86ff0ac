"""The real gpsd for the gateway's tests, fed NMEA 0183 by a tiny TCP server.

gpsd reads a GPS receiver; here the receiver is :class:`NmeaFeed`, a TCP server on
127.0.0.1 that writes one fix's sentences (RMC, GGA, GSA) every ``period`` seconds, and
gpsd reads it as a ``tcp://`` source. The scenario (3D fix, 2D fix, no fix) can change
while it runs. Install gpsd with ``scripts/install-gateway-tools.sh``.
"""

from __future__ import annotations

import functools
import operator
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.processes import (
    ServiceProcess,
    find_program,
    free_port,
    make_service_folder,
    port_accepts,
)

# Grenoble, place Victor Hugo: 45°11.3117' N, 5°43.4714' E
LAT, LON = 45.188528333, 5.724523333
START = datetime(2025, 11, 24, 10, 0, 0, tzinfo=UTC)


def sentence(body: str) -> bytes:
    checksum = functools.reduce(operator.xor, body.encode("ascii"), 0)
    return f"${body}*{checksum:02X}\r\n".encode("ascii")


def fix_sentences(scenario: str, at: datetime) -> list[bytes]:
    t, d = at.strftime("%H%M%S.00"), at.strftime("%d%m%y")
    where = "4511.3117,N,00543.4714,E"
    if scenario == "3d":
        bodies = [
            f"GPRMC,{t},A,{where},0.5,54.7,{d},,,A",
            f"GPGGA,{t},{where},1,08,0.9,214.0,M,47.0,M,,",
            "GPGSA,A,3,04,05,09,12,24,25,29,31,,,,,1.8,0.9,1.5",
        ]
    elif scenario == "2d":
        bodies = [
            f"GPRMC,{t},A,{where},0.5,54.7,{d},,,A",
            f"GPGGA,{t},{where},1,03,2.9,,,,,,",
            "GPGSA,A,2,04,05,09,,,,,,,,,,3.1,2.9,1.0",
        ]
    else:  # no fix
        bodies = [
            f"GPRMC,{t},V,,,,,,,{d},,,N",
            f"GPGGA,{t},,,,,0,00,99.99,,,,,,",
            "GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99",
        ]
    return [sentence(b) for b in bodies]


class NmeaFeed:
    """A GPS receiver on TCP: one client (gpsd) at a time, one fix per ``period``."""

    def __init__(self, scenario: str = "3d", period: float = 0.2) -> None:
        self.scenario = scenario
        self.period = period
        self.sent = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="nmea-feed")
        self._thread.start()

    def fix_time(self, n: int) -> datetime:
        return START + timedelta(seconds=n)

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                continue
            with client:
                while not self._stop.is_set():
                    try:
                        for line in fix_sentences(self.scenario, self.fix_time(self.sent)):
                            client.sendall(line)
                    except OSError:
                        break
                    self.sent += 1
                    time.sleep(self.period)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


class Gpsd:
    """``gpsd -N -n -S <port> tcp://127.0.0.1:<feed>``, stopped by its PID."""

    def __init__(self, feed: NmeaFeed) -> None:
        self.program = find_program("gpsd", "/usr/sbin/gpsd")
        self.port = free_port()
        self.folder = make_service_folder("gpsd")
        self.log_path = Path(self.folder) / "gpsd.log"
        argv = [self.program, "-N", "-n", "-S", str(self.port), f"tcp://127.0.0.1:{feed.port}"]
        self._process = ServiceProcess("gpsd", argv, log_path=self.log_path)

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> Gpsd:
        self._process.start(lambda: port_accepts(self.port), timeout=15)
        return self

    def close(self) -> None:
        self._process.stop()
