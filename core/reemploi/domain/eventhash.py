"""EPCIS Event Hash ID (GS1 CBV 2.0, section 8.9): a fingerprint of an event.

The pre-hash string concatenates the event's fields, with no separator, in a fixed
canonical order. Leaves are written ``key=value``; a list or an object writes its name
once, then its items. Values are canonicalised first so that two serialisations of the
same event (XML or JSON-LD, bare CBV words or Web URIs, EPC URNs or Digital Links, any
time zone, keys in any order) give the same string, hence the same hash:

* times to UTC with exactly three fractional digits and ``Z``;
* bare CBV words and ``urn:epcglobal:cbv:`` URNs to ``https://ref.gs1.org/cbv/{Type}-word``;
* EPC pure-identity URNs and Digital Links on any resolver to canonical Digital Links;
* numbers without trailing zeros;
* list items and extension elements sorted by code point.

Where the CBV text leaves room, this module follows the reference implementation
(RalphTro/epcis-event-hash-generator) as pinned by the public vector EH-1 and by our own
vectors in ``tests/vectors/eventhash.json``: items of ``bizTransactionList``,
``sourceList`` and ``destinationList`` write ``type=`` before the value, and
``destinationList`` comes before ``sourceList``.

Pure: no I/O. ``recordTime``, ``eventID``, ``errorDeclaration`` and ``@context`` never
take part in the hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from typing import Any

from reemploi.domain.checkdigit import gs1_check_digit, is_ascii_digits
from reemploi.domain.epc import normalise_epc
from reemploi.domain.epcis import REEMPLOI_VOC

CBV_WEB_PREFIX = "https://ref.gs1.org/cbv/"
GS1_VOC_PREFIX = "https://gs1.org/voc/"
HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"

# JSON-LD prefixes every EPCIS 2.0 document may use without declaring them.
DEFAULT_NAMESPACES: Mapping[str, str] = {
    "gs1": "https://gs1.org/voc/",
    "cbv": "https://ref.gs1.org/cbv/",
    "epcis": "https://ref.gs1.org/epcis/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "reemploi": REEMPLOI_VOC,
}

# CBV 2.0 words that may appear bare in JSON (the enums of the official schema).
BIZ_STEPS = frozenset(
    """accepting arriving assembling collecting commissioning consigning
    creating_class_instance cycle_counting decommissioning departing destroying
    disassembling dispensing encoding entering_exiting holding inspecting installing
    killing loading other packing picking receiving removing repackaging repairing
    replacing reserving retail_selling shipping staging_outbound stock_taking stocking
    storing transporting unloading unpacking void_shipping sensor_reporting
    sampling""".split()  # noqa: SIM905
)
DISPOSITIONS = frozenset(
    """active container_closed damaged destroyed dispensed disposed encoded expired
    in_progress in_transit inactive no_pedigree_match non_sellable_other
    partially_dispensed recalled reserved retail_sold returned sellable_accessible
    sellable_not_accessible stolen unknown available completeness_verified
    completeness_inferred conformant container_open mismatch_instance mismatch_class
    mismatch_quantity needs_replacement non_conformant unavailable""".split()  # noqa: SIM905
)
BIZ_TRANSACTION_TYPES = frozenset(
    "bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt".split()  # noqa: SIM905
)
SOURCE_DESTINATION_TYPES = frozenset(("owning_party", "possessing_party", "location"))
COMPONENTS = frozenset(
    """x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle
    easting northing latitude longitude altitude""".split()  # noqa: SIM905
)

_URN_TO_WEB = (
    ("urn:epcglobal:cbv:bizstep:", CBV_WEB_PREFIX + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", CBV_WEB_PREFIX + "Disp-"),
    ("urn:epcglobal:cbv:btt:", CBV_WEB_PREFIX + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", CBV_WEB_PREFIX + "SDT-"),
    ("urn:epcglobal:cbv:er:", CBV_WEB_PREFIX + "ER-"),
)

_IGNORED = frozenset(("type", "recordTime", "eventID", "errorDeclaration", "@context"))
_EPC_LISTS = frozenset(("epcList", "inputEPCList", "childEPCs", "outputEPCList"))
_QUANTITY_LISTS = frozenset(
    ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
)
_CANONICAL_ORDER = (
    "eventTime",
    "eventTimeZoneOffset",
    "certificationInfo",
    "epcList",
    "parentID",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "destinationList",  # before sourceList, like the reference implementation
    "sourceList",
    "sensorElementList",
    "ilmd",
)
_SENSOR_METADATA_ORDER = (
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT_ORDER = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)

_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)
_CANONICAL_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_LOCAL_MILLIS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def canonical_time(text: str) -> str:
    """An ISO 8601 date-time in UTC with exactly 3 fractional digits and ``Z``.

    A time without offset is taken as UTC. Digits after the third are rounded half up.
    Text that is not a date-time is returned unchanged (stripped).
    """
    text = text.strip()
    if _CANONICAL_TIME_RE.match(text):  # already canonical
        return text
    if _LOCAL_MILLIS_RE.match(text):  # what our builders write: local time, offset, millis
        try:
            moment = datetime.fromisoformat(text).astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # out of range: the general path below decides
        else:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    match = _TIME_RE.match(text)
    if match is None:
        return text
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or ""
    millis = int((fraction + "000")[:3])
    if len(fraction) > 3 and fraction[3] >= "5":
        millis += 1
    tz = UTC
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        tz = timezone(sign * offset)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return text
    moment = (moment + timedelta(milliseconds=millis)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def canonical_number(text: str) -> str:
    """A decimal number without leading ``+``, leading zeros or trailing zeros."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def canonical_value(value: Any) -> str:
    """Canonical text of a leaf value that has no vocabulary of its own."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return canonical_number(repr(value))
    if isinstance(value, str):
        return _canonical_text(value)
    return _canonical_text(str(value))


@lru_cache(maxsize=65536)
def _canonical_text(value: str) -> str:
    """Text leaves repeat from event to event (locations, parties, EPCs): computed once."""
    text = value.strip()
    for urn, web in _URN_TO_WEB:
        if text.startswith(urn):
            return web + text[len(urn) :]
    if _NUMBER_RE.match(text):
        return canonical_number(text)
    if text.startswith("urn:epc:class:lgtin:"):
        return _lgtin_link(text)
    return normalise_epc(text)


def _lgtin_link(urn: str) -> str:
    """``urn:epc:class:lgtin:CP.IRef.Lot`` → ``https://id.gs1.org/01/<GTIN>/10/<Lot>``."""
    company, _, rest = urn[len("urn:epc:class:lgtin:") :].partition(".")
    item, _, lot = rest.partition(".")
    data = item[:1] + company + item[1:]
    if not (lot and len(data) == 13 and is_ascii_digits(data)):
        return urn
    return f"https://id.gs1.org/01/{data}{gs1_check_digit(data)}/10/{lot}"


