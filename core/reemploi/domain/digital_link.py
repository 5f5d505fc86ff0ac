"""GS1 Digital Link URIs for the keys Réemploi uses.

Supported primary keys, with their only allowed key qualifiers:

* ``8004`` GIAI — an individual asset;
* ``00`` SSCC — a lot, pallet or cage;
* ``414`` GLN — a site, optionally followed by ``254`` (GLN extension, a sub-location);
* ``417`` PGLN — an organisation;
* ``8003`` GRAI — a returnable asset (crate), serial included in the value;
* ``01`` GTIN — optionally followed by ``21`` (serial number); read so that EPCIS
  events about trade items can be hashed.

A Digital Link may live on any http(s) resolver domain, possibly under a path
prefix (``https://example.org/resolver/8004/...``). The query string and the
fragment carry no identity and are ignored when parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from reemploi.domain.checkdigit import gs1_check_digit, has_valid_check_digit, is_ascii_digits
from reemploi.domain.errors import InvalidIdentifier

__all__ = [
    "CANONICAL_DOMAIN",
    "GS1_CHARSET_82",
    "DigitalLink",
    "InvalidIdentifier",
    "check_charset_82",
    "format_digital_link",
    "giai_uri",
    "gln_uri",
    "grai_uri",
    "parse_digital_link",
    "pgln_uri",
    "plain_giai_canonical",
    "sscc_uri",
]

CANONICAL_DOMAIN: Final = "https://id.gs1.org"

GS1_CHARSET_82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)

# Characters left as they are in a Digital Link path; every other character of
# set 82 is percent-encoded (GS1 Digital Link: only RFC 3986 unreserved
# characters stay literal).
_LITERAL_IN_PATH: Final = frozenset(
    "-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

_NAMES: Final = {
    "8004": "GIAI (AI 8004)",
    "00": "SSCC (AI 00)",
    "414": "GLN (AI 414)",
    "254": "GLN extension (AI 254)",
    "417": "PGLN (AI 417)",
    "8003": "GRAI (AI 8003)",
    "01": "GTIN (AI 01)",
    "21": "serial number (AI 21)",
}

# Primary key AI -> the key qualifiers allowed after it, in the required order.
_QUALIFIERS: Final[dict[str, tuple[str, ...]]] = {
    "8004": (),
    "00": (),
    "414": ("254",),
    "417": (),
    "8003": (),
    "01": ("21",),
}
_PRIMARY_LIST: Final = ", ".join(_QUALIFIERS)

_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_AUTHORITY_RE: Final = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]{{1,5}})?")
# RFC 3986 pchar: unreserved, pct-encoded, sub-delims, ':' and '@'.
_SEGMENT_RE: Final = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+")
_BAD_PERCENT_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def check_charset_82(value: str, what: str, max_length: int) -> None:
    """Raise InvalidIdentifier unless ``value`` is 1..max_length chars of GS1 set 82."""
    if not value:
        raise InvalidIdentifier(f"{what} is empty")
    if len(value) > max_length:
        raise InvalidIdentifier(
            f"{what} {value!r} has {len(value)} characters, at most {max_length} are allowed"
        )
    for char in value:
        if char not in GS1_CHARSET_82:
            raise InvalidIdentifier(
                f"{what} {value!r} contains {char!r}, which is not in GS1 character set 82"
            )


def _check_digits_with_check(value: str, what: str, length: int) -> None:
    if len(value) != length or not is_ascii_digits(value):
        raise InvalidIdentifier(f"{what} must be exactly {length} digits, got {value!r}")
    if not has_valid_check_digit(value):
        expected = gs1_check_digit(value[:-1])
        raise InvalidIdentifier(
            f"{what} {value!r} has check digit {value[-1]}, expected {expected}"
        )


def _normalised_value(ai: str, value: str) -> str:
    """Validate the value of a primary key or qualifier; return its canonical form."""
    what = _NAMES[ai]
    if ai == "8004":
        check_charset_82(value, what, 30)
        if len(value) < 4 or not is_ascii_digits(value[:4]):
            raise InvalidIdentifier(
                f"{what} {value!r} must start with a GS1 company prefix (at least 4 digits)"
            )
    elif ai == "00":
        _check_digits_with_check(value, what, 18)
    elif ai in ("414", "417"):
        _check_digits_with_check(value, what, 13)
    elif ai == "8003":
        if len(value) < 14 or not is_ascii_digits(value[:14]):
            raise InvalidIdentifier(
                f"{what} {value!r} must start with '0' and 13 digits (with check digit)"
            )
        if value[0] != "0":
            raise InvalidIdentifier(f"{what} {value!r} must start with the digit '0'")
        _check_digits_with_check(value[1:14], f"{what} asset type", 13)
        if len(value) > 14:
            check_charset_82(value[14:], f"{what} serial", 16)
    elif ai == "01":
        if len(value) not in (8, 12, 13, 14) or not is_ascii_digits(value):
            raise InvalidIdentifier(f"{what} must be 8, 12, 13 or 14 digits, got {value!r}")
        value = value.zfill(14)
        _check_digits_with_check(value, what, 14)
    else:  # 254 and 21
        check_charset_82(value, what, 20)
    return value


def _normalised_domain(domain: str) -> str:
    """Validate ``scheme://host[:port][/prefix]``; lowercase scheme and host."""
    if not isinstance(domain, str):
        raise InvalidIdentifier(f"resolver domain must be text, got {domain!r}")
    scheme_match = _SCHEME_RE.match(domain)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https") or not domain[len(scheme) + 1 :].startswith("//"):
        raise InvalidIdentifier(
            f"resolver domain {domain!r} must start with 'https://' or 'http://'"
        )
    rest = domain[len(scheme) + 3 :].rstrip("/")
    authority, _, prefix = rest.partition("/")
    if not _AUTHORITY_RE.fullmatch(authority):
        raise InvalidIdentifier(f"resolver domain {domain!r} has an invalid host {authority!r}")
    if prefix:
        for segment in prefix.split("/"):
            if not _SEGMENT_RE.fullmatch(segment):
                raise InvalidIdentifier(
                    f"resolver domain {domain!r} has an invalid path segment {segment!r}"
                )
    return f"{scheme}://{authority.lower()}" + (f"/{prefix}" if prefix else "")


