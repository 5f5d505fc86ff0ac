"""``--reader mfrc522``: an RC522 board on a Raspberry Pi's SPI bus.

The firmware's MFRC522 driver runs unchanged on the Pi: :class:`SpidevBus` gives it the
``write`` / ``write_readinto`` it expects on top of ``spidev.SpiDev.xfer2`` (the kernel
drives chip select CE0/CE1 around each transfer, so the driver's chip-select pin is a
no-op here), and the RST line is held high through ``RPi.GPIO`` (``rpi-lgpio`` on a
Raspberry Pi 5). Both modules are the ones the PyPI ``mfrc522`` package depends on;
they are imported only when this reader is asked for, and their absence (any machine
that is not a Pi) is reported in French with what to do.

Wiring: :data:`RC522_WIRING` (also drawn in the installers' guide): SDA→CE0 (GPIO 8),
SCK→GPIO 11, MOSI→GPIO 10, MISO→GPIO 9, RST→GPIO 25, 3.3V, GND (never 5 V).
"""

from __future__ import annotations

import importlib
from typing import Any

from .firmware_nfc import Mfrc522TagLink, load_firmware_nfc
from .tag_link import ReaderUnavailable

__all__ = ["RC522_WIRING", "KernelChipSelect", "ResetPin", "SpidevBus", "open_pi_reader"]

DEFAULT_SPEED_HZ = 1_000_000  # the MFRC522 accepts up to 10 MHz; 1 MHz tolerates long wires
DEFAULT_RESET_GPIO = 25

# RC522 board pin (in its header order) -> (Raspberry Pi signal, physical header pin).
RC522_WIRING: tuple[tuple[str, str, int | None], ...] = (
    ("SDA", "GPIO 8 (CE0)", 24),
    ("SCK", "GPIO 11 (SCLK)", 23),
    ("MOSI", "GPIO 10 (MOSI)", 19),
    ("MISO", "GPIO 9 (MISO)", 21),
    ("IRQ", "non branché", None),
    ("GND", "GND", 6),
    ("RST", f"GPIO {DEFAULT_RESET_GPIO}", 22),
    ("3.3V", "3,3 V", 1),
)


class SpidevBus:
    """``machine.SPI``-shaped wrapper of an opened ``spidev.SpiDev``."""

    def __init__(self, device: Any) -> None:
        self.device = device

    def write(self, buf: bytes | bytearray) -> None:
        self.device.xfer2(list(buf))

    def write_readinto(self, out: bytes | bytearray, into: bytearray) -> None:
        answer = self.device.xfer2(list(out))
        if len(answer) != len(into):
            raise ReaderUnavailable(
                f"bus SPI : {len(answer)} octets reçus pour {len(into)} envoyés"
            )
        into[:] = bytes(answer)


class KernelChipSelect:
    """The Pi's SPI driver asserts CE0/CE1 itself around each transfer."""

    def value(self, level: int | None = None) -> int | None:
        return None if level is not None else 1


class ResetPin:
    """RST of the RC522 on a GPIO line (BCM numbering), driven through ``RPi.GPIO``."""

    def __init__(self, gpio: Any, line: int) -> None:
        self.gpio = gpio
        self.line = line
        gpio.setwarnings(False)
        gpio.setmode(gpio.BCM)
        gpio.setup(line, gpio.OUT)

    def value(self, level: int | None = None) -> int | None:
        if level is None:
            return int(self.gpio.input(self.line))
        self.gpio.output(self.line, self.gpio.HIGH if level else self.gpio.LOW)
        return None


def _import(name: str, advice: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ReaderUnavailable(
            f"le lecteur MFRC522 demande le module Python « {name} », absent ici : {advice}"
        ) from None
    except RuntimeError as problem:  # RPi.GPIO off a Pi: "This module can only be run on a Pi"
        raise ReaderUnavailable(f"« {name} » refuse de démarrer : {problem}") from None


def open_pi_reader(
    bus: int = 0,
    device: int = 0,
    speed_hz: int = DEFAULT_SPEED_HZ,
    reset_gpio: int | None = DEFAULT_RESET_GPIO,
    *,
    spidev_module: Any = None,
    gpio_module: Any = None,
) -> Mfrc522TagLink:
    """Open ``/dev/spidev<bus>.<device>``, reset and initialise the MFRC522, and return a
    tag link. ``spidev_module`` / ``gpio_module`` default to the real ``spidev`` and
    ``RPi.GPIO`` (imported only now)."""
    nfc = load_firmware_nfc()
    spidev = spidev_module or _import(
        "spidev",
        "sur un Raspberry Pi, « sudo apt install python3-spidev » ou « pip install spidev » ; "
        "ce lecteur ne fonctionne que sur un Raspberry Pi (ailleurs : --reader simule)",
    )
    reset = None
    if reset_gpio is not None:
        gpio = gpio_module or _import(
            "RPi.GPIO",
            "« pip install RPi.GPIO » (Raspberry Pi 5 : « pip install rpi-lgpio »), "
            "ou --rst-gpio aucun si la broche RST est câblée au 3,3 V",
        )
        reset = ResetPin(gpio, reset_gpio)
    spi = spidev.SpiDev()
    path = f"/dev/spidev{bus}.{device}"
    try:
        spi.open(bus, device)
    except OSError as problem:
        raise ReaderUnavailable(
            f"bus SPI {path} inaccessible ({problem.strerror or problem}) : activez SPI "
            "(sudo raspi-config → Interface Options → SPI) et ajoutez l'utilisateur au "
            "groupe spi, puis redémarrez"
        ) from None
    spi.max_speed_hz = speed_hz
    spi.mode = 0
    chip = nfc.mfrc522.Mfrc522(SpidevBus(spi), KernelChipSelect(), reset)
    try:
        chip.init()
    except nfc.mfrc522.NfcError as problem:
        spi.close()
        raise ReaderUnavailable(
            f"aucun MFRC522 ne répond sur {path} ({problem}) : vérifiez le câblage "
            "(SDA→CE0, SCK→GPIO 11, MOSI→GPIO 10, MISO→GPIO 9, RST→GPIO 25, 3,3 V)"
        ) from None
    return Mfrc522TagLink(chip, nfc)
