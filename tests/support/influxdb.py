"""A throwaway InfluxDB 1.x (Debian's 1.6.7) on 127.0.0.1, from ``influxd config``.

Only the 1.x HTTP API exists: ``/write?db=`` (line protocol) and ``/query`` (InfluxQL).
"""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .processes import (
    LOOPBACK,
    ManagedService,
    ServiceProcess,
    ServiceStartError,
    find_program,
    free_port,
    make_service_folder,
)

_SECTION = re.compile(r"^\s*\[\[?([A-Za-z0-9_-]+)\]\]?\s*$")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+)\s*=")


def rewrite_influxdb_config(
    default_config: str, *, folder: Path, http_port: int, rpc_port: int, host: str = LOOPBACK
) -> str:
    """Point every path into ``folder``, every listener at ``host``, reporting off.

    ``default_config`` is the TOML printed by ``influxd config``. Sections other than
    the ones below keep their defaults (graphite, collectd, udp… are disabled there).
    """
    overrides: dict[tuple[str, str], str] = {
        ("", "bind-address"): f'"{host}:{rpc_port}"',
        ("", "reporting-disabled"): "true",  # upstream key
        ("", "reporting-enabled"): "false",  # Debian's patched key
        ("meta", "dir"): f'"{folder / "meta"}"',
        ("data", "dir"): f'"{folder / "data"}"',
        ("data", "wal-dir"): f'"{folder / "wal"}"',
        ("http", "bind-address"): f'"{host}:{http_port}"',
        ("http", "unix-socket-enabled"): "false",
        ("http", "bind-socket"): f'"{folder / "influxdb.sock"}"',
        ("http", "pprof-enabled"): "false",
        ("monitor", "store-enabled"): "false",  # no _internal writes every 10 s
        ("ifql", "enabled"): "false",
    }
    seen: set[tuple[str, str]] = set()
    section = ""
    out = []
    for line in default_config.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
        key = _KEY.match(line)
        if key and (section, key.group(2)) in overrides:
            seen.add((section, key.group(2)))
            line = f"{key.group(1)}{key.group(2)} = {overrides[(section, key.group(2))]}"
        out.append(line)
    required = {("", "bind-address"), ("meta", "dir"), ("data", "dir"), ("http", "bind-address")}
    if missing := required - seen:
        raise ServiceStartError(f"influxd config lacks expected keys: {sorted(missing)}")
    if not {("", "reporting-disabled"), ("", "reporting-enabled")} & seen:
        out.insert(0, "reporting-disabled = true")
    return "\n".join(out) + "\n"


class InfluxDB1(ManagedService):
    """``with InfluxDB1() as influx:`` → ``influx.url`` (``http://127.0.0.1:PORT``)."""

    def __init__(self) -> None:
        self.program = find_program("influxd", "/usr/bin/influxd")
        self.host = LOOPBACK
        self.port = free_port()
        self.rpc_port = free_port()
        self.folder = make_service_folder("influxdb")
        self.config_path = self.folder / "influxdb.conf"
        self.log_path = self.folder / "influxd.log"
        self._process = ServiceProcess(
            "influxd", [self.program, "-config", str(self.config_path)], log_path=self.log_path
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> InfluxDB1:
        if not self.config_path.exists():
            # `-config /dev/null`: built-in defaults, not whatever /etc/influxdb holds.
            defaults = subprocess.run(
                [self.program, "config", "-config", "/dev/null"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout
            self.config_path.write_text(
                rewrite_influxdb_config(
                    defaults, folder=self.folder, http_port=self.port, rpc_port=self.rpc_port
                )
            )
        self._process.start(self._pings, timeout=timeout)
        return self

    def create_database(self, name: str) -> None:
        """``CREATE DATABASE`` through ``/query`` (idempotent in InfluxQL)."""
        body = urllib.parse.urlencode({"q": f'CREATE DATABASE "{name}"'}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=10) as response:
            response.read()

    def _pings(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return int(response.status) == 204
        except (urllib.error.URLError, OSError):
            return False
