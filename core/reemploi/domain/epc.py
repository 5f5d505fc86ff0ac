"""EPC pure-identity URNs (EPC Tag Data Standard) <-> GS1 Digital Link.

Supported schemes: giai, sscc, sgln, pgln, grai, sgtin. The way back from a
Digital Link needs the length of the GS1 company prefix, which a Digital Link
does not carry: it is stored per issuing organisation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from reemploi.domain.checkdigit import gs1_check_digit, is_ascii_digits
from reemploi.domain.digital_link import (
    CANONICAL_DOMAIN,
    GS1_CHARSET_82,
    DigitalLink,
    check_charset_82,
    parse_digital_link,
    plain_giai_canonical,
)
from reemploi.domain.errors import InvalidIdentifier

__all__ = [
    "SUPPORTED_SCHEMES",
    "decode_epc_component",
    "digital_link_to_epc_urn",
    "encode_epc_component",
    "epc_urn_to_digital_link",
    "normalise_epc",
]

_URN_PREFIX: Final = "urn:epc:id:"

# Scheme -> (number of dot-separated fields, digits of company prefix + the
# following numeric field). GIAI has no fixed total.
_LAYOUT: Final[dict[str, tuple[int, int]]] = {
    "sgtin": (3, 13),
    "sscc": (2, 17),
    "sgln": (3, 12),
    "pgln": (2, 12),
    "grai": (3, 12),
    "giai": (2, 0),
}
SUPPORTED_SCHEMES: Final = frozenset(_LAYOUT)

# Characters of GS1 set 82 that an EPC URI must escape (TDS, table of URI forms).
_MUST_ESCAPE: Final = frozenset('"%&/<>?')


def encode_epc_component(value: str) -> str:
    """Escape a set-82 value for an EPC URI (``"``, ``%``, ``&``, ``/``, ``<``, ``>``, ``?``)."""
    return "".join(f"%{ord(char):02X}" if char in _MUST_ESCAPE else char for char in value)


def decode_epc_component(component: str, what: str, max_length: int) -> str:
    """Undo EPC URI escaping and check the result is 1..max_length chars of set 82."""
    decoded: list[str] = []
    index = 0
    while index < len(component):
        char = component[index]
        if char == "%":
            hex_pair = component[index + 1 : index + 3]
            if len(hex_pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in hex_pair):
                raise InvalidIdentifier(f"{what} {component!r} has an invalid %-escape")
            escaped = chr(int(hex_pair, 16))
            if escaped not in GS1_CHARSET_82:
                raise InvalidIdentifier(
                    f"{what} {component!r} escapes {escaped!r}, which is not in GS1 set 82"
                )
            decoded.append(escaped)
            index += 3
        else:
            decoded.append(char)
            index += 1
    value = "".join(decoded)
    check_charset_82(value, what, max_length)
    return value


def _company_prefix(value: str, urn: str) -> str:
    if not is_ascii_digits(value) or not 6 <= len(value) <= 12:
        raise InvalidIdentifier(
            f"EPC URN {urn!r}: the company prefix must be 6 to 12 digits, got {value!r}"
        )
    return value


def _urn_to_link(urn: str, domain: str) -> DigitalLink:
    if not isinstance(urn, str) or not urn[: len(_URN_PREFIX)].lower() == _URN_PREFIX:
        raise InvalidIdentifier(f"an EPC pure-identity URN starts with {_URN_PREFIX!r}: {urn!r}")
    scheme, colon, body = urn[len(_URN_PREFIX) :].partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in _LAYOUT:
        raise InvalidIdentifier(
            f"EPC scheme {scheme!r} is not supported (expected one of {', '.join(sorted(_LAYOUT))})"
        )
    field_count, numeric_length = _LAYOUT[scheme]
    fields = body.split(".", field_count - 1)
    if len(fields) != field_count:
        raise InvalidIdentifier(f"EPC URN {urn!r} must have {field_count} dot-separated fields")
    prefix = _company_prefix(fields[0], urn)
    if scheme == "giai":
        reference = decode_epc_component(fields[1], "individual asset reference", 30 - len(prefix))
        return DigitalLink("8004", prefix + reference, (), domain)
    number = fields[1]
    if len(prefix) + len(number) != numeric_length or not (number == "" or is_ascii_digits(number)):
        raise InvalidIdentifier(
            f"EPC URN {urn!r}: the company prefix and the field after it must be "
            f"{numeric_length} digits together, got {prefix!r} and {number!r}"
        )
    if scheme == "sgtin":
        data = number[:1] + prefix + number[1:]
        serial = decode_epc_component(fields[2], "serial number", 20)
        return DigitalLink("01", data + gs1_check_digit(data), (("21", serial),), domain)
    if scheme == "sscc":
        data = number[:1] + prefix + number[1:]
        return DigitalLink("00", data + gs1_check_digit(data), (), domain)
    data = prefix + number
    key = data + gs1_check_digit(data)
    if scheme == "pgln":
        return DigitalLink("417", key, (), domain)
    if scheme == "sgln":
        extension = decode_epc_component(fields[2], "GLN extension", 20)
        qualifiers = () if extension == "0" else (("254", extension),)
        return DigitalLink("414", key, qualifiers, domain)
    serial = decode_epc_component(fields[2], "GRAI serial number", 16)
    return DigitalLink("8003", "0" + key + serial, (), domain)


def epc_urn_to_digital_link(urn: str, domain: str = CANONICAL_DOMAIN) -> str:
    """Convert an EPC pure-identity URN to a GS1 Digital Link on ``domain``.

    ``urn:epc:id:sgln:…`` with extension ``0`` (meaning "no extension") gives a
    bare AI 414; any other extension becomes AI 254.
    """
    return _urn_to_link(urn, domain).uri


def digital_link_to_epc_urn(uri: str, company_prefix_length: int) -> str:
    """Convert a Digital Link to its EPC pure-identity URN.

    ``company_prefix_length`` (6 to 12) says where the company prefix ends; a
    GTIN needs a serial (AI 21) and a GRAI a serial to have an EPC.
    """
    link = parse_digital_link(uri)
    length = company_prefix_length
    if isinstance(length, bool) or not isinstance(length, int) or not 6 <= length <= 12:
        raise InvalidIdentifier(
            f"the company prefix length must be an integer from 6 to 12, got {length!r}"
        )
    ai, value = link.primary_ai, link.primary_value
    if ai == "01":
        serial = link.qualifier("21")
        if serial is None:
            raise InvalidIdentifier("a GTIN without serial number (AI 21) has no EPC (sgtin)")
        item = value[0] + value[1 + length : 13]
        return f"urn:epc:id:sgtin:{value[1 : 1 + length]}.{item}.{encode_epc_component(serial)}"
    if ai == "00":
        serial_reference = value[0] + value[1 + length : 17]
        return f"urn:epc:id:sscc:{value[1 : 1 + length]}.{serial_reference}"
    if ai == "414":
        extension = link.qualifier("254") or "0"
        return (
            f"urn:epc:id:sgln:{value[:length]}.{value[length:12]}.{encode_epc_component(extension)}"
        )
    if ai == "417":
        return f"urn:epc:id:pgln:{value[:length]}.{value[length:12]}"
    if ai == "8003":
        if len(value) == 14:
            raise InvalidIdentifier("a GRAI without serial number has no EPC (grai)")
        return (
            f"urn:epc:id:grai:{value[1 : 1 + length]}.{value[1 + length : 13]}."
            f"{encode_epc_component(value[14:])}"
        )
    # 8004: the company prefix must be digits and leave a non-empty reference.
    prefix, reference = value[:length], value[length:]
    if not is_ascii_digits(prefix) or not reference:
        raise InvalidIdentifier(
            f"GIAI {value!r} does not start with a {length}-digit company prefix "
            "followed by an asset reference"
        )
    return f"urn:epc:id:giai:{prefix}.{encode_epc_component(reference)}"


@lru_cache(maxsize=65536)
def normalise_epc(value: str) -> str:
    """Canonical form of an EPC for the event hash (memoised: a pure function of its
    text, called for every identifier of every event hashed).

    An EPC URN of a supported scheme or a Digital Link on any domain becomes the
    canonical Digital Link on https://id.gs1.org. Anything else (other URIs,
    unsupported EPC schemes, values that do not convert) is returned unchanged,
    like the reference implementation of the CBV 2.0 event hash. Never raises.
    """
    plain = plain_giai_canonical(value)
    if plain is not None:
        return plain
    try:
        if value[: len(_URN_PREFIX)].lower() == _URN_PREFIX:
            return _urn_to_link(value, CANONICAL_DOMAIN).uri
        if value[:7].lower() == "http://" or value[:8].lower() == "https://":
            return parse_digital_link(value).canonical().uri
    except InvalidIdentifier:
        return value
    return value
