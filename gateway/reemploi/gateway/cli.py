"""``reemploi-gateway run|status|replay|doctor``.

Messages for people are French first, then English.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from . import health as health_mod
from .ble_replay import RecordingError
from .outbox_store import OutboxStore, salvage
from .settings import GatewaySettings, load_settings

if TYPE_CHECKING:
    from .bridge import Bridge

EXIT_OK = 0
EXIT_ALARM = 1
EXIT_CONFIG = 2
EXIT_NO_HEALTH = 3


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def _settings(args: argparse.Namespace) -> GatewaySettings:
    try:
        return load_settings(args.config)
    except ValidationError as exc:
        print("configuration invalide / invalid configuration:", file=sys.stderr)
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(global)"
            print(f"  {where}: {err['msg']}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def cmd_run(args: argparse.Namespace) -> int:
    from .bridge import Bridge  # paho only when running

    settings = _settings(args)
    bridge = Bridge(settings, reload_settings=lambda: load_settings(args.config))
    if bridge.store.quarantined is not None:
        q = bridge.store.quarantined
        print(
            f"ALARME : file d'attente corrompue mise de côté / ALARM: corrupted outbox "
            f"quarantined: {q.moved_to} ({q.reason})",
            file=sys.stderr,
        )

    def stop(_sig: int, _frame: FrameType | None) -> None:
        bridge.stopping.set()

    def reload(_sig: int, _frame: FrameType | None) -> None:
        bridge.reload_requested = True  # a plain flag: no lock inside a signal handler

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, reload)
    try:
        extras = _start_extras(settings, bridge)
    except RecordingError as exc:
        print(f"enregistrement BLE illisible / unreadable BLE recording: {exc}", file=sys.stderr)
        bridge.store.close()
        return EXIT_CONFIG
    print(
        f"passerelle {settings.gateway_id} démarrée / gateway started "
        f"(outbox: {bridge.outbox.depth} en attente / queued)",
        flush=True,
    )
    bridge.run()
    for extra in extras:
        extra.stop()
    return EXIT_OK


def _start_extras(settings: GatewaySettings, bridge: Bridge) -> list[_Stoppable]:
    """Optional adapters: BLE scanner (or a recording replayed), gpsd, Raspberry Pi reader."""
    started: list[_Stoppable] = []
    if settings.ble_enabled:
        from .ble_scanner import BleLotScanner

        scanner = BleLotScanner.for_settings(settings, bridge.events.put)
        if settings.ble_replay_file is not None:
            from .ble_replay import BleReplay, load_recording

            replay = BleReplay(scanner, load_recording(settings.ble_replay_file))
            replay.start_thread()
            started.append(replay)
        else:
            scanner.start_thread()
            started.append(scanner)
    if settings.gpsd_host:
        from .gps import GpsdReader

        gps = GpsdReader(settings.gpsd_host, settings.gpsd_port, bridge.events.put)
        gps.start_thread()
        started.append(gps)
    if settings.pi_reader_device:
        from .pi_reader import PiReader

        reader = PiReader.for_settings(settings)
        reader.start_thread()
        started.append(reader)
    return started


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    report = health_mod.read_file(settings.health_path)
    if report is None:
        print(
            f"aucun état dans {settings.health_path} : la passerelle a-t-elle démarré ? / "
            "no health file: has the gateway run?"
        )
        return EXIT_NO_HEALTH
    if args.json:
        import json

        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(health_mod.describe(report, time.time()))
    return EXIT_ALARM if report.get("alarms") else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Salvage a quarantined/old outbox file into the current one, or release held rows."""
    settings = _settings(args)
    store = OutboxStore(settings.outbox_path, settings.synchronous)
    try:
        if args.release_held:
            released = store.release_held()
            print(
                f"{released} message(s) retenu(s) remis en file (la passerelle en marche les "
                f"renvoie dans la seconde) / {released} held message(s) queued again"
            )
        if args.source is not None:
            batch, added, seen = [], 0, 0
            for message in salvage(args.source):
                batch.append(message)
                if len(batch) >= 1000:
                    added += sum(e is not None for e in store.add_many(batch))
                    seen += len(batch)
                    batch = []
            added += sum(e is not None for e in store.add_many(batch))
            seen += len(batch)
            print(
                f"{added} messages repris sur {seen} lus dans {args.source} / "
                f"{added} of {seen} messages salvaged (the rest were already queued)"
            )
        print(f"en attente / queued: {store.count()}")
    finally:
        store.close()
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    settings = _settings(args)
    checks: list[tuple[str, bool, str]] = []
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.state_dir / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        checks.append(("dossier d'état / state dir", True, str(settings.state_dir)))
    except OSError as exc:
        checks.append(("dossier d'état / state dir", False, str(exc)))
    try:
        store = OutboxStore(settings.outbox_path, settings.synchronous)
        q = store.quarantined
        detail = f"{store.count()} en attente / queued" + (
            f"; mis de côté / quarantined: {q.moved_to}" if q else ""
        )
        store.close()
        checks.append(("file d'attente / outbox", q is None, detail))
    except Exception as exc:  # report, do not crash: this is a diagnosis
        checks.append(("file d'attente / outbox", False, str(exc)))
    for name, host, port in (
        ("broker local / local broker", settings.local_host, settings.local_port),
        ("broker central / central broker", settings.central_host, settings.central_port),
    ):
        try:
            with socket.create_connection((host, port), timeout=3):
                checks.append((name, True, f"{host}:{port}"))
        except OSError as exc:
            checks.append((name, False, f"{host}:{port}: {exc}"))
    checks.append(_central_login(settings))
    checks.append(_pi_reader_check(settings))
    try:
        import bleak  # noqa: F401

        checks.append(("bleak (BLE)", True, "importable"))
    except Exception as exc:
        checks.append(("bleak (BLE)", not settings.ble_enabled, str(exc)))
    if settings.ble_replay_file is not None:
        from .ble_replay import load_recording

        try:
            count = len(load_recording(settings.ble_replay_file))
            checks.append(("enregistrement BLE / BLE recording", True, f"{count} annonces / ads"))
        except RecordingError as exc:
            checks.append(("enregistrement BLE / BLE recording", False, str(exc)))
    if settings.gpsd_host:
        checks.append(_gpsd_check(settings.gpsd_host, settings.gpsd_port))
    failed = 0
    for name, ok, detail in checks:
        print(f"[{'OK' if ok else 'ÉCHEC/FAIL'}] {name}: {detail}")
        failed += not ok
    return EXIT_ALARM if failed else EXIT_OK


