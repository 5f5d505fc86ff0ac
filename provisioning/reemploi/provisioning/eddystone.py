"""Lot beacons: the Eddystone-UID identity of a lot, derived from its SSCC (pure).

Mapping (normative text: ``label_specs/lot-beacon-eddystone.md``):

* namespace (10 bytes) = ``5E C0`` (Réemploi SSCC marker, mapping version 0) ‖ the
  SSCC's 17 data digits (check digit left out) as a 64-bit big-endian integer;
* instance (6 bytes) = the beacon's number within the lot, big-endian (0 for the
  first beacon of a cage, 1 for a second one …).

The SSCC comes back from the frame alone, check digit recomputed: a gateway needs no
lookup table to know which lot it hears. Frame bytes are built and parsed by the
shared codec ``reemploi.protocol.ble``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reemploi.domain.checkdigit import gs1_check_digit, has_valid_check_digit
from reemploi.protocol.ble import EddystoneUid, encode_eddystone_uid, parse_eddystone

__all__ = [
    "SSCC_NAMESPACE_MARKER",
    "LotBeacon",
    "NotALotBeacon",
    "lot_beacon_from_frame",
    "lot_uid_frame",
    "lot_uid_identity",
]

SSCC_NAMESPACE_MARKER: Final = bytes([0x5E, 0xC0])
MAX_BEACON_NUMBER: Final = (1 << 48) - 1
DEFAULT_TX_POWER_0M: Final = -20


class NotALotBeacon(ValueError):
    """The frame is valid Eddystone but does not carry a Réemploi lot."""


@dataclass(frozen=True)
class LotBeacon:
    sscc: str  # 18 digits, check digit included
    beacon_number: int
    tx_power_0m: int


def lot_uid_identity(
    sscc: str, beacon_number: int = 0, tx_power_0m: int = DEFAULT_TX_POWER_0M
) -> EddystoneUid:
    if len(sscc) != 18 or not sscc.isascii() or not sscc.isdigit():
        raise ValueError(f"SSCC {sscc!r} : 18 chiffres attendus")
    if not has_valid_check_digit(sscc):
        raise ValueError(f"SSCC {sscc} : chiffre de contrôle faux")
    if not 0 <= beacon_number <= MAX_BEACON_NUMBER:
        raise ValueError("numéro de balise hors de 0..2^48-1")
    if not -128 <= tx_power_0m <= 127:
        raise ValueError("puissance à 0 m hors de -128..127 dBm")
    namespace = SSCC_NAMESPACE_MARKER + int(sscc[:17]).to_bytes(8, "big")
    return EddystoneUid(tx_power_0m, namespace, beacon_number.to_bytes(6, "big"))


def lot_uid_frame(
    sscc: str, beacon_number: int = 0, tx_power_0m: int = DEFAULT_TX_POWER_0M
) -> bytes:
    """The 20-byte 0xFEAA service data a lot beacon advertises."""
    return encode_eddystone_uid(lot_uid_identity(sscc, beacon_number, tx_power_0m))


def lot_beacon_from_frame(frame: bytes) -> LotBeacon:
    """The lot of an Eddystone-UID frame; ``MalformedFrame`` or :class:`NotALotBeacon`."""
    uid = parse_eddystone(frame)
    if not isinstance(uid, EddystoneUid):
        raise NotALotBeacon("trame TLM : elle ne porte pas l'identité du lot")
    namespace = bytes(uid.namespace)
    if namespace[:2] != SSCC_NAMESPACE_MARKER:
        raise NotALotBeacon("espace de noms Eddystone étranger à Réemploi")
    data = int.from_bytes(namespace[2:], "big")
    if data >= 10**17:
        raise NotALotBeacon("l'espace de noms ne contient pas 17 chiffres de SSCC")
    digits = f"{data:017d}"
    return LotBeacon(
        digits + gs1_check_digit(digits), int.from_bytes(bytes(uid.instance), "big"), uid.tx_power
    )
