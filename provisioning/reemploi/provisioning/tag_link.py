"""The small interface ``tag write|verify`` needs from a reader, and its errors.

Implemented by :class:`reemploi.provisioning.firmware_nfc.Mfrc522TagLink` (the
firmware's MFRC522 driver: on a Raspberry Pi through spidev, or on the firmware's
register-level simulator) and by the page-level model
:class:`reemploi.provisioning.tag_sim.SimulatedNtag`. Four calls: GET_VERSION, READ
(4 pages), WRITE (1 page), PWD_AUTH.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ReaderUnavailable", "TagError", "TagGone", "TagLink", "TagNak"]


class ReaderUnavailable(Exception):
    """The reader itself cannot be used (missing module, SPI bus, wiring); in French."""


class TagError(Exception):
    """Something went wrong with the tag itself; the message is in French."""


class TagGone(TagError):
    """The tag left the field (removed during the operation)."""


class TagNak(TagError):
    """The tag refused a command (locked page, password needed, bad address)."""

    def __init__(self, command: str, page: int, code: int) -> None:
        super().__init__(f"l'étiquette refuse {command} page {page} (NAK {code:X})")
        self.command = command
        self.page = page
        self.code = code


class TagLink(Protocol):
    def get_version(self) -> bytes:
        """8 bytes of GET_VERSION (0x60)."""
        ...

    def read(self, page: int) -> bytes:
        """READ (0x30): 16 bytes from ``page`` (wrapping past the last page)."""
        ...

    def write(self, page: int, data: bytes) -> None:
        """WRITE (0xA2): one 4-byte page."""
        ...

    def pwd_auth(self, password: bytes) -> bytes:
        """PWD_AUTH (0x1B): returns the 2-byte PACK; ``TagNak`` on a wrong password."""
        ...
