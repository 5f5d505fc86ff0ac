"""The Raspberry Pi reader adapter with a simulated MFRC522 behind the chip interface the
PyPI ``mfrc522`` library offers (it refuses to import off a Pi): taps become v1 scans on
the local broker, the running gateway forwards them, and the central broker gets them
with the reader's durable ``seq`` (continued after a restart) and debounced taps."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway_harness import GATEWAY, SITE, GatewayProcess, LedgerRecorder
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.pi_reader import PiReader, ReaderUnavailable, hardware_status, load_driver
from reemploi.gateway.settings import GatewaySettings
from reemploi.protocol.wire import decode_scan

DEVICE = "pi-lecteur-1"
CARD_A, CARD_B, CARD_C = "A1B2C3D4", "0456789A", "DEADBEEF"


class FakeMfrc522:
    """Stands in for ``mfrc522.MFRC522``: same constants, method names and return shapes.

    ``script`` says what is on the antenna at each poll: a 4-byte UID in hex, ``None``
    (no card) or ``"collision"`` (the anticollision loop fails). Each poll is 0.1 s of
    simulated time, read by the reader through its clock.
    """

    PICC_REQIDL = 0x26
    MI_OK = 0
    MI_NOTAGERR = 1
    MI_ERR = 2

    def __init__(self, script: list[str | None]) -> None:
        self.script = list(script)
        self.t = 0.0
        self.current: str | None = None

    def MFRC522_Request(self, req_mode: int) -> tuple[int, int]:
        assert req_mode == self.PICC_REQIDL
        self.t += 0.1
        self.current = self.script.pop(0) if self.script else None
        if self.current is None:
            return self.MI_NOTAGERR, 0
        return self.MI_OK, 0x10  # ATQA: 16 bits back

    def MFRC522_Anticoll(self) -> tuple[int, list[int]]:
        if self.current is None or self.current == "collision":
            return self.MI_ERR, []
        uid = list(bytes.fromhex(self.current))
        return self.MI_OK, [*uid, uid[0] ^ uid[1] ^ uid[2] ^ uid[3]]  # UID + BCC


def settings(local: Mosquitto, state: Path) -> GatewaySettings:
    return GatewaySettings(
        site=SITE,
        gateway_id=GATEWAY,
        central_host="127.0.0.1",
        central_username=GATEWAY,
        central_password="unused-here",  # type: ignore[arg-type]
        local_port=local.port,
        state_dir=state,
        pi_reader_device=DEVICE,
    )


def run_reader(s: GatewaySettings, chip: FakeMfrc522) -> PiReader:
    reader = PiReader(s, make_chip=lambda: chip, clock=lambda: chip.t, poll_s=0.001)
    reader.start_thread()
    deadline = time.monotonic() + 10
    while chip.script and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.stop()
    assert not chip.script, "the reader polled the whole script"
    return reader


def test_the_module_imports_off_a_pi_and_says_why_the_chip_is_unusable() -> None:
    ok, why = hardware_status()
    assert not ok and why.startswith("paquet mfrc522 absent")
    try:
        load_driver()
    except ReaderUnavailable as exc:
        assert "mfrc522" in str(exc)
    else:
        raise AssertionError("no MFRC522 driver should load on a test machine")


def test_pi_reader_taps_reach_central_through_the_gateway_with_durable_seq(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto], tmp_path: Path
) -> None:
    local = make_mosquitto(MosquittoSettings(persistence=True))
    central = make_mosquitto(MosquittoSettings(persistence=True))
    recorder = LedgerRecorder(central.host, central.port).start()
    gateway = GatewayProcess(tmp_path / "gw", local.port, central.port).start()
    s = settings(local, tmp_path / "pi")
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        script: list[Any] = (
            [CARD_A] * 10  # held on the antenna for 1 s: one tap
            + [None] * 5
            + [CARD_A] * 5  # back after 0.6 s: the same tap (debounce)
            + [None] * 30
            + [CARD_A] * 3  # 3 s later: a new tap
            + [CARD_B] * 3  # another card at once: a new tap
            + ["collision", None]  # a failed anticollision is no tap
        )
        first = run_reader(s, FakeMfrc522(script))
        assert first.published == 3 and first.error is None
        second = run_reader(s, FakeMfrc522([None, CARD_C, None]))  # the reader restarted
        assert second.published == 1

        assert recorder.wait_for(4, timeout=15), f"{recorder.distinct()} of 4"
        assert recorder.seqs(DEVICE) == [0, 1, 2, 3], "durable seq, continued after restart"
        gateway.wait_health(lambda h: h["delivered"] >= 4)
        scans = [decode_scan(p) for t, p in recorder.raw_scans() if t.split("/")[3] == DEVICE]
        assert [(x.kind, x.data) for x in scans] == [
            ("nfc_uid", CARD_A), ("nfc_uid", CARD_A), ("nfc_uid", CARD_B), ("nfc_uid", CARD_C),
        ]  # fmt: skip
        assert all(x.device == DEVICE and x.clock is not None for x in scans)
    finally:
        gateway.stop()
        recorder.stop()
