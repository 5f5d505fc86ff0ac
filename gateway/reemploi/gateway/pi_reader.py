"""Optional Raspberry Pi reader: an MFRC522 on the Pi's SPI bus (PyPI ``mfrc522``).

It publishes the same scan messages as an ESP32 reader (``nfc_uid`` kind, its own device
id and a durable ``seq``) to the local broker, so the gateway forwards them like any
other reader's. ``mfrc522`` (with ``RPi.GPIO`` and ``spidev``) is imported only when the
reader starts: on a machine without the hardware this module imports cleanly and
:func:`hardware_status` says why the reader cannot run. ``RPi.GPIO`` raises
``RuntimeError`` on anything that is not a Raspberry Pi, which we report as such.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from reemploi.protocol.wire import Scan, encode_scan, topic

from .settings import GatewaySettings


class ReaderUnavailable(Exception):
    """The MFRC522 cannot be used here (no package, not a Pi, no SPI device)."""


def hardware_status() -> tuple[bool, str]:
    """``(usable, explanation)``, French first: never raises."""
    try:
        load_driver()
    except ReaderUnavailable as exc:
        return False, str(exc)
    return True, "MFRC522 prêt / ready"


def load_driver() -> Any:
    try:
        import mfrc522
    except ImportError as exc:
        raise ReaderUnavailable(
            f"paquet mfrc522 absent (pip install mfrc522) / mfrc522 not installed: {exc}"
        ) from None
    except RuntimeError as exc:  # RPi.GPIO: "This module can only be run on a Raspberry Pi!"
        raise ReaderUnavailable(f"pas un Raspberry Pi / not a Raspberry Pi: {exc}") from None
    if not Path("/dev/spidev0.0").exists():
        raise ReaderUnavailable("SPI désactivé (/dev/spidev0.0 absent) / SPI not enabled")
    return mfrc522


def uid_hex(uid_bytes: list[int]) -> str:
    """The MFRC522 library returns 4 UID bytes plus a BCC check byte: keep the UID."""
    if (
        len(uid_bytes) == 5
        and uid_bytes[0] ^ uid_bytes[1] ^ uid_bytes[2] ^ uid_bytes[3] == uid_bytes[4]
    ):
        uid_bytes = uid_bytes[:4]
    return "".join(f"{b:02X}" for b in uid_bytes)


class SeqFile:
    """The reader's durable ``seq``: the next value is written before it is used."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def next(self) -> int:
        try:
            value = int(self.path.read_text().strip() or "0")
        except (OSError, ValueError):
            value = 0
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(value + 1))
        tmp.replace(self.path)
        return value


class PiReader:
    def __init__(self, settings: GatewaySettings, publish: Any = None) -> None:
        assert settings.pi_reader_device is not None
        self.device = settings.pi_reader_device
        self.site = settings.site
        self.settings = settings
        self.seq = SeqFile(settings.state_dir / f"{self.device}.seq")
        self._publish = publish
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: GatewaySettings) -> PiReader:
        return cls(settings)

    def scan_for(self, uid: str, now_ms: int | None = None) -> tuple[str, bytes]:
        scan = Scan(self.device, self.seq.next(), "nfc_uid", uid, None, now_ms)
        return topic(self.site, self.device, "scan"), encode_scan(scan)

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        try:
            driver = load_driver()
        except ReaderUnavailable as exc:
            print(f"lecteur Pi désactivé / Pi reader disabled: {exc}", flush=True)
            return
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device)
        client.connect(self.settings.local_host, self.settings.local_port)
        client.loop_start()
        rc522 = driver.MFRC522()
        last: tuple[str, float] = ("", 0.0)
        while not self._stop.is_set():
            status, _ = rc522.MFRC522_Request(rc522.PICC_REQIDL)
            if status == rc522.MI_OK:
                status, raw = rc522.MFRC522_Anticoll()
                if status == rc522.MI_OK:
                    uid = uid_hex(list(raw))
                    if uid != last[0] or time.monotonic() - last[1] > 2.0:
                        client.publish(*self.scan_for(uid, int(time.time() * 1000)), qos=1)
                    last = (uid, time.monotonic())
            time.sleep(0.1)
        client.disconnect()
        client.loop_stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
