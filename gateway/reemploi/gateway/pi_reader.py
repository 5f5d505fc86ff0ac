"""Optional Raspberry Pi reader: an MFRC522 on the Pi's SPI bus (PyPI ``mfrc522``).

It publishes the same scan messages as an ESP32 reader (``nfc_uid`` kind, its own device
id and a durable ``seq``) to the local broker, so the gateway forwards them like any
other reader's. ``mfrc522`` (with ``RPi.GPIO`` and ``spidev``) is imported only when the
reader starts: on a machine without the hardware this module imports cleanly and
:func:`hardware_status` says why the reader cannot run. ``RPi.GPIO`` raises
``RuntimeError`` on anything that is not a Raspberry Pi, which we report as such.

The hardware boundary is the ``mfrc522.MFRC522`` object: :class:`PiReader` only calls
``MFRC522_Request(PICC_REQIDL)`` and ``MFRC522_Anticoll()`` and reads ``MI_OK``, so any
object with that interface (a simulator in the tests) can stand in for the chip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reemploi.protocol.wire import Scan, encode_scan, topic

from .settings import GatewaySettings

DEBOUNCE_S = 2.0  # the same card read again within this is the same tap
POLL_S = 0.1


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


def _real_chip() -> Any:
    return load_driver().MFRC522()


class PiReader:
    """Polls the chip, debounces taps, publishes each tap as a v1 scan (QoS 1)."""

    def __init__(
        self,
        settings: GatewaySettings,
        make_chip: Callable[[], Any] = _real_chip,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        poll_s: float = POLL_S,
    ) -> None:
        assert settings.pi_reader_device is not None
        self.device = settings.pi_reader_device
        self.site = settings.site
        self.settings = settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.seq = SeqFile(settings.state_dir / f"{self.device}.seq")
        self.make_chip = make_chip
        self.clock, self.wall_ms, self.poll_s = clock, wall_ms, poll_s
        self.published = 0
        self.error: str | None = None
        self._last: tuple[str, float] = ("", float("-inf"))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: GatewaySettings) -> PiReader:
        return cls(settings)

    def scan_for(self, uid: str, now_ms: int | None = None) -> tuple[str, bytes]:
        scan = Scan(self.device, self.seq.next(), "nfc_uid", uid, None, now_ms)
        return topic(self.site, self.device, "scan"), encode_scan(scan)

    def read_tap(self, chip: Any) -> str | None:
        """One poll: the UID of a card newly presented, or None (no card, a read error,
        or the same card still there / back within :data:`DEBOUNCE_S`)."""
        status, _bits = chip.MFRC522_Request(chip.PICC_REQIDL)
        if status != chip.MI_OK:
            return None
        status, raw = chip.MFRC522_Anticoll()
        if status != chip.MI_OK:
            return None
        uid, now = uid_hex(list(raw)), self.clock()
        last_uid, last_at = self._last
        self._last = (uid, now)
        if uid == last_uid and now - last_at <= DEBOUNCE_S:
            return None
        return uid

    def run(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        try:
            chip = self.make_chip()
        except ReaderUnavailable as exc:
            self.error = str(exc)
            print(f"lecteur Pi désactivé / Pi reader disabled: {exc}", flush=True)
            return
        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device)
        if s.pi_reader_password is not None:
            client.username_pw_set(self.device, s.pi_reader_password.get_secret_value())
        client.reconnect_delay_set(1, 5)
        unacked: set[int] = set()  # taps paho holds (in memory) until the broker's PUBACK
        lock = threading.Lock()

        def acked(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
            with lock:
                unacked.discard(mid)

        client.on_publish = acked
        client.connect_async(s.local_host, s.local_port)
        client.loop_start()
        try:
            while not self._stop.is_set():
                uid = self.read_tap(chip)
                if uid is not None:
                    try:
                        message = self.scan_for(uid, self.wall_ms())
                    except OSError as exc:  # no durable seq, no scan: it would be ambiguous
                        self.error = f"seq non enregistré / seq not saved: {exc}"
                        print(f"lecteur Pi : lecture perdue / Pi reader: tap lost: {exc}")
                    else:
                        with lock:  # queued by paho even before it is connected
                            unacked.add(client.publish(*message, qos=1).mid)
                        self.published += 1
                self._stop.wait(self.poll_s)
            deadline = time.monotonic() + 2.0  # let the last taps reach the broker
            while unacked and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            client.disconnect()
            client.loop_stop()

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run, daemon=True, name="pi-reader")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
