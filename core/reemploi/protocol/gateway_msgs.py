"""Messages a gateway adds to wire protocol v1: lot movements, evidence, sightings, health.

Pure CPython (the gateway and the server use it, not the firmware). Topics follow v1:
``reemploi/v1/<site>/<gateway>/<kind>`` with ``kind`` in :data:`GATEWAY_KINDS`. Payloads
are UTF-8 JSON objects with fields in a fixed order, at most 4 KiB, and every decoder
raises only :class:`reemploi.protocol.wire.MalformedMessage`. See docs/gateway.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .wire import MAX_MESSAGE_BYTES, MAX_SEQ, TOPIC_ROOT, VERSION, MalformedMessage, valid_id

KIND_LOT = "lot"
KIND_EVIDENCE = "evidence"
KIND_SIGHTING = "sighting"
KIND_HEALTH = "health"
GATEWAY_KINDS = (KIND_LOT, KIND_EVIDENCE, KIND_SIGHTING, KIND_HEALTH)

LOT_ARRIVED = "arrived"
LOT_DEPARTED = "departed"
LOT_EVENTS = (LOT_ARRIVED, LOT_DEPARTED)
MODE_SITE = "site"  # a fixed gateway at a site (GLN): arrival = receiving, departure = shipping
MODE_VEHICLE = "vehicle"  # a gateway in a carrier's vehicle: presence = transporting
MODES = (MODE_SITE, MODE_VEHICLE)

MAX_EVIDENCE_BYTES = 2048  # raw bytes kept from a malformed message (base64 grows it by 4/3)
MAX_BEACON_LEN = 80


def gateway_topic(site: str, gateway: str, kind: str) -> str:
    if not valid_id(site) or not valid_id(gateway) or kind not in GATEWAY_KINDS:
        raise MalformedMessage("bad_topic", f"{site!r}/{gateway!r}/{kind!r}")
    return f"{TOPIC_ROOT}/{site}/{gateway}/{kind}"


def _digest(*parts: str) -> str:
    material = "\n".join(("v1", *parts))
    return hashlib.sha256(material.encode("utf-8")).digest()[:16].hex()


def _dump(obj: dict[str, Any]) -> bytes:
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too_large", f"{len(data)} bytes")
    return data


def _load(payload: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(payload, (bytes, bytearray)):
        raise MalformedMessage("bad_json", "payload is not bytes")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too_large", f"{len(payload)} bytes")
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedMessage("bad_encoding", "payload is not UTF-8") from None
    except ValueError:
        raise MalformedMessage("bad_json", "payload is not JSON") from None
    if not isinstance(obj, dict):
        raise MalformedMessage("bad_json", "payload is not a JSON object")
    for name in obj:
        if name not in fields:
            raise MalformedMessage("unexpected_field", str(name)[:40])
    for name in fields:
        if name not in obj:
            raise MalformedMessage("missing_field", name)
    if type(obj["v"]) is not int or obj["v"] != VERSION:
        raise MalformedMessage("bad_version", "v must be 1")
    return obj


def _int(obj: dict[str, Any], name: str, low: int, high: int, nullable: bool = False) -> Any:
    value = obj[name]
    if value is None and nullable:
        return None
    if type(value) is not int or not low <= value <= high:
        raise MalformedMessage("bad_field", f"{name} must be an integer in {low}..{high}")
    return value


def _text(obj: dict[str, Any], name: str, max_len: int, choices: tuple[str, ...] = ()) -> str:
    value = obj[name]
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        raise MalformedMessage("bad_field", f"{name} must be text of 1..{max_len} characters")
    if choices and value not in choices:
        raise MalformedMessage("bad_field", f"{name} must be one of {', '.join(choices)}")
    return value


def _id(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not valid_id(value):
        raise MalformedMessage("bad_field", f"{name} must be 1-40 characters of a-z 0-9 -")
    return str(value)


# ---------------------------------------------------------------- position


@dataclass(frozen=True)
class Position:
    """A GPS fix from gpsd: degrees (WGS 84), metres; ``mode`` 2 = 2D, 3 = 3D."""

    lat: float
    lon: float
    mode: int
    at: int  # ms Unix, from the GPS

    def to_json(self) -> dict[str, Any]:
        return {
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "mode": self.mode,
            "at": self.at,
        }


def _position(value: Any) -> Position | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"lat", "lon", "mode", "at"}:
        raise MalformedMessage("bad_field", "position must be null or {lat, lon, mode, at}")
    lat, lon = value["lat"], value["lon"]
    for name, number, limit in (("lat", lat, 90), ("lon", lon, 180)):
        if type(number) not in (int, float) or not -limit <= number <= limit:
            raise MalformedMessage("bad_field", f"position.{name} out of range")
    if value["mode"] not in (2, 3) or type(value["mode"]) is not int:
        raise MalformedMessage("bad_field", "position.mode must be 2 or 3")
    at = value["at"]
    if type(at) is not int or not 0 <= at <= MAX_SEQ:
        raise MalformedMessage("bad_field", "position.at must be ms since 1970")
    return Position(float(lat), float(lon), value["mode"], at)


# ---------------------------------------------------------------- lot movement


@dataclass(frozen=True)
class LotMovement:
    """A lot's beacon arrived at or departed from a site or vehicle gateway."""

    gateway: str
    seq: int  # per-gateway, durable, like a reader's scan seq
    event: str  # arrived / departed
    beacon: str  # "eddystone-uid:<ns hex>:<instance hex>" or "ibeacon:<uuid>:<major>:<minor>"
    mode: str  # site / vehicle
    at: int  # gateway clock, ms Unix, when the decision was taken
    first_seen: int  # ms Unix: first sighting of this presence (arrival) / last (departure)
    rssi: int | None  # strongest RSSI (dBm) over the presence
    sightings: int  # advertisements counted over the presence
    position: Position | None = None

    @property
    def key(self) -> str:
        return _digest("lot", self.gateway, str(self.seq), self.event, self.beacon)


