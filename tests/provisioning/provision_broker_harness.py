"""Run Mosquitto on the mosquitto.conf that provisioning generated (not a test-written one)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from support.mqtt_probe import MqttProbe
from support.processes import (
    ServiceProcess,
    chown_tree,
    find_program,
    free_port,
    make_service_folder,
    port_accepts,
    running_as_root,
    system_user_exists,
)

from reemploi.provisioning.registry import ProvisioningState


def new_state(prefix: str) -> ProvisioningState:
    """A fresh installation in a private folder (``state.folder``): CA and broker for
    ``https://reemploi.test`` on localhost, TLS and plain listeners on free ports."""
    state = ProvisioningState(make_service_folder(prefix))
    state.init(
        "https://reemploi.test",
        ["localhost", "127.0.0.1"],
        tls_port=free_port(),
        plain_port=free_port(),
    )
    return state


class GeneratedBroker:
    """Mosquitto started on ``state/broker/mosquitto.conf``; SIGHUP reloads, restart keeps ports."""

    def __init__(self, state: ProvisioningState) -> None:
        self.state = state
        registry = state.load()
        self.plain_port = registry.broker_plain_port
        self.tls_port = registry.broker_tls_port
        self.conf = state.broker_folder / "mosquitto.conf"
        self.log = state.folder / "mosquitto.log"
        self.process = ServiceProcess(
            "mosquitto",
            [find_program("mosquitto", "/usr/sbin/mosquitto"), "-c", str(self.conf)],
            log_path=self.log,
        )

    def _own_files(self) -> None:
        if running_as_root() and system_user_exists("mosquitto"):
            chown_tree(self.state.folder, "mosquitto")

    def start(self) -> GeneratedBroker:
        self._own_files()
        self.process.start(
            lambda: port_accepts(self.plain_port) and port_accepts(self.tls_port), timeout=15
        )
        return self

    def reload(self) -> None:
        """What an installer does after ``reader revoke``: SIGHUP the broker's PID."""
        self._own_files()
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "Reloading config" not in self.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)

    def restart(self) -> None:
        self.process.stop()
        self.start()

    def stop(self) -> None:
        self.process.stop()

    def probe(self, username: str, password: str, client_id: str = "", **kwargs: Any) -> MqttProbe:
        return MqttProbe(
            "127.0.0.1",
            self.plain_port,
            client_id=client_id,
            username=username,
            password=password,
            **kwargs,
        )

    def tls_probe(
        self, username: str, password: str, bundle: Path | None, client_id: str = ""
    ) -> MqttProbe:
        probe = MqttProbe(
            "127.0.0.1", self.tls_port, client_id=client_id, username=username, password=password
        )
        ca = str(self.state.broker_folder / "ca.crt")
        if bundle is None:
            probe.client.tls_set(ca_certs=ca)
        else:
            probe.client.tls_set(
                ca_certs=ca,
                certfile=str(bundle / "client.crt"),
                keyfile=str(bundle / "client.key"),
            )
        return probe