def _vocabulary(
    kind: str, words: frozenset[str], prefix: str = CBV_WEB_PREFIX
) -> Callable[[Any], str]:
    def canonical(value: Any) -> str:
        text = str(value).strip()
        if text in words:
            return f"{prefix}{kind}{text}"
        return canonical_value(text)

    return canonical


_biz_step = _vocabulary("BizStep-", BIZ_STEPS)
_disposition = _vocabulary("Disp-", DISPOSITIONS)
_btt = _vocabulary("BTT-", BIZ_TRANSACTION_TYPES)
_sdt = _vocabulary("SDT-", SOURCE_DESTINATION_TYPES)
_component = _vocabulary("Comp-", COMPONENTS)


def _measurement_type(value: Any) -> str:
    text = str(value).strip()
    if re.fullmatch(r"[A-Z][A-Za-z]*", text):
        return GS1_VOC_PREFIX + text
    return canonical_value(text)


class _Canonicaliser:
    """Writes one event's pre-hash string; holds the JSON-LD prefixes in force."""

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self.namespaces = namespaces

    def expand_key(self, key: str) -> str:
        """``prefix:name`` → ``{namespace}name`` (the XML form of an extension name)."""
        prefix, colon, local = key.partition(":")
        if colon and prefix in self.namespaces and not local.startswith("//"):
            return "{" + self.namespaces[prefix] + "}" + local
        return key

    def extension(self, key: str, value: Any) -> list[str]:
        """Pre-hash strings for one extension element (a list repeats the element)."""
        name = self.expand_key(key)
        if isinstance(value, list):
            return [s for item in value for s in self.extension(key, item)]
        if isinstance(value, dict):
            if "@value" in value:
                return [f"{name}={canonical_value(value['@value'])}"]
            return [name + self.extensions(value.items())]
        if value is None:
            return []
        local = name.rsplit("}", 1)[-1].lower()
        text = canonical_value(value)
        if "time" in local and "offset" not in local and isinstance(value, str):
            text = canonical_time(value)
        return [f"{name}={text}"]

    def extensions(self, items: Iterable[tuple[str, Any]]) -> str:
        parts = [s for key, value in items for s in self.extension(key, value)]
        return "".join(sorted(parts))

    def ordered(
        self,
        obj: Mapping[str, Any],
        order: tuple[str, ...],
        leaf: Callable[[str, Any], str],
    ) -> str:
        """Known fields in ``order``, then any extension fields, sorted."""
        out = [f"{key}={leaf(key, obj[key])}" for key in order if obj.get(key) is not None]
        rest = ((k, v) for k, v in obj.items() if k not in order)
        return "".join(out) + self.extensions(rest)

    def typed_items(self, items: list[Mapping[str, Any]], value_key: str, kind: Any) -> str:
        parts = []
        for item in items:
            typed = f"type={kind(item['type'])}" if item.get("type") is not None else ""
            parts.append(f"{typed}{value_key}={canonical_value(item[value_key])}")
        return "".join(sorted(parts))

    def quantity(self, element: Mapping[str, Any]) -> str:
        return "quantityElement" + self.ordered(
            element, ("epcClass", "quantity", "uom"), lambda _k, v: canonical_value(v)
        )

    def sensor_element(self, element: Mapping[str, Any]) -> str:
        out = "sensorElement"
        metadata = element.get("sensorMetadata")
        if metadata:
            out += "sensorMetadata" + self.ordered(metadata, _SENSOR_METADATA_ORDER, _sensor_leaf)
        reports = [
            "sensorReport" + self.ordered(report, _SENSOR_REPORT_ORDER, _sensor_leaf)
            for report in element.get("sensorReport", [])
        ]
        out += "".join(sorted(reports))
        rest = ((k, v) for k, v in element.items() if k not in ("sensorMetadata", "sensorReport"))
        return out + self.extensions(rest)

    def field(self, key: str, value: Any) -> str:
        """:meth:`field_text`, remembered for the plain shapes that repeat from one event
        to the next (a location ``{"id": …}``, a list of typed sources or destinations)."""
        shape = _plain_shape(key, value)
        if shape is None:
            return self.field_text(key, value)
        found = _FIELD_CACHE.get(shape)
        if found is None:
            if len(_FIELD_CACHE) >= _FIELD_CACHE_MAX:
                _FIELD_CACHE.clear()
            found = _FIELD_CACHE[shape] = self.field_text(key, value)
        return found

    def field_text(self, key: str, value: Any) -> str:
        if key in _EPC_LISTS:
            return key + "".join(sorted(f"epc={canonical_value(epc)}" for epc in value))
        if key in _QUANTITY_LISTS:
            return key + "".join(sorted(self.quantity(element) for element in value))
        if key == "eventTime":
            return f"{key}={canonical_time(str(value))}"
        if key == "eventTimeZoneOffset":
            return f"{key}={str(value).strip()}"
        if key == "bizStep":
            return f"{key}={_biz_step(value)}"
        if key == "disposition":
            return f"{key}={_disposition(value)}"
        if key == "persistentDisposition":
            parts = [
                "".join(sorted(f"{k}={_disposition(d)}" for d in value.get(k, [])))
                for k in ("set", "unset")
            ]
            return key + "".join(parts)
        if key in ("readPoint", "bizLocation"):
            rest = ((k, v) for k, v in value.items() if k != "id")
            return f"{key}id={canonical_value(value['id'])}" + self.extensions(rest)
        if key == "bizTransactionList":
            return key + self.typed_items(value, "bizTransaction", _btt)
        if key == "sourceList":
            return key + self.typed_items(value, "source", _sdt)
        if key == "destinationList":
            return key + self.typed_items(value, "destination", _sdt)
        if key == "sensorElementList":
            return key + "".join(sorted(self.sensor_element(element) for element in value))
        if key == "ilmd":
            return key + self.extensions(value.items())
        return f"{key}={canonical_value(value)}"

    def prehash(self, event: Mapping[str, Any]) -> str:
        # One pass over the event's own keys (a dozen) rather than over the whole order.
        known: list[tuple[int, str, Any]] = []
        rest: list[tuple[str, Any]] = []
        for key, value in event.items():
            rank = _RANK.get(key)
            if rank is not None:
                if _present(value):
                    known.append((rank, key, value))
            elif key not in _IGNORED:
                rest.append((key, value))
        known.sort(key=itemgetter(0))
        out = [f"eventType={event['type']}"]
        out += [self.field(key, value) for _, key, value in known]
        out.append(self.extensions(rest))
        return "".join(out)