def _percent_encode(value: str) -> str:
    return "".join(char if char in _LITERAL_IN_PATH else f"%{ord(char):02X}" for char in value)


def _percent_decode(segment: str) -> str:
    raw = bytearray()
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "%":
            hex_pair = segment[index + 1 : index + 3]
            if len(hex_pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in hex_pair):
                raise InvalidIdentifier(f"invalid percent-encoding in {segment!r}")
            raw.append(int(hex_pair, 16))
            index += 3
        else:
            raw.extend(char.encode("utf-8", errors="surrogatepass"))
            index += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidIdentifier(f"percent-encoding in {segment!r} is not valid UTF-8") from None


@dataclass(frozen=True)
class DigitalLink:
    """A validated GS1 Digital Link; ``domain`` includes any resolver path prefix.

    Constructing one validates and normalises every part (a GTIN-8/12/13 is
    zero-padded to 14 digits, the scheme and host are lowercased), so every
    instance denotes a well-formed identifier.
    """

    primary_ai: str
    primary_value: str
    qualifiers: tuple[tuple[str, str], ...] = ()
    domain: str = CANONICAL_DOMAIN

    def __post_init__(self) -> None:
        if self.primary_ai not in _QUALIFIERS:
            raise InvalidIdentifier(
                f"AI {self.primary_ai!r} is not a supported primary key "
                f"(expected one of {_PRIMARY_LIST})"
            )
        value = _normalised_value(self.primary_ai, self.primary_value)
        allowed = _QUALIFIERS[self.primary_ai]
        qualifiers: list[tuple[str, str]] = []
        next_allowed = 0
        for pair in self.qualifiers:
            if len(pair) != 2:
                raise InvalidIdentifier(f"a key qualifier is an (AI, value) pair, got {pair!r}")
            ai, qualifier_value = pair
            if ai not in allowed[next_allowed:]:
                expected = ", ".join(allowed) if allowed else "none"
                raise InvalidIdentifier(
                    f"AI {ai!r} is not an allowed key qualifier after "
                    f"{_NAMES[self.primary_ai]} here (allowed, in order: {expected})"
                )
            next_allowed = allowed.index(ai) + 1
            qualifiers.append((ai, _normalised_value(ai, qualifier_value)))
        object.__setattr__(self, "primary_value", value)
        object.__setattr__(self, "qualifiers", tuple(qualifiers))
        object.__setattr__(self, "domain", _normalised_domain(self.domain))

    @property
    def uri(self) -> str:
        """The Digital Link URI, with reserved characters percent-encoded."""
        parts = [self.domain, self.primary_ai, _percent_encode(self.primary_value)]
        for ai, value in self.qualifiers:
            parts.extend((ai, _percent_encode(value)))
        return "/".join(parts)

    def qualifier(self, ai: str) -> str | None:
        """The value of key qualifier ``ai`` (e.g. ``"254"``), or None."""
        for qualifier_ai, value in self.qualifiers:
            if qualifier_ai == ai:
                return value
        return None

    def canonical(self) -> DigitalLink:
        """The same identifier on the canonical resolver ``https://id.gs1.org``."""
        return DigitalLink(self.primary_ai, self.primary_value, self.qualifiers)

    def __str__(self) -> str:
        return self.uri


