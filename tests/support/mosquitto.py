"""A throwaway Mosquitto 2.x broker on 127.0.0.1, configured by us, restartable in place."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .processes import (
    LOOPBACK,
    ManagedService,
    ServiceProcess,
    chown_tree,
    find_program,
    free_port,
    make_service_folder,
    port_accepts,
    run_checked,
    running_as_root,
    system_user_exists,
)

SYSTEM_USER = "mosquitto"


@dataclass(frozen=True)
class MosquittoTls:
    """Files for a TLS listener; they are copied into the broker's folder."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False
    use_identity_as_username: bool = False


@dataclass(frozen=True)
class MosquittoSettings:
    """What goes into ``mosquitto.conf``. Defaults: anonymous plain listener, no persistence.

    ``passwords`` maps user name → clear password (hashed with ``mosquitto_passwd``);
    ``acl`` is the text of an ACL file. ``max_queued_messages=0`` means unlimited
    (Mosquitto's own default, 1000, drops QoS 1 messages in a burst).
    """

    allow_anonymous: bool = True
    passwords: Mapping[str, str] | None = None
    acl: str | None = None
    tls: MosquittoTls | None = None
    use_username_as_clientid: bool = False
    persistence: bool = False
    max_queued_messages: int | None = None
    max_inflight_messages: int | None = None
    extra_lines: tuple[str, ...] = ()


class Mosquitto(ManagedService):
    """``with Mosquitto() as broker:`` → ``broker.host``, ``broker.port`` (``tls_port``).

    The ports are chosen once, so ``restart()`` brings the broker back on the same ones.
    """

    def __init__(self, settings: MosquittoSettings | None = None) -> None:
        self.settings = settings or MosquittoSettings()
        self.program = find_program("mosquitto", "/usr/sbin/mosquitto")
        self.host = LOOPBACK
        self.port = free_port()
        self.tls_port: int | None = free_port() if self.settings.tls else None
        owner = SYSTEM_USER if running_as_root() and system_user_exists(SYSTEM_USER) else None
        self._owner = owner
        self.folder = make_service_folder("mosquitto", owner)
        self.config_path = self.folder / "mosquitto.conf"
        self.log_path = self.folder / "mosquitto.log"
        self._write_files()
        self._process = ServiceProcess(
            "mosquitto", [self.program, "-c", str(self.config_path)], log_path=self.log_path
        )

    def start(self, timeout: float = 15.0) -> Mosquitto:
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        self._process.start(lambda: all(port_accepts(p) for p in ports), timeout=timeout)
        return self

    def _write_files(self) -> None:
        s = self.settings
        listener_options = ["use_username_as_clientid true"] if s.use_username_as_clientid else []
        lines = [
            "# written by tests/support/mosquitto.py",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "set_tcp_nodelay true",
            f"allow_anonymous {'true' if s.allow_anonymous else 'false'}",
        ]
        if s.persistence:
            lines += ["persistence true", f"persistence_location {self.folder}/"]
        else:
            lines.append("persistence false")
        if s.max_queued_messages is not None:
            lines.append(f"max_queued_messages {s.max_queued_messages}")
        if s.max_inflight_messages is not None:
            lines.append(f"max_inflight_messages {s.max_inflight_messages}")
        if s.passwords is not None:
            lines.append(f"password_file {self._write_password_file(s.passwords)}")
        if s.acl is not None:
            acl_path = self.folder / "acl"
            acl_path.write_text(s.acl)
            lines.append(f"acl_file {acl_path}")
        lines += ["", f"listener {self.port} {self.host}", *listener_options]
        if s.tls is not None:
            lines += ["", f"listener {self.tls_port} {self.host}", *listener_options]
            lines += self._tls_lines(s.tls)
        lines += list(s.extra_lines)
        self.config_path.write_text("\n".join(lines) + "\n")
        if self._owner is not None:
            chown_tree(self.folder, self._owner)

    def _write_password_file(self, passwords: Mapping[str, str]) -> Path:
        path = self.folder / "passwords"
        tool = find_program("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        path.write_text("")
        for user, password in passwords.items():
            run_checked(
                [tool, "-b", str(path), user, password], log_path=self.log_path, secret_args=1
            )
        return path

    def _tls_lines(self, tls: MosquittoTls) -> list[str]:
        lines = []
        for option, source in (
            ("cafile", tls.cafile),
            ("certfile", tls.certfile),
            ("keyfile", tls.keyfile),
        ):
            target = self.folder / f"tls-{option}.pem"
            shutil.copyfile(source, target)
            target.chmod(0o600)
            lines.append(f"{option} {target}")
        lines.append(f"require_certificate {'true' if tls.require_certificate else 'false'}")
        if tls.use_identity_as_username:
            lines.append("use_identity_as_username true")
        return lines