def _pi_reader_check(settings: GatewaySettings) -> tuple[str, bool, str]:
    from .pi_reader import hardware_status

    name = "lecteur MFRC522 / MFRC522 reader"
    if not settings.pi_reader_device:
        return name, True, "non configuré / not configured (pi_reader_device)"
    ok, detail = hardware_status()
    return name, ok, detail


def _gpsd_check(host: str, port: int) -> tuple[str, bool, str]:
    """gpsd answers a connection with its VERSION report."""
    name = "gpsd"
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            line = sock.makefile("rb").readline()
    except OSError as exc:
        return name, False, f"{host}:{port}: {exc}"
    if b'"class":"VERSION"' not in line:
        return name, False, f"{host}:{port}: réponse inattendue / unexpected answer"
    return name, True, f"{host}:{port}: {line.decode(errors='replace').strip()[:80]}"


def _central_login(settings: GatewaySettings) -> tuple[str, bool, str]:
    """Connect to the central broker with the gateway's identity and disconnect."""
    from .central_link import connack_problem, connect_problem, make_central_client

    name = "identité au broker central / central broker login"
    result: dict[str, Any] = {}
    done = threading.Event()
    client = make_central_client(settings)

    def on_connect(_c: object, _u: object, _f: object, rc: Any, _p: object) -> None:
        result["rc"] = rc
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.central_host, settings.central_port, keepalive=10)
    except (OSError, ValueError) as exc:
        return name, False, connect_problem(exc).text
    client.loop_start()
    done.wait(5)
    client.disconnect()
    client.loop_stop()
    if "rc" not in result:
        return name, False, "pas de réponse / no answer"
    if result["rc"].is_failure:
        return name, False, connack_problem(result["rc"]).text
    return name, True, f"acceptée / accepted ({settings.central_username})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reemploi-gateway", description="Passerelle Réemploi / Réemploi gateway"
    )
    parser.add_argument("--config", type=Path, default=None, help="fichier TOML / TOML file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="relayer / forward")
    status = sub.add_parser("status", help="état / health")
    status.add_argument("--json", action="store_true")
    replay = sub.add_parser("replay", help="reprendre / salvage or release held")
    replay.add_argument("--from", dest="source", type=Path, default=None)
    replay.add_argument("--release-held", action="store_true")
    sub.add_parser("doctor", help="diagnostic")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "status": cmd_status, "replay": cmd_replay, "doctor": cmd_doctor}
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
