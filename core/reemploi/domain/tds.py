"""EPC Tag Data Standard binary encodings of the GIAI, for UHF tags.

* GIAI-96 (header ``0x34``): the asset reference is an integer, so only a
  numeric reference with no leading zeros fits.
* GIAI-202 (header ``0x38``): the asset reference is a string of 7-bit
  characters of GS1 set 82; needed for alphanumeric serials.

Layout: header (8 bits), filter (3), partition (3), company prefix, asset
reference. The partition says how many digits the company prefix has.
Hex strings are uppercase; GIAI-202 is zero-padded from 202 to 208 bits (the
EPC memory bank holds whole 16-bit words), i.e. 52 hex digits.
"""

from __future__ import annotations

from typing import Final

from reemploi.domain.checkdigit import is_ascii_digits
from reemploi.domain.digital_link import GS1_CHARSET_82
from reemploi.domain.epc import decode_epc_component, encode_epc_component
from reemploi.domain.errors import InvalidIdentifier

__all__ = ["decode_giai96", "decode_giai202", "encode_giai96", "encode_giai202"]

_GIAI96_HEADER: Final = 0x34
_GIAI202_HEADER: Final = 0x38

# Partition value -> (company prefix bits, company prefix digits, reference bits).
_GIAI96_PARTITIONS: Final = (
    (40, 12, 42),
    (37, 11, 45),
    (34, 10, 48),
    (30, 9, 52),
    (27, 8, 55),
    (24, 7, 58),
    (20, 6, 62),
)
_GIAI202_PARTITIONS: Final = (
    (40, 12, 148),
    (37, 11, 151),
    (34, 10, 154),
    (30, 9, 158),
    (27, 8, 161),
    (24, 7, 164),
    (20, 6, 168),
)
_GIAI_MAX_LENGTH: Final = 30
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _parse_tag_uri(tag_uri: str, scheme: str) -> tuple[int, str, str]:
    """Split ``urn:epc:tag:<scheme>:F.CP.REF`` into filter, prefix, raw reference."""
    head = f"urn:epc:tag:{scheme}:"
    if not isinstance(tag_uri, str) or tag_uri[: len(head)].lower() != head:
        raise InvalidIdentifier(f"a {scheme.upper()} tag URI starts with {head!r}: {tag_uri!r}")
    fields = tag_uri[len(head) :].split(".", 2)
    if len(fields) != 3:
        raise InvalidIdentifier(f"tag URI {tag_uri!r} must be {head}filter.prefix.reference")
    filter_text, prefix, reference = fields
    if len(filter_text) != 1 or filter_text not in "01234567":
        raise InvalidIdentifier(f"tag URI {tag_uri!r}: the filter must be a digit 0-7")
    if not is_ascii_digits(prefix) or not 6 <= len(prefix) <= 12:
        raise InvalidIdentifier(
            f"tag URI {tag_uri!r}: the company prefix must be 6 to 12 digits, got {prefix!r}"
        )
    return int(filter_text), prefix, reference


def _partition_for(prefix: str, table: tuple[tuple[int, int, int], ...]) -> int:
    for partition, (_, digits, _) in enumerate(table):
        if digits == len(prefix):
            return partition
    raise AssertionError("company prefix length checked before")  # pragma: no cover


def _parse_hex(hex_text: str, bits: int, scheme: str) -> int:
    digits = bits // 4
    if not isinstance(hex_text, str) or len(hex_text) != digits:
        raise InvalidIdentifier(f"a {scheme} EPC is {digits} hex digits, got {hex_text!r}")
    if not all(char in _HEX_DIGITS for char in hex_text):
        raise InvalidIdentifier(f"{scheme} EPC {hex_text!r} contains a non-hex character")
    return int(hex_text, 16)


def _split_header(
    value: int, total_bits: int, header: int, scheme: str, table: tuple[tuple[int, int, int], ...]
) -> tuple[int, str, int, int]:
    """Check header and partition; return filter, company prefix, reference bits and value."""
    found_header = value >> (total_bits - 8)
    if found_header != header:
        raise InvalidIdentifier(
            f"header 0x{found_header:02X} is not {scheme} (expected 0x{header:02X})"
        )
    filter_value = (value >> (total_bits - 11)) & 0b111
    partition = (value >> (total_bits - 14)) & 0b111
    if partition >= len(table):
        raise InvalidIdentifier(f"{scheme} partition {partition} is not defined (0-6)")
    prefix_bits, prefix_digits, reference_bits = table[partition]
    prefix_value = (value >> reference_bits) & ((1 << prefix_bits) - 1)
    if prefix_value >= 10**prefix_digits:
        raise InvalidIdentifier(
            f"{scheme} company prefix {prefix_value} does not fit in {prefix_digits} digits"
        )
    reference = value & ((1 << reference_bits) - 1)
    return filter_value, str(prefix_value).zfill(prefix_digits), reference_bits, reference