def _locate_key(segments: list[str]) -> int:
    """Index of the primary key AI in the path segments; raise if there is none."""
    count = len(segments)
    if (
        count >= 4
        and segments[count - 4] in _QUALIFIERS
        and segments[count - 2] in _QUALIFIERS[segments[count - 4]]
    ):
        return count - 4
    if count >= 2 and segments[count - 2] in _QUALIFIERS:
        return count - 2
    for index, segment in enumerate(segments):
        if segment in _QUALIFIERS and (count - index) % 2 == 0:
            after = segments[index + 2 :: 2]
            allowed = ", ".join(_QUALIFIERS[segment]) or "none"
            raise InvalidIdentifier(
                f"{_NAMES[segment]} is followed by AI(s) {', '.join(after)}; "
                f"the only key qualifiers supported after it are: {allowed}"
            )
    raise InvalidIdentifier(
        f"the path does not end with a supported GS1 key (one of {_PRIMARY_LIST}, then its value)"
    )


def parse_digital_link(uri: str) -> DigitalLink:
    """Parse and validate a GS1 Digital Link URI on any http(s) resolver domain."""
    if not isinstance(uri, str):
        raise InvalidIdentifier(f"a Digital Link is text, got {type(uri).__name__}")
    scheme_match = _SCHEME_RE.match(uri)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme not in ("http", "https"):
        raise InvalidIdentifier(f"a Digital Link starts with https:// or http://, got {uri!r}")
    rest = uri[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise InvalidIdentifier(f"a Digital Link needs '//' and a host after the scheme: {uri!r}")
    rest = rest[2:]
    for separator in ("#", "?"):
        rest = rest.partition(separator)[0]
    authority, slash, path = rest.partition("/")
    if not _AUTHORITY_RE.fullmatch(authority):
        raise InvalidIdentifier(f"Digital Link {uri!r} has an invalid host {authority!r}")
    if not slash or not path:
        raise InvalidIdentifier(f"Digital Link {uri!r} has no path holding a GS1 key")
    segments = path.split("/")
    for segment in segments:
        if not segment:
            raise InvalidIdentifier(f"Digital Link {uri!r} has an empty path segment")
        if _BAD_PERCENT_RE.search(segment):
            raise InvalidIdentifier(f"invalid percent-encoding in {segment!r} (need %XX)")
        if not _SEGMENT_RE.fullmatch(segment):
            raise InvalidIdentifier(
                f"Digital Link {uri!r} has characters not allowed in a URI path in {segment!r} "
                "(they must be percent-encoded)"
            )
    start = _locate_key(segments)
    prefix = segments[:start]
    values = [_percent_decode(segment) for segment in segments[start + 1 :: 2]]
    ais = segments[start::2]
    domain = f"{scheme}://{authority}" + "".join(f"/{segment}" for segment in prefix)
    return DigitalLink(ais[0], values[0], tuple(zip(ais[1:], values[1:], strict=True)), domain)


# A GIAI link whose value has nothing to percent-encode (digits, letters, "-", "." and
# "_") right after the host, nothing after it: the link tags carry. Its canonical form is
# the same value on the canonical domain, so ingest and the event hash skip the parser.
_PLAIN_GIAI_RE: Final = re.compile(r"https?://([^/?#]+)/8004/([0-9]{4}[0-9A-Za-z._-]{0,26})")


def plain_giai_canonical(uri: str) -> str | None:
    """``parse_digital_link(uri).canonical().uri`` for a plain GIAI link (see above),
    without building the link; None for any other text (parse it the long way)."""
    match = _PLAIN_GIAI_RE.fullmatch(uri)
    if match is None or not _AUTHORITY_RE.fullmatch(match.group(1)):
        return None
    return f"{CANONICAL_DOMAIN}/8004/{match.group(2)}"


def format_digital_link(
    primary_ai: str,
    primary_value: str,
    qualifiers: tuple[tuple[str, str], ...] = (),
    domain: str = CANONICAL_DOMAIN,
) -> str:
    """Validate the parts and return the Digital Link URI."""
    return DigitalLink(primary_ai, primary_value, tuple(qualifiers), domain).uri


def giai_uri(giai: str, domain: str = CANONICAL_DOMAIN) -> str:
    """Digital Link of an individual asset (GIAI, AI 8004)."""
    return format_digital_link("8004", giai, (), domain)


def sscc_uri(sscc: str, domain: str = CANONICAL_DOMAIN) -> str:
    """Digital Link of a lot, pallet or cage (SSCC, AI 00)."""
    return format_digital_link("00", sscc, (), domain)


def gln_uri(gln: str, extension: str | None = None, domain: str = CANONICAL_DOMAIN) -> str:
    """Digital Link of a site (GLN, AI 414), with an optional sub-location (AI 254)."""
    qualifiers = () if extension is None else (("254", extension),)
    return format_digital_link("414", gln, qualifiers, domain)


def pgln_uri(pgln: str, domain: str = CANONICAL_DOMAIN) -> str:
    """Digital Link of an organisation (PGLN, AI 417)."""
    return format_digital_link("417", pgln, (), domain)


def grai_uri(grai: str, domain: str = CANONICAL_DOMAIN) -> str:
    """Digital Link of a returnable asset (GRAI, AI 8003: '0', 13 digits, serial)."""
    return format_digital_link("8003", grai, (), domain)
