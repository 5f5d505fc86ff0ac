"""Start, watch and stop one service process by its PID.

Shared by the Mosquitto, PostgreSQL and InfluxDB launchers: a free port on 127.0.0.1,
a private temp folder (owned by the service's system user when we run as root), the
process started in its own session with its output in a log file, and a stop that
signals the PID, waits, then kills the whole process group.

A run that is cut short must not leave its services behind (they run in sessions of
their own, so nothing takes them down with the test process): on a normal exit or Ctrl-C
``atexit`` stops them, a ``SIGTERM`` is turned into Ctrl-C (:func:`interrupt_on_sigterm`),
and against ``SIGKILL`` each service is recorded, with its owner, in a registry folder;
the next start of any service stops those whose owner is gone (:func:`stop_orphans`). A
leftover broker or database is no harm to correctness, but its wake-ups stretch the tail
of every latency measured beside it (docs/benchmarks.md, fifteenth session).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

INSTALL_HINT = (
    "lancez `make test` ou `sudo scripts/install-test-services.sh` / "
    "run `make test` or `sudo scripts/install-test-services.sh`"
)
LOG_TAIL_LINES = 40
LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A test service could not be provided."""


class ServiceNotInstalledError(ServiceError):
    """The service's program is not installed on this machine."""


class ServiceStartError(ServiceError):
    """The service was launched but did not become ready; the message has its log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_program(name: str, *extra_globs: str) -> str:
    """Absolute path of ``name`` (PATH first, then the globs); fail with the install hint."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in extra_globs:
        matches = sorted(Path("/").glob(pattern.lstrip("/")))
        if matches:
            return str(matches[-1])
    raise ServiceNotInstalledError(f"`{name}` introuvable / not found: {INSTALL_HINT}")


def running_as_root() -> bool:
    return os.geteuid() == 0


def system_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def make_service_folder(prefix: str, owner: str | None = None) -> Path:
    """A fresh private folder under the system temp dir, chowned to ``owner`` as root."""
    folder = Path(tempfile.mkdtemp(prefix=f"reemploi-{prefix}-"))
    if owner is not None and running_as_root():
        chown_tree(folder, owner)
    return folder


def chown_tree(folder: Path, owner: str) -> None:
    """``chown -R owner:`` — services that drop privileges must read their own files."""
    entry = pwd.getpwnam(owner)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def run_checked(
    argv: Sequence[str],
    *,
    log_path: Path,
    user: str | None = None,
    timeout: float = 120,
    secret_args: int = 0,
) -> None:
    """Run a set-up command to completion, appending its output to ``log_path``.

    The last ``secret_args`` arguments (passwords) are not written to the log.
    """
    shown = list(argv[: len(argv) - secret_args]) + ["***"] * secret_args
    uid, gid, groups = _identity(user)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(shown)}\n".encode())
        log.flush()
        try:
            completed = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceStartError(
                f"{argv[0]} did not finish in {timeout} s; log tail:\n{log_tail(log_path)}"
            ) from exc
    if completed.returncode != 0:
        raise ServiceStartError(
            f"{argv[0]} exited with {completed.returncode}; "
            f"log {log_path}, tail:\n{log_tail(log_path)}"
        )


def _identity(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """(uid, gid, extra groups) for Popen to run the child as ``user``; only as root."""
    if user is None or not running_as_root():
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


_live: weakref.WeakSet[ServiceProcess] = weakref.WeakSet()

# One file per running service: {service pid and start time, owner pid and start time, name}
REGISTRY = Path(tempfile.gettempdir()) / "reemploi-test-services"
_orphans_checked = False


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat`` field 22): with
    the PID, it names one process even after the PID is reused; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19]) if fields[0] not in {"Z", "X"} else None


def _register(name: str, pid: int) -> None:
    entry = {
        "name": name,
        "pid": pid,
        "start": start_time(pid),
        "owner": os.getpid(),
        "owner_start": start_time(os.getpid()),
    }
    with contextlib.suppress(OSError):  # no registry (read-only /tmp): atexit still works
        REGISTRY.mkdir(mode=0o700, exist_ok=True)
        (REGISTRY / f"{pid}.json").write_text(json.dumps(entry))