def encode_giai96(tag_uri: str) -> str:
    """``urn:epc:tag:giai-96:F.CP.REF`` -> 24 uppercase hex digits."""
    filter_value, prefix, reference = _parse_tag_uri(tag_uri, "giai-96")
    if not is_ascii_digits(reference):
        raise InvalidIdentifier(
            f"GIAI-96 holds only a numeric asset reference, got {reference!r}: use GIAI-202"
        )
    if len(reference) > 1 and reference[0] == "0":
        raise InvalidIdentifier(
            f"GIAI-96 cannot hold an asset reference with leading zeros ({reference!r}): "
            "use GIAI-202"
        )
    partition = _partition_for(prefix, _GIAI96_PARTITIONS)
    prefix_bits, _, reference_bits = _GIAI96_PARTITIONS[partition]
    number = int(reference)
    if number >= 1 << reference_bits:
        raise InvalidIdentifier(
            f"asset reference {reference} does not fit in the {reference_bits} bits GIAI-96 "
            f"leaves with a {len(prefix)}-digit company prefix: use GIAI-202"
        )
    value = _GIAI96_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << prefix_bits) | int(prefix)
    value = (value << reference_bits) | number
    return f"{value:024X}"


def decode_giai96(hex: str) -> str:
    """24 hex digits of a GIAI-96 EPC -> ``urn:epc:tag:giai-96:F.CP.REF``."""
    value = _parse_hex(hex, 96, "GIAI-96")
    filter_value, prefix, _, reference = _split_header(
        value, 96, _GIAI96_HEADER, "GIAI-96", _GIAI96_PARTITIONS
    )
    return f"urn:epc:tag:giai-96:{filter_value}.{prefix}.{reference}"


def encode_giai202(tag_uri: str) -> str:
    """``urn:epc:tag:giai-202:F.CP.REF`` -> 52 uppercase hex digits (208 bits)."""
    filter_value, prefix, raw_reference = _parse_tag_uri(tag_uri, "giai-202")
    reference = decode_epc_component(
        raw_reference, "GIAI-202 asset reference", _GIAI_MAX_LENGTH - len(prefix)
    )
    partition = _partition_for(prefix, _GIAI202_PARTITIONS)
    prefix_bits, _, reference_bits = _GIAI202_PARTITIONS[partition]
    characters = 0
    for char in reference:
        characters = (characters << 7) | ord(char)
    characters <<= reference_bits - 7 * len(reference)
    value = _GIAI202_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << prefix_bits) | int(prefix)
    value = (value << reference_bits) | characters
    return f"{value << 6:052X}"


def decode_giai202(hex: str) -> str:
    """52 hex digits (208 bits) of a GIAI-202 EPC -> ``urn:epc:tag:giai-202:F.CP.REF``."""
    padded = _parse_hex(hex, 208, "GIAI-202")
    if padded & 0b111111:
        raise InvalidIdentifier("the 6 padding bits after a GIAI-202 EPC must be zero")
    value = padded >> 6
    filter_value, prefix, reference_bits, bits = _split_header(
        value, 202, _GIAI202_HEADER, "GIAI-202", _GIAI202_PARTITIONS
    )
    reference: list[str] = []
    for shift in range(reference_bits - 7, -1, -7):
        code = (bits >> shift) & 0x7F
        if code == 0:
            if bits & ((1 << shift) - 1):
                raise InvalidIdentifier("GIAI-202 asset reference has data after its end")
            break
        char = chr(code)
        if char not in GS1_CHARSET_82:
            raise InvalidIdentifier(
                f"GIAI-202 asset reference holds {char!r}, which is not in GS1 set 82"
            )
        reference.append(char)
    else:
        if bits & ((1 << (reference_bits % 7)) - 1):
            raise InvalidIdentifier("GIAI-202 asset reference has non-zero padding bits")
    if not reference:
        raise InvalidIdentifier("GIAI-202 asset reference is empty")
    if len(prefix) + len(reference) > _GIAI_MAX_LENGTH:
        raise InvalidIdentifier(
            f"GIAI-202 asset reference is {len(reference)} characters: with a "
            f"{len(prefix)}-digit company prefix at most {_GIAI_MAX_LENGTH - len(prefix)} fit"
        )
    text = encode_epc_component("".join(reference))
    return f"urn:epc:tag:giai-202:{filter_value}.{prefix}.{text}"
