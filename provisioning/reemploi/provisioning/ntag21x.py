"""NTAG213/215/216 asset tags: memory map, page image and write plan (pure).

The normative text is ``label_specs/asset-tag-ntag21x.md``; its JSON companion
``label_specs/asset-tag-ntag21x.json`` repeats every number below, and the tests
check that both agree, so spec and code cannot drift.

Write order (safe when the tag is pulled away at any moment): the first data page
is first written as an *empty* NDEF TLV (``03 00 FE 00``), then the rest of the
message, then the real first page; only then the password and, last, ``AUTH0``
which turns the write protection on. A half-written tag therefore reads as an empty
tag, never as another asset.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from reemploi.protocol.ndef import uri_tlv

__all__ = [
    "MODELS",
    "PAGE_BYTES",
    "FactoryDefaults",
    "NtagModel",
    "PageWrite",
    "TagPlan",
    "model_from_version",
    "plan_asset_tag",
    "tag_password",
]

PAGE_BYTES: Final = 4
FIRST_USER_PAGE: Final = 4
CC_PAGE: Final = 3
EMPTY_NDEF_PAGE: Final = bytes([0x03, 0x00, 0xFE, 0x00])
# ACCESS byte of CFG1: PROT=0 (only writes need the password), CFGLCK=0, AUTHLIM=0
# (no limit: a limit would let anyone brick the tag with wrong passwords).
ACCESS_WRITE_PROTECTED: Final = 0x00


@dataclass(frozen=True)
class NtagModel:
    name: str
    version_byte: int  # GET_VERSION byte 6
    pages: int  # total pages, 0..pages-1
    user_last_page: int
    capability_container: bytes
    dynamic_lock_page: int

    @property
    def user_bytes(self) -> int:
        return (self.user_last_page - FIRST_USER_PAGE + 1) * PAGE_BYTES

    @property
    def ndef_capacity(self) -> int:
        """Bytes the CC declares for the NDEF data area (CC byte 2 × 8)."""
        return self.capability_container[2] * 8

    @property
    def cfg0_page(self) -> int:
        return self.dynamic_lock_page + 1

    @property
    def cfg1_page(self) -> int:
        return self.dynamic_lock_page + 2

    @property
    def pwd_page(self) -> int:
        return self.dynamic_lock_page + 3

    @property
    def pack_page(self) -> int:
        return self.dynamic_lock_page + 4


MODELS: Final[dict[str, NtagModel]] = {
    "NTAG213": NtagModel("NTAG213", 0x0F, 45, 0x27, bytes.fromhex("E1101200"), 0x28),
    "NTAG215": NtagModel("NTAG215", 0x11, 135, 0x81, bytes.fromhex("E1103E00"), 0x82),
    "NTAG216": NtagModel("NTAG216", 0x13, 231, 0xE1, bytes.fromhex("E1106D00"), 0xE2),
}


@dataclass(frozen=True)
class FactoryDefaults:
    """Configuration pages as NXP ships them (the bytes we do not change are kept)."""

    cfg0: bytes = bytes.fromhex("040000FF")  # MIRROR, RFUI, MIRROR_PAGE, AUTH0=FF (off)
    cfg1: bytes = bytes.fromhex("00050000")  # ACCESS, RFUI, RFUI, RFUI


def model_from_version(version: bytes) -> NtagModel:
    """The model from an 8-byte GET_VERSION answer; refuses anything but NTAG213/5/6."""
    if len(version) != 8 or version[1] != 0x04 or version[2] != 0x04:
        raise ValueError(f"réponse GET_VERSION inattendue : {version.hex().upper()}")
    for model in MODELS.values():
        if model.version_byte == version[6]:
            return model
    raise ValueError(f"modèle d'étiquette non pris en charge (octet 6 = {version[6]:02X})")


def tag_password(secret: bytes, uid: bytes) -> tuple[bytes, bytes]:
    """Per-tag (PWD 4 bytes, PACK 2 bytes) = HMAC-SHA256(secret, "ntag21x-pwd" ‖ UID)."""
    digest = hmac.new(secret, b"ntag21x-pwd" + uid, hashlib.sha256).digest()
    return digest[:4], digest[4:6]


@dataclass(frozen=True)
class PageWrite:
    page: int
    data: bytes
    purpose: str  # "ndef-empty", "ndef", "ndef-commit", "cc", "pack", "pwd", "cfg1", "cfg0"


@dataclass(frozen=True)
class TagPlan:
    """Everything to write to one tag, in order, and the data pages to expect after."""

    model: NtagModel
    uri: str
    writes: tuple[PageWrite, ...]
    data_pages: dict[int, bytes]  # NDEF area pages 4.. as they must read back

    def expected_pages(self) -> dict[int, bytes]:
        """Every page the verification reads back (PWD reads as zeros, PACK too)."""
        pages = {CC_PAGE: self.model.capability_container, **self.data_pages}
        for write in self.writes:
            if write.purpose in ("cfg0", "cfg1"):
                pages[write.page] = write.data
        return pages


def _pages(data: bytes) -> list[bytes]:
    padded = data + bytes(-len(data) % PAGE_BYTES)
    return [padded[i : i + PAGE_BYTES] for i in range(0, len(padded), PAGE_BYTES)]


def plan_asset_tag(
    model: NtagModel,
    uri: str,
    password: tuple[bytes, bytes] | None = None,
    defaults: FactoryDefaults | None = None,
) -> TagPlan:
    """The page image and write order for an asset tag holding ``uri``.

    ``password``: (PWD, PACK) to protect writes from page 4 on; ``None`` leaves the
    tag writable (bench tests, demo).
    """
    defaults = defaults or FactoryDefaults()
    tlv = uri_tlv(uri)
    if len(tlv) > model.ndef_capacity:
        raise ValueError(
            f"l'identifiant ({len(tlv)} octets) ne tient pas sur une {model.name} "
            f"({model.ndef_capacity} octets)"
        )
    pages = _pages(tlv)
    data_pages = {FIRST_USER_PAGE + i: page for i, page in enumerate(pages)}
    writes = [PageWrite(FIRST_USER_PAGE, EMPTY_NDEF_PAGE, "ndef-empty")]
    writes += [
        PageWrite(number, data, "ndef")
        for number, data in data_pages.items()
        if number != FIRST_USER_PAGE
    ]
    writes.append(PageWrite(FIRST_USER_PAGE, pages[0], "ndef-commit"))
    if password is not None:
        pwd, pack = password
        if len(pwd) != 4 or len(pack) != 2:
            raise ValueError("PWD is 4 bytes and PACK 2 bytes")
        cfg1 = bytes([ACCESS_WRITE_PROTECTED]) + defaults.cfg1[1:]
        cfg0 = defaults.cfg0[:3] + bytes([FIRST_USER_PAGE])
        writes += [
            PageWrite(model.pack_page, pack + bytes(2), "pack"),
            PageWrite(model.pwd_page, pwd, "pwd"),
            PageWrite(model.cfg1_page, cfg1, "cfg1"),
            PageWrite(model.cfg0_page, cfg0, "cfg0"),
        ]
    return TagPlan(model=model, uri=uri, writes=tuple(writes), data_pages=data_pages)