def _unregister(pid: int) -> None:
    with contextlib.suppress(OSError):
        (REGISTRY / f"{pid}.json").unlink()


def stop_orphans(registry: Path | None = None) -> list[str]:
    """Stop the services recorded in ``registry`` whose owner (the test or bench process
    that started them) is gone, each only if it is still the same process (PID and start
    time); forget records of services already gone. Returns ``"name (pid N)"`` for each
    service stopped."""
    folder = registry or REGISTRY
    stopped: list[str] = []
    try:
        records = sorted(folder.glob("*.json"))
    except OSError:
        return stopped
    for record in records:
        try:
            entry = json.loads(record.read_text())
            pid, owner = int(entry["pid"]), int(entry["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                record.unlink()
            continue
        if start_time(owner) == entry.get("owner_start") is not None:
            continue  # its owner is running: its services are its own business
        if start_time(pid) == entry.get("start") is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the service and whatever it forked
            stopped.append(f"{entry.get('name', '?')} (pid {pid})")
        with contextlib.suppress(OSError):
            record.unlink()
    return stopped


def _stop_orphans_once() -> None:
    global _orphans_checked
    if _orphans_checked:
        return
    _orphans_checked = True
    stopped = stop_orphans()
    if stopped:
        print(
            "services orphelins arrêtés (d'un passage interrompu) / orphaned services"
            " stopped: " + ", ".join(stopped),
            file=sys.stderr,
            flush=True,
        )


def interrupt_on_sigterm() -> bool:
    """``SIGTERM`` raises :class:`KeyboardInterrupt` in the main thread, as Ctrl-C does,
    so that fixtures are torn down and ``atexit`` stops the services (by default a
    ``SIGTERM`` ends Python at once, services left running). Only when nobody handles
    ``SIGTERM`` yet; True when installed."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False

    def _interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, _interrupt)
    return True


class ServiceProcess:
    """One long-running service process, started in its own session, stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.user = user
        self.stop_signal = stop_signal
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, ready: Callable[[], bool], timeout: float = 30.0) -> None:
        """Launch, then poll ``ready()`` until it is true, the process dies, or time runs out."""
        if self.is_running():
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        _stop_orphans_once()
        uid, gid, groups = _identity(self.user)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        _live.add(self)
        _register(self.name, self._popen.pid)
        deadline = time.monotonic() + timeout
        while True:
            code = self._popen.poll()
            if code is not None:
                _live.discard(self)
                _unregister(self._popen.pid)
                raise ServiceStartError(
                    f"{self.name} exited with {code} during start-up; "
                    f"log {self.log_path}, tail:\n{log_tail(self.log_path)}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceStartError(
                    f"{self.name} not ready after {timeout} s; "
                    f"log {self.log_path}, tail:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """Send the stop signal to the PID, wait, then SIGKILL the process group."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            try:
                popen.send_signal(self.stop_signal)
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Kill whatever is left in the session (the service and any child it forked).
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            popen.kill()
        popen.wait(timeout=timeout)
        _live.discard(self)
        _unregister(popen.pid)


def pid_is_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    return start_time(pid) is not None


@atexit.register
def _stop_leftovers() -> None:
    """Never leave a service behind when the interpreter exits (Ctrl-C, crash)."""
    for process in list(_live):
        with contextlib.suppress(Exception):  # best effort at exit
            process.stop(timeout=5)


class ManagedService:
    """What every throwaway service shares: one :class:`ServiceProcess` working in one
    temp folder; ``start`` is the service's own, the rest is here."""

    _process: ServiceProcess
    folder: Path

    def start(self, timeout: float = 30.0) -> Self:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def is_running(self) -> bool:
        return self._process.is_running()

    def stop(self) -> None:
        self._process.stop()

    def restart(self, timeout: float | None = None) -> None:
        """Stop, then start again on the same port(s) with the same folder."""
        self.stop()
        if timeout is None:
            self.start()
        else:
            self.start(timeout=timeout)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
