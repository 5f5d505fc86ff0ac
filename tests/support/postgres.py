"""A throwaway PostgreSQL cluster in a temp folder, on 127.0.0.1 and a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
system user and both ``initdb`` and the server run under it. The server is started in
the foreground (``postgres -D … -p PORT -k DIR -c listen_addresses=127.0.0.1``, the same
options ``pg_ctl -o`` would pass) so that we hold its PID; fsync and the rest keep their
defaults. Password authentication is on for TCP, with generated secrets.
"""

from __future__ import annotations

import re
import secrets
import shutil
import signal
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from .processes import (
    INSTALL_HINT,
    LOOPBACK,
    ManagedService,
    ServiceNotInstalledError,
    ServiceProcess,
    find_program,
    free_port,
    make_service_folder,
    run_checked,
    running_as_root,
    system_user_exists,
)

SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def postgres_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin``, else wherever ``initdb`` resolves.

    On these machines ``/usr/local/bin/initdb`` (and ``pg_ctl``, ``postgres``) are only
    symlinks to ``/usr/lib/postgresql/15/bin``; Debian does not put them on PATH itself.
    """
    candidates = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if candidates:
        return max(candidates, key=lambda p: _version_key(p.parent.name))
    try:
        return Path(find_program("initdb")).resolve().parent
    except ServiceNotInstalledError:
        raise ServiceNotInstalledError(
            f"PostgreSQL (initdb) introuvable / not found: {INSTALL_HINT}"
        ) from None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


class Postgres(ManagedService):
    """``with Postgres() as pg:`` → ``pg.url`` (SQLAlchemy, psycopg 3), ``pg.conninfo``."""

    def __init__(self, database: str = "reemploi", user: str = "reemploi") -> None:
        for name in (database, user):
            if not _NAME.match(name):
                raise ValueError(f"not a plain PostgreSQL name: {name!r}")
        self.bin_dir = postgres_bin_dir()
        self.host = LOOPBACK
        self.port = free_port()
        self.database = database
        self.user = user
        self.password = secrets.token_urlsafe(24)
        self._superuser_password = secrets.token_urlsafe(24)
        owner = SYSTEM_USER if running_as_root() and system_user_exists(SYSTEM_USER) else None
        self._owner = owner
        self.folder = make_service_folder("postgres", owner)
        self.data_dir = self.folder / "data"
        self.socket_dir = self.folder
        self.log_path = self.folder / "postgres.log"
        self._process = ServiceProcess(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                "unix_socket_permissions=0700",
            ],
            log_path=self.log_path,
            user=owner,
            stop_signal=signal.SIGINT,  # "fast" shutdown: does not wait for idle clients
        )

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the application database, as the application user."""
        return self.url_for(self.database)

    @property
    def conninfo(self) -> str:
        """libpq URI of the application database (for ``psycopg.connect``)."""
        return self._uri("postgresql", self.user, self.password, self.database)

    @property
    def socket_url(self) -> str:
        """SQLAlchemy URL of the application database over the cluster's Unix socket (as
        a server on the database's own host would connect; the socket's folder is
        private, and the cluster trusts local connections: see ``_initdb``)."""
        return self._socket_uri("postgresql+psycopg", self.database)

    @property
    def socket_conninfo(self) -> str:
        """libpq URI of the application database over the cluster's Unix socket."""
        return self._socket_uri("postgresql", self.database)

    def _socket_uri(self, scheme: str, database: str) -> str:
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        folder, name = quote(str(self.socket_dir), safe=""), quote(database, safe="")
        return f"{scheme}://{user}:{password}@/{name}?host={folder}&port={self.port}"

    def url_for(self, database: str) -> str:
        return self._uri("postgresql+psycopg", self.user, self.password, database)

    def superuser_conninfo(self, database: str = "postgres") -> str:
        return self._uri("postgresql", SUPERUSER, self._superuser_password, database)

    def _uri(self, scheme: str, user: str, password: str, database: str) -> str:
        return (
            f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database, safe='')}"
        )

    def start(self, timeout: float = 60.0) -> Postgres:
        first_start = not self.data_dir.exists()
        if first_start:
            self._initdb()
        self._process.start(self._accepts_connections, timeout=timeout)
        if first_start:
            self._create_role_and_database()
        return self

    def create_database(self, name: str) -> str:
        """Create an empty database owned by the application user; return its URL."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain PostgreSQL name: {name!r}")
        with psycopg.connect(self.superuser_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(self.user)
                )
            )
        return self.url_for(name)

    def _initdb(self) -> None:
        pwfile = self.folder / "superuser-password"
        pwfile.write_text(self._superuser_password + "\n")
        if self._owner is not None:
            shutil.chown(pwfile, self._owner, self._owner)
        pwfile.chmod(0o600)
        try:
            run_checked(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",  # the socket folder is private (0700)
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",  # initdb only; the server keeps fsync on
                ],
                log_path=self.log_path,
                user=self._owner,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.superuser_conninfo(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _create_role_and_database(self) -> None:
        with psycopg.connect(self.superuser_conninfo(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
        self.create_database(self.database)
