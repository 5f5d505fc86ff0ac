"""Helpers for the gateway's tests: simulated readers, the gateway as a real process, and
a recording subscriber that checks what a ledger must hold (each key once, per-device
order), until the server's ingest is used instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from reemploi.protocol.wire import MalformedMessage, Scan, decode_scan, encode_scan

ROOT = Path(__file__).resolve().parents[2]
SITE = "site-test"
GATEWAY = "gw-test"


def reader_scans(device: str, count: int, start: int = 0) -> list[Scan]:
    """``count`` NFC scans from one simulated reader, seq ``start`` …"""
    tag = sum(device.encode()) % 256  # distinct tags per reader: no cross-reader merge
    return [
        Scan(
            device,
            seq,
            "nfc_uid",
            f"04{tag:02X}{seq % (1 << 40):010X}",
            None,
            1_764_000_000_000 + seq,
        )
        for seq in range(start, start + count)
    ]


def publish_readers(host: str, port: int, scans_by_device: dict[str, list[Scan]]) -> None:
    """Each reader publishes its scans in order, QoS 1, from its own client, in parallel."""

    def one(device: str, scans: list[Scan]) -> None:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device)
        c.max_inflight_messages_set(100)
        c.connect(host, port)
        c.loop_start()
        infos = [
            c.publish(f"reemploi/v1/{SITE}/{device}/scan", encode_scan(s), qos=1) for s in scans
        ]
        for info in infos:
            info.wait_for_publish(60)
        c.disconnect()
        c.loop_stop()

    threads = [threading.Thread(target=one, args=item) for item in scans_by_device.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


@dataclass
class LedgerRecorder:
    """A persistent-session subscriber on the central broker, recording every scan.

    ``first_seqs[device]`` lists each distinct scan in the order it first arrived — what
    an idempotent ledger keeps; ``raw`` counts every delivery, duplicates included.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    keys: set[str] = field(default_factory=set)
    first_seqs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    raw: int = 0
    malformed: int = 0
    other: list[tuple[str, bytes]] = field(default_factory=list)
    scans: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="ledger-recorder", clean_session=False
        )
        if self.username is not None:
            self.client.username_pw_set(self.username, self.password)
        self.client.on_connect = lambda c, *_: c.subscribe("reemploi/v1/#", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)

    def start(self) -> LedgerRecorder:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if not msg.topic.endswith("/scan"):
                self.other.append((msg.topic, msg.payload))
                return
            self.raw += 1
            self.scans.append((msg.topic, msg.payload))
            try:
                scan = decode_scan(msg.payload)
            except MalformedMessage:
                self.malformed += 1
                return
            if scan.key not in self.keys:
                self.keys.add(scan.key)
                self.first_seqs[scan.device].append(scan.seq)

    def of_kind(self, kind: str) -> list[tuple[str, bytes]]:
        """Every delivery (duplicates included) on ``reemploi/v1/+/+/<kind>``, in order."""
        with self._lock:
            return [(t, p) for t, p in self.other if t.rsplit("/", 1)[-1] == kind]

    def wait_kind(self, kind: str, count: int, timeout: float) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of_kind(kind)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(self.of_kind(kind))} {kind} messages, expected {count}")

    def raw_scans(self) -> list[tuple[str, bytes]]:
        """Every scan delivery (duplicates included), in order."""
        with self._lock:
            return list(self.scans)

    def seqs(self, device: str) -> list[int]:
        with self._lock:
            return list(self.first_seqs[device])

    def distinct(self) -> int:
        with self._lock:
            return len(self.keys)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.distinct() >= count:
                return True
            time.sleep(0.05)
        return False


class GatewayProcess:
    """``reemploi-gateway run`` as a child process, configured by environment."""

    def __init__(
        self, state_dir: Path, local_port: int, central_port: int, **extra: str | None
    ) -> None:
        """``extra``: settings as ``name=value`` (environment); ``None`` removes a default."""
        self.state_dir = state_dir
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("core", "gateway")),
            "REEMPLOI_GATEWAY_CONFIG_FILE": str(state_dir / "absent.toml"),
            "REEMPLOI_GATEWAY_SITE": SITE,
            "REEMPLOI_GATEWAY_GATEWAY_ID": GATEWAY,
            "REEMPLOI_GATEWAY_LOCAL_PORT": str(local_port),
            "REEMPLOI_GATEWAY_CENTRAL_HOST": "127.0.0.1",
            "REEMPLOI_GATEWAY_CENTRAL_PORT": str(central_port),
            "REEMPLOI_GATEWAY_CENTRAL_USERNAME": GATEWAY,
            "REEMPLOI_GATEWAY_CENTRAL_PASSWORD": "test-only-secret",
            "REEMPLOI_GATEWAY_CENTRAL_TLS": "false",
            "REEMPLOI_GATEWAY_STATE_DIR": str(state_dir),
            "REEMPLOI_GATEWAY_HEALTH_INTERVAL_S": "0.3",
        }
        for name, value in extra.items():
            key = f"REEMPLOI_GATEWAY_{name.upper()}"
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        health = self.env.get("REEMPLOI_GATEWAY_HEALTH_FILE")
        self.health_path = Path(health) if health else state_dir / "health.json"
        self.log_path = state_dir / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reemploi.gateway.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self) -> GatewayProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reemploi.gateway.cli", "run"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a power cut or the OOM killer would."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def health(self) -> dict[str, object]:
        try:
            data = json.loads(self.health_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def wait_health(self, predicate: object, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            health = self.health()
            if health and predicate(health):  # type: ignore[operator]
                return health
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log_tail()}")
            time.sleep(0.1)
        raise AssertionError(f"health never matched; last {health}; log: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"


class Ledger:
    """The server's real ingest (``reemploi.server.ingest``) on the central broker, with
    its SQL ledger in SQLite: what the platform keeps is read back from ``sightings``."""

    def __init__(self, db_path: Path, host: str, port: int, devices: list[str]) -> None:
        from reemploi.server.db.engine import make_engine, migrate
        from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
        from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
        from reemploi.server.registry import (
            Device,
            Organisation,
            Registry,
            Site,
            add_device,
            add_organisation,
            add_site,
        )

        self.engine = make_engine(f"sqlite:///{db_path}", sqlite_synchronous="NORMAL")
        migrate(self.engine)
        with self.engine.begin() as conn:
            add_organisation(
                conn, Organisation("org-test", "urn:test:pgln:1", "Test", "association")
            )
            add_site(
                conn,
                Site(SITE, "urn:test:gln:1", "Site", "collection_point", "org-test", "Grenoble",
                     45.19, 5.72),
            )  # fmt: skip
            for device in [*devices, GATEWAY]:
                add_device(conn, Device(device, SITE, "counter", None, False))
        pipeline = IngestPipeline(self.engine, Registry(), IngestOptions())
        self.service = IngestService(pipeline, BrokerAddress(host, port, False), "ledger-test")

    def start(self) -> Ledger:
        self.service.start()
        return self

    def stop(self) -> None:
        self.service.stop()
        self.engine.dispose()

    def rows(self) -> list[tuple[str, int, str]]:
        """``(device, seq, key)`` of every scan in the ledger, in the order it was recorded."""
        from sqlalchemy import select

        from reemploi.server.db.tables import sightings

        with self.engine.connect() as conn:
            result = conn.execute(
                select(sightings.c.device_id, sightings.c.seq, sightings.c.key).order_by(
                    sightings.c.id
                )
            )
            return [(r.device_id, int(r.seq), r.key) for r in result]

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.rows()) >= count:
                return True
            time.sleep(0.5)
        return False