_LOT_FIELDS = (
    "v", "gateway", "seq", "event", "beacon", "mode", "at", "first_seen", "rssi",
    "sightings", "position", "key",
)  # fmt: skip


def encode_lot_movement(move: LotMovement) -> bytes:
    return _dump(
        {
            "v": VERSION,
            "gateway": move.gateway,
            "seq": move.seq,
            "event": move.event,
            "beacon": move.beacon,
            "mode": move.mode,
            "at": move.at,
            "first_seen": move.first_seen,
            "rssi": move.rssi,
            "sightings": move.sightings,
            "position": move.position.to_json() if move.position else None,
            "key": move.key,
        }
    )


def decode_lot_movement(payload: Any) -> LotMovement:
    obj = _load(payload, _LOT_FIELDS)
    move = LotMovement(
        gateway=_id(obj, "gateway"),
        seq=_int(obj, "seq", 0, MAX_SEQ),
        event=_text(obj, "event", 16, LOT_EVENTS),
        beacon=_text(obj, "beacon", MAX_BEACON_LEN),
        mode=_text(obj, "mode", 16, MODES),
        at=_int(obj, "at", 0, MAX_SEQ),
        first_seen=_int(obj, "first_seen", 0, MAX_SEQ),
        rssi=_int(obj, "rssi", -127, 20, nullable=True),
        sightings=_int(obj, "sightings", 0, MAX_SEQ),
        position=_position(obj["position"]),
    )
    if obj["key"] != move.key:
        raise MalformedMessage(
            "key_mismatch", "key is not the digest of gateway, seq, event, beacon"
        )
    return move


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    """A reader message the gateway could not accept, forwarded instead of dropped."""

    gateway: str
    topic: str  # the local topic it came on (cut to 200 characters)
    reason: str  # the MalformedMessage reason code, or a gateway code (device_mismatch)
    detail: str
    payload: bytes  # the first MAX_EVIDENCE_BYTES bytes as received
    size: int  # the full size received
    received: int  # gateway clock, ms Unix

    @property
    def key(self) -> str:
        # the content only: a QoS 1 redelivery of the same bytes is the same evidence
        return _digest("evidence", self.gateway, self.topic, self.payload.hex(), str(self.size))


_EVIDENCE_FIELDS = (
    "v", "gateway", "topic", "reason", "detail", "payload", "size", "received", "key",
)  # fmt: skip


def make_evidence(
    gateway: str, topic: str, reason: str, detail: str, raw: bytes, now_ms: int
) -> Evidence:
    return Evidence(
        gateway,
        topic[:200],
        reason[:40],
        detail[:200],
        bytes(raw[:MAX_EVIDENCE_BYTES]),
        len(raw),
        now_ms,
    )


def encode_evidence(ev: Evidence) -> bytes:
    return _dump(
        {
            "v": VERSION,
            "gateway": ev.gateway,
            "topic": ev.topic,
            "reason": ev.reason,
            "detail": ev.detail,
            "payload": base64.b64encode(ev.payload).decode("ascii"),
            "size": ev.size,
            "received": ev.received,
            "key": ev.key,
        }
    )


def decode_evidence(payload: Any) -> Evidence:
    obj = _load(payload, _EVIDENCE_FIELDS)
    try:
        raw = base64.b64decode(_text_or_empty(obj, "payload"), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedMessage("bad_field", "payload must be base64") from None
    if len(raw) > MAX_EVIDENCE_BYTES:
        raise MalformedMessage("bad_field", "payload longer than the evidence limit")
    ev = Evidence(
        gateway=_id(obj, "gateway"),
        topic=_text(obj, "topic", 200),
        reason=_text(obj, "reason", 40),
        detail=_text_or_empty(obj, "detail"),
        payload=raw,
        size=_int(obj, "size", 0, MAX_SEQ),
        received=_int(obj, "received", 0, MAX_SEQ),
    )
    if obj["key"] != ev.key:
        raise MalformedMessage("key_mismatch", "key is not the digest of the evidence")
    return ev


def _text_or_empty(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str) or len(value) > 4096:
        raise MalformedMessage("bad_field", f"{name} must be text")
    return value


# ---------------------------------------------------------------- sighting (dedup)


@dataclass(frozen=True)
class Witness:
    device: str
    seq: int
    key: str  # the scan's idempotency key
    rssi: int | None


@dataclass(frozen=True)
class Sighting:
    """One tag seen by one or more readers within the dedup window."""

    gateway: str
    kind: str
    data: str
    first: int  # gateway clock, ms
    last: int
    witnesses: tuple[Witness, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return _digest("sighting", self.kind, self.data, *sorted(w.key for w in self.witnesses))


def encode_sighting(s: Sighting) -> bytes:
    return _dump(
        {
            "v": VERSION,
            "gateway": s.gateway,
            "kind": s.kind,
            "data": s.data,
            "first": s.first,
            "last": s.last,
            "witnesses": [
                {"device": w.device, "seq": w.seq, "key": w.key, "rssi": w.rssi}
                for w in s.witnesses
            ],
            "key": s.key,
        }
    )


# ---------------------------------------------------------------- health


def encode_health(health: dict[str, Any]) -> bytes:
    """The gateway's detailed health (retained); field meanings in docs/gateway.md."""
    return _dump({"v": VERSION, **health})