_RANK = {key: rank for rank, key in enumerate(_CANONICAL_ORDER)}


def _present(value: Any) -> bool:
    """A known field takes part in the pre-hash unless it is null or empty."""
    return value is not None and value != [] and value != {}


_FIELD_CACHE: dict[tuple[str, ...], str] = {}
_FIELD_CACHE_MAX = 4096
_TYPED_LISTS = {"sourceList": "source", "destinationList": "destination"}


def _plain_shape(key: str, value: Any) -> tuple[str, ...] | None:
    """A hashable stand-in for ``value`` when its canonical text depends on nothing else
    (no extension, so no namespace): ``{"id": str}`` under readPoint / bizLocation, or a
    list of ``{"type": str, <source|destination>: str}``. None for any other shape."""
    if key in ("readPoint", "bizLocation"):
        if type(value) is dict and len(value) == 1 and type(value.get("id")) is str:
            return (key, value["id"])
        return None
    inner = _TYPED_LISTS.get(key)
    if inner is None or type(value) is not list:
        return None
    shape = [key]
    for item in value:
        if type(item) is not dict or len(item) != 2:
            return None
        kind, target = item.get("type"), item.get(inner)
        if type(kind) is not str or type(target) is not str:
            return None
        shape += (kind, target)
    return tuple(shape)


