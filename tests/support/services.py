"""Real services for the tests, each on 127.0.0.1, a free port and a private temp folder.

Every class starts its program in the background, waits until it answers, and stops
it by PID (signal, wait, then SIGKILL). Each is a context manager::

    with Mosquitto(MosquittoSettings(persistence=True)) as broker:
        broker.restart()  # same port

A missing program raises ``ServiceNotInstalledError`` (run
``scripts/install-test-services.sh``); a program that does not come up raises
``ServiceStartError`` with the tail of its log.
"""

from .influxdb import InfluxDB1, rewrite_influxdb_config
from .mosquitto import Mosquitto, MosquittoSettings, MosquittoTls
from .postgres import Postgres, postgres_bin_dir
from .processes import (
    INSTALL_HINT,
    ServiceError,
    ServiceNotInstalledError,
    ServiceStartError,
    free_port,
    pid_is_alive,
)

__all__ = [
    "INSTALL_HINT",
    "InfluxDB1",
    "Mosquitto",
    "MosquittoSettings",
    "MosquittoTls",
    "Postgres",
    "ServiceError",
    "ServiceNotInstalledError",
    "ServiceStartError",
    "free_port",
    "pid_is_alive",
    "postgres_bin_dir",
    "rewrite_influxdb_config",
]
