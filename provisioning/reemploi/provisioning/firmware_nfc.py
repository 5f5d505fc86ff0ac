"""``tag write|verify`` through the reader firmware's own MFRC522 driver.

The firmware (``firmware/lib/reader``, MicroPython and CPython) drives the MFRC522 over
two tiny interfaces (``spi.write`` / ``spi.write_readinto`` and a chip-select pin). The
same driver, the same ISO 14443-3 selection and the same NTAG commands serve here:

* on a Raspberry Pi, through spidev (:mod:`reemploi.provisioning.pi_mfrc522`);
* in tests and ``--reader simule``, on the firmware's register-level MFRC522 simulator
  with a simulated NTAG21x in its field.

:class:`Mfrc522TagLink` turns the driver's radio errors into the provisioning ones: a
tag that stops answering is :class:`TagGone`, a NAK is :class:`TagNak` (the tag then
falls back to IDLE, so the link selects it again, and checks it is the same UID,
before the next command).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .tag_link import ReaderUnavailable, TagError, TagGone, TagNak

__all__ = [
    "FirmwareNfc",
    "Mfrc522TagLink",
    "NoTag",
    "SimulatedReader",
    "firmware_lib_folder",
    "load_firmware_nfc",
    "simulated_reader",
]

FIRMWARE_ENV = "REEMPLOI_FIRMWARE_LIB"


class NoTag(TagError):
    """No tag was presented to the reader in time."""


def firmware_lib_folder() -> Path:
    """``firmware/lib`` of this checkout, or ``$REEMPLOI_FIRMWARE_LIB``."""
    configured = os.environ.get(FIRMWARE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "firmware" / "lib"


@dataclass(frozen=True)
class FirmwareNfc:
    """The firmware modules the link uses (``reader.mfrc522``, ``iso14443a``, ``ntag``)."""

    mfrc522: ModuleType
    iso14443a: ModuleType
    ntag: ModuleType


def load_firmware_nfc() -> FirmwareNfc:
    folder = firmware_lib_folder()
    if not (folder / "reader" / "mfrc522.py").is_file():
        raise ReaderUnavailable(
            f"pilote du lecteur introuvable dans {folder} : lancez l'outil depuis le dépôt "
            f"Réemploi (installation « pip install -e . ») ou indiquez {FIRMWARE_ENV}"
        )
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return FirmwareNfc(
        importlib.import_module("reader.mfrc522"),
        importlib.import_module("reader.iso14443a"),
        importlib.import_module("reader.ntag"),
    )


class Mfrc522TagLink:
    """:class:`~reemploi.provisioning.tag_link.TagLink` over the firmware's MFRC522 driver.

    ``chip`` is an initialised ``reader.mfrc522.Mfrc522`` (or anything with its
    ``transceive(frame, tx_last_bits) -> (answer, rx_last_bits)``).
    """

    def __init__(self, chip: Any, nfc: FirmwareNfc | None = None) -> None:
        self.chip = chip
        self.nfc = nfc or load_firmware_nfc()
        self.uid: bytes | None = None
        self._selected = False

    # ------------------------------------------------------------ selection

    def _select(self) -> bytes:
        iso = self.nfc.iso14443a
        atqa = iso.wake(self.chip)
        card = iso.select(self.chip, atqa)
        if getattr(card, "collisions", 0):  # the driver singled one tag out of several
            raise TagError("plusieurs étiquettes dans le champ du lecteur : n'en présentez qu'une")
        if card.sak != 0x00:
            raise TagError(
                f"étiquette {card.uid.hex().upper()} non prise en charge (SAK {card.sak:02X}) : "
                "il faut une NTAG213, 215 ou 216"
            )
        if self.uid is not None and card.uid != self.uid:
            raise TagError(
                f"une autre étiquette ({card.uid.hex().upper()}) a été posée à la place de "
                f"{self.uid.hex().upper()} : reposez la première et relancez"
            )
        self.uid = bytes(card.uid)
        self._selected = True
        return self.uid

    def deselect(self) -> None:
        """The tag left the field (or was laid down again): select it before the next
        command. The UID is kept, so another tag is still told apart."""
        self._selected = False

    def wait_for_tag(self, timeout_s: float = 15.0, poll_s: float = 0.05) -> bytes:
        """Poll until one tag is in the field; returns its UID."""
        errors = self.nfc.mfrc522
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._select()
            except errors.NoAnswer:
                pass
            except errors.Collision:
                raise TagError(
                    "plusieurs étiquettes dans le champ du lecteur : n'en présentez qu'une"
                ) from None
            except errors.ChipError as problem:
                raise ReaderUnavailable(f"le MFRC522 ne répond plus ({problem})") from None
            except errors.NfcError:
                pass  # noise while the tag is being brought in: try again
            if time.monotonic() >= deadline:
                raise NoTag(f"aucune étiquette posée sur le lecteur en {timeout_s:g} s")
            time.sleep(poll_s)

    def _run(self, command: str, page: int, action: Any) -> Any:
        errors = self.nfc.mfrc522
        try:
            if not self._selected:
                self._select()
            return action()
        except self.nfc.ntag.Nak as nak:
            self._selected = False  # the tag is back in IDLE
            raise TagNak(command, page, int(nak.code)) from None
        except errors.NoAnswer:
            self._selected = False
            raise TagGone(
                f"étiquette retirée du lecteur pendant {command} page {page} : reposez-la "
                "et relancez la même commande"
            ) from None
        except errors.ChipError as problem:
            self._selected = False
            raise ReaderUnavailable(f"le MFRC522 ne répond plus ({problem})") from None
        except errors.NfcError as problem:
            self._selected = False
            raise TagError(
                f"échange radio perturbé pendant {command} page {page} ({problem}) : "
                "tenez l'étiquette à plat sur le lecteur et relancez"
            ) from None

    # ------------------------------------------------------------ TagLink

    def get_version(self) -> bytes:
        return bytes(self._run("GET_VERSION", 0, lambda: self.nfc.ntag.get_version(self.chip)))

    def read(self, page: int) -> bytes:
        return bytes(self._run("READ", page, lambda: self.nfc.ntag.read_pages(self.chip, page)))

    def write(self, page: int, data: bytes) -> None:
        self._run("WRITE", page, lambda: self.nfc.ntag.write_page(self.chip, page, data))

    def pwd_auth(self, password: bytes) -> bytes:
        return bytes(self._run("PWD_AUTH", 0, lambda: self.nfc.ntag.pwd_auth(self.chip, password)))


@dataclass
class SimulatedReader:
    """The firmware's register-level MFRC522 simulator, one NTAG21x in its field."""

    link: Mfrc522TagLink
    field: Any  # reader.sim.mfrc522_chip.RfField
    chip: Any  # reader.sim.mfrc522_chip.SimulatedMfrc522
    tag: Any  # reader.sim.tags.Ntag21x

    def remove_tag(self) -> None:
        self.field.remove(self.tag)

    def put_back(self) -> None:
        """The installer lays the same tag on the reader again (it powers up afresh)."""
        self.tag.answer_frames = None
        self.tag.vanish_after_writes = None
        self.field.remove(self.tag)
        self.field.place(self.tag)
        self.link.deselect()


def simulated_reader(uid: bytes, model: str = "NTAG213", tlv: bytes = b"") -> SimulatedReader:
    """A blank (or ``tlv``-holding) simulated tag on a simulated MFRC522, driven by the
    firmware's real driver through its SPI interface."""
    nfc = load_firmware_nfc()
    chip_sim: Any = importlib.import_module("reader.sim.mfrc522_chip")
    tags: Any = importlib.import_module("reader.sim.tags")
    field = chip_sim.RfField()
    chip = chip_sim.SimulatedMfrc522(field)
    driver = nfc.mfrc522.Mfrc522(chip_sim.SimulatedSpi(chip), chip_sim.SimulatedPin(1))
    driver.init()
    tag = tags.Ntag21x(uid, tlv, model)
    field.place(tag)
    return SimulatedReader(Mfrc522TagLink(driver, nfc), field, chip, tag)