def _sensor_leaf(key: str, value: Any) -> str:
    if key in ("time", "startTime", "endTime"):
        return canonical_time(str(value))
    if key == "type":
        return _measurement_type(value)
    if key == "component":
        return str(_component(value))
    return canonical_value(value)


def _context_namespaces(context: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            found.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return found


def event_prehash(event: dict[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event.

    Extension prefixes are resolved with :data:`DEFAULT_NAMESPACES`, then the event's own
    ``@context`` (if any), then ``namespaces`` (e.g. the enclosing document's context).
    """
    if not isinstance(event.get("type"), str):
        raise ValueError("an EPCIS event needs a string 'type'")
    if not namespaces and "@context" not in event:
        return _DEFAULT_CANONICALISER.prehash(event)
    known = dict(DEFAULT_NAMESPACES)
    known.update(_context_namespaces(event.get("@context")))
    known.update(namespaces or {})
    return _Canonicaliser(known).prehash(event)


_DEFAULT_CANONICALISER = _Canonicaliser(DEFAULT_NAMESPACES)


class PrehashTemplate:
    """:func:`event_prehash` of events that share every field but those of ``variable``
    (and have no ``@context``: the default prefixes apply). The shared fields' text is
    written once, here; each event only writes its own fields, in their canonical place.
    Only known EPCIS fields (or fields the hash ignores) may vary: extension fields are
    sorted together, so theirs must all be shared."""

    def __init__(self, fixed: Mapping[str, Any], variable: Iterable[str]) -> None:
        if not isinstance(fixed.get("type"), str):
            raise ValueError("an EPCIS event needs a string 'type'")
        if "@context" in fixed:
            raise ValueError("a template uses the default prefixes only (no @context)")
        canonicaliser = _DEFAULT_CANONICALISER
        slots: list[tuple[int, str, str | None]] = []  # (rank, fixed text, variable key)
        rest: list[tuple[str, Any]] = []
        for key, value in fixed.items():
            rank = _RANK.get(key)
            if rank is not None:
                if _present(value):
                    slots.append((rank, canonicaliser.field(key, value), None))
            elif key not in _IGNORED:
                rest.append((key, value))
        for key in variable:
            if key in fixed:
                raise ValueError(f"{key} is both fixed and variable")
            rank = _RANK.get(key)
            if rank is not None:
                slots.append((rank, "", key))
            elif key not in _IGNORED:
                raise ValueError(f"{key}: only known EPCIS fields may vary")
        slots.sort(key=itemgetter(0))
        parts: list[tuple[str, str | None]] = []  # (text, None) or ("", variable key)
        for _, text, name in slots:
            if name is None and parts and parts[-1][1] is None:
                parts[-1] = (parts[-1][0] + text, None)
            else:
                parts.append((text, name))
        self._head = f"eventType={fixed['type']}"
        self._parts = parts
        self._tail = canonicaliser.extensions(rest)

    def prehash(self, event: Mapping[str, Any]) -> str:
        field = _DEFAULT_CANONICALISER.field
        out = [self._head]
        for text, key in self._parts:
            if key is None:
                out.append(text)
            else:
                value = event.get(key)
                if _present(value):
                    out.append(field(key, value))
        out.append(self._tail)
        return "".join(out)


def hash_prehash(prehash: str) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0`` of a pre-hash string (UTF-8)."""
    return HASH_PREFIX + hashlib.sha256(prehash.encode("utf-8")).hexdigest() + HASH_SUFFIX


def event_hash(event: dict[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The EPCIS Event Hash ID of one event: ``ni:///sha-256;<hex>?ver=CBV2.0``."""
    return hash_prehash(event_prehash(event, namespaces))


def document_namespaces(document: Mapping[str, Any]) -> dict[str, str]:
    """The extension prefixes an EPCISDocument's ``@context`` declares."""
    return _context_namespaces(document.get("@context"))
