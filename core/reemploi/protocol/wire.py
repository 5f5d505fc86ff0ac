"""Réemploi wire protocol v1: MQTT topics and the five JSON messages.

Pure code, bytes in and objects out, written in the subset of Python that both CPython
and MicroPython run (no dataclasses, no typing at run time, no f-strings with ``=``).
The firmware, the gateway and the server import this same file.

Every decoder raises :class:`MalformedMessage` (with a stable ``reason`` code) on any
bad input; nothing else may escape. Messages over :data:`MAX_MESSAGE_BYTES` are refused
before they are parsed. Encoders write fields in a fixed order with a JSON writer of our
own, so the bytes are identical under both interpreters (see ``tests/vectors/wire.json``).
"""

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated
    pass

import hashlib
import json

try:
    from binascii import hexlify
except ImportError:  # pragma: no cover - every port we target has binascii
    from ubinascii import hexlify  # type: ignore[no-redef]

VERSION = 1
TOPIC_ROOT = "reemploi/v1"
MAX_MESSAGE_BYTES = 4096
MAX_SEQ = 9007199254740991  # 2**53 - 1: exact in every JSON implementation
MAX_ID_LEN = 40

TOPIC_KINDS = ("scan", "status", "ack", "cmd", "report")

# Tag kinds a reader reports, with the shape of ``data`` for each.
KIND_NFC_UID = "nfc_uid"  # hex UID, 4, 7 or 10 bytes
KIND_NDEF_URI = "ndef_uri"  # the URI of an NDEF URI record (NTAG21x)
KIND_SUN_URL = "sun_url"  # NTAG 424 DNA SUN URL, verified on the server only
KIND_BLE_IBEACON = "ble_ibeacon"  # hex of manufacturer data after the company id 0x004C
KIND_BLE_EDDYSTONE = "ble_eddystone"  # hex of the 0xFEAA service data (UID or TLM frame)
KIND_QR = "qr"  # text read from a printed label
TAG_KINDS = (
    KIND_NFC_UID,
    KIND_NDEF_URI,
    KIND_SUN_URL,
    KIND_BLE_IBEACON,
    KIND_BLE_EDDYSTONE,
    KIND_QR,
)

RESULT_ACCEPTED = "accepted"
RESULT_REJECTED = "rejected"
RESULT_UNKNOWN_TAG = "unknown_tag"
ACK_RESULTS = (RESULT_ACCEPTED, RESULT_REJECTED, RESULT_UNKNOWN_TAG)

# Feedback the reader plays; "queued" is decided on the device when no ack comes.
FEEDBACK_FOR_RESULT = {
    RESULT_ACCEPTED: "accept",
    RESULT_REJECTED: "refuse",
    RESULT_UNKNOWN_TAG: "unknown",
}
FEEDBACK_PATTERNS = ("accept", "refuse", "unknown", "queued")

STATE_ONLINE = "online"
STATE_OFFLINE = "offline"

COMMANDS = ("reboot", "identify", "set", "report")

_HEX = "0123456789ABCDEF"
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_ID_SET = set(_ID_CHARS)
_COUNTER_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
MAX_COUNTER_NAME = 40


class MalformedMessage(Exception):
    """The outside world sent something that is not protocol v1.

    ``reason`` is a stable machine code (``too_large``, ``bad_json``, ``bad_field`` …);
    the message says in plain words what was wrong.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- topics


def valid_id(value: Any) -> bool:
    """A site or device id: 1-40 of ``a-z 0-9 -``, not starting with ``-``."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LEN:
        return False
    if value[0] == "-":
        return False
    return set(value) <= _ID_SET  # one C-level pass on both interpreters


def topic(site: str, device: str, kind: str) -> str:
    """``reemploi/v1/<site>/<device>/<kind>``; refuses ids that would break the tree."""
    if not valid_id(site):
        raise MalformedMessage("bad_topic", "site id " + repr(site))
    if not valid_id(device):
        raise MalformedMessage("bad_topic", "device id " + repr(device))
    if kind not in TOPIC_KINDS:
        raise MalformedMessage("bad_topic", "kind " + repr(kind))
    return TOPIC_ROOT + "/" + site + "/" + device + "/" + kind


def parse_topic(name: Any) -> tuple[str, str, str]:
    """Split a topic into ``(site, device, kind)``."""
    if not isinstance(name, str):
        raise MalformedMessage("bad_topic", "topic is not text")
    parts = name.split("/")
    if len(parts) != 5 or parts[0] + "/" + parts[1] != TOPIC_ROOT:
        raise MalformedMessage("bad_topic", "not under " + TOPIC_ROOT + "/<site>/<device>/<kind>")
    site, device, kind = parts[2], parts[3], parts[4]
    if not valid_id(site) or not valid_id(device) or kind not in TOPIC_KINDS:
        raise MalformedMessage("bad_topic", name[:120])
    return site, device, kind


# ---------------------------------------------------------------- JSON writer


_FAST_TEXT = hasattr("", "isprintable")  # CPython: skip the per-character loop


def _json_str(text: str) -> str:
    if _FAST_TEXT and '"' not in text and "\\" not in text and text.isprintable():
        return '"' + text + '"'  # nothing to escape: the loop below would copy it as is
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append("\\u00" + _HEX[code >> 4] + _HEX[code & 15])
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _json_str(value)
    if isinstance(value, dict):
        keys = sorted(value.keys())
        return "{" + ",".join(_json_str(k) + ":" + _json_value(value[k]) for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    raise MalformedMessage("bad_field", "cannot encode " + str(type(value)))


def _encode(pairs: list[tuple[str, Any]]) -> bytes:
    body = "{" + ",".join(_json_str(k) + ":" + _json_value(v) for k, v in pairs) + "}"
    data = body.encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedMessage("too_large", str(len(data)) + " bytes")
    return data


# ---------------------------------------------------------------- JSON reader


def _load(payload: Any, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise MalformedMessage("bad_json", "payload is not bytes")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(
            "too_large", str(len(payload)) + " bytes > " + str(MAX_MESSAGE_BYTES)
        )
    try:
        text = bytes(payload).decode("utf-8")
    except Exception:
        raise MalformedMessage("bad_encoding", "payload is not UTF-8") from None
    try:
        obj = json.loads(text)
    except Exception:
        raise MalformedMessage("bad_json", "payload is not JSON") from None
    if not isinstance(obj, dict):
        raise MalformedMessage("bad_json", "payload is not a JSON object")
    for key in obj:
        if key not in allowed:
            raise MalformedMessage("unexpected_field", str(key)[:40])
    for key in required:
        if key not in obj:
            raise MalformedMessage("missing_field", key)
    if not _is_int(obj["v"]) or obj["v"] != VERSION:
        raise MalformedMessage("bad_version", "v must be 1")
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and value is not True and value is not False


def _int(obj: dict[str, Any], key: str, low: int, high: int, nullable: bool = False) -> Any:
    value: Any = obj.get(key)
    if value is None and nullable:
        return None
    if not _is_int(value) or value < low or value > high:
        raise MalformedMessage(
            "bad_field", key + " must be an integer in " + str(low) + ".." + str(high)
        )
    return value


def _text(obj: dict[str, Any], key: str, max_len: int, nullable: bool = False) -> Any:
    value = obj.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise MalformedMessage(
            "bad_field", key + " must be text of 1.." + str(max_len) + " characters"
        )
    return value


def _device(obj: dict[str, Any]) -> str:
    value = obj.get("device")
    if not valid_id(value):
        raise MalformedMessage("bad_field", "device must be 1-40 characters of a-z 0-9 -")
    return str(value)


def _is_hex(text: str) -> bool:
    for ch in text:
        if ch not in _HEX:
            return False
    return True


def check_tag_data(kind: str, data: Any) -> None:
    """Raise :class:`MalformedMessage` unless ``data`` has the shape ``kind`` requires."""
    if kind not in TAG_KINDS:
        raise MalformedMessage("bad_field", "kind must be one of " + ", ".join(TAG_KINDS))
    if not isinstance(data, str) or not data:
        raise MalformedMessage("bad_field", "data must be non-empty text")
    if kind == KIND_NFC_UID:
        if len(data) not in (8, 14, 20) or not _is_hex(data):
            raise MalformedMessage(
                "bad_field", "nfc_uid must be 4, 7 or 10 bytes in upper-case hex"
            )
    elif kind == KIND_BLE_IBEACON:
        if len(data) != 46 or not _is_hex(data) or data[:4] != "0215":
            raise MalformedMessage(
                "bad_field", "ble_ibeacon must be the 23-byte 0215… frame in hex"
            )
    elif kind == KIND_BLE_EDDYSTONE:
        if len(data) % 2 or not 4 <= len(data) <= 40 or not _is_hex(data):
            raise MalformedMessage(
                "bad_field", "ble_eddystone must be 2-20 bytes in upper-case hex"
            )
    elif kind in (KIND_NDEF_URI, KIND_SUN_URL):
        if len(data) > 2048 or not (data.startswith("https://") or data.startswith("http://")):
            raise MalformedMessage(
                "bad_field", kind + " must be an http(s) URI of at most 2048 characters"
            )
    elif len(data) > 2048:
        raise MalformedMessage("bad_field", "qr text longer than 2048 characters")


# ---------------------------------------------------------------- scan


def idempotency_key(device: str, seq: int, kind: str, data: str) -> str:
    """128-bit key of a scan's content: the same reading always gets the same key."""
    material = "v1\n" + device + "\n" + str(seq) + "\n" + kind + "\n" + data
    digest = hashlib.sha256(material.encode("utf-8")).digest()
    return hexlify(digest[:16]).decode()


class Scan:
    """One reading of one tag by one reader."""

    def __init__(
        self,
        device: str,
        seq: int,
        kind: str,
        data: str,
        rssi: Any = None,
        clock: Any = None,
    ) -> None:
        self.device = device
        self.seq = seq
        self.kind = kind
        self.data = data
        self.rssi = rssi  # dBm for BLE, None for NFC/QR
        self.clock = clock  # device clock, Unix time in ms, None when not synchronised
        self.key = idempotency_key(device, seq, kind, data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scan) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return "Scan(" + self.device + ", " + str(self.seq) + ", " + self.kind + ")"

    def fields(self) -> list[tuple[str, Any]]:
        return [
            ("v", VERSION),
            ("device", self.device),
            ("seq", self.seq),
            ("kind", self.kind),
            ("data", self.data),
            ("rssi", self.rssi),
            ("clock", self.clock),
            ("key", self.key),
        ]


_SCAN_FIELDS = ("v", "device", "seq", "kind", "data", "rssi", "clock", "key")


def encode_scan(scan: Scan) -> bytes:
    if not valid_id(scan.device):
        raise MalformedMessage("bad_field", "device id")
    check_tag_data(scan.kind, scan.data)
    return _encode(scan.fields())


def decode_scan(payload: Any) -> Scan:
    obj = _load(payload, _SCAN_FIELDS, ("v", "device", "seq", "kind", "data", "key"))
    device = _device(obj)
    seq = _int(obj, "seq", 0, MAX_SEQ)
    kind = obj["kind"]
    data = obj["data"]
    check_tag_data(kind, data)
    rssi = _int(obj, "rssi", -127, 20, True)
    clock = _int(obj, "clock", 0, MAX_SEQ, True)
    scan = Scan(device, seq, kind, data, rssi, clock)
    if obj["key"] != scan.key:
        raise MalformedMessage("key_mismatch", "key is not the digest of device, seq, kind, data")
    return scan


# ---------------------------------------------------------------- status


class Status:
    """A reader's or gateway's health, published retained; ``offline`` is the last will."""

    def __init__(
        self,
        device: str,
        state: str = STATE_ONLINE,
        fw: Any = None,
        uptime: Any = None,
        heap: Any = None,
        queue: Any = None,
        drops: Any = None,
        wifi_rssi: Any = None,
        reset: Any = None,
        clock: Any = None,
    ) -> None:
        self.device = device
        self.state = state
        self.fw = fw  # firmware version text
        self.uptime = uptime  # seconds
        self.heap = heap  # free bytes
        self.queue = queue  # scans waiting for an ack
        self.drops = drops  # scans dropped since boot (queue overflow)
        self.wifi_rssi = wifi_rssi
        self.reset = reset  # reset cause text
        self.clock = clock

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Status) and self.fields() == other.fields()

    def fields(self) -> list[tuple[str, Any]]:
        pairs: list[tuple[str, Any]] = [
            ("v", VERSION),
            ("device", self.device),
            ("state", self.state),
        ]
        if self.state == STATE_OFFLINE:
            return pairs
        return pairs + [
            ("fw", self.fw),
            ("uptime", self.uptime),
            ("heap", self.heap),
            ("queue", self.queue),
            ("drops", self.drops),
            ("wifi_rssi", self.wifi_rssi),
            ("reset", self.reset),
            ("clock", self.clock),
        ]


_STATUS_FIELDS = (
    "v",
    "device",
    "state",
    "fw",
    "uptime",
    "heap",
    "queue",
    "drops",
    "wifi_rssi",
    "reset",
    "clock",
)


def encode_status(status: Status) -> bytes:
    return _encode(status.fields())


def offline_status(device: str) -> bytes:
    """The last-will payload a device registers when it connects."""
    return encode_status(Status(device, STATE_OFFLINE))


def decode_status(payload: Any) -> Status:
    obj = _load(payload, _STATUS_FIELDS, ("v", "device", "state"))
    device = _device(obj)
    state = obj["state"]
    if state not in (STATE_ONLINE, STATE_OFFLINE):
        raise MalformedMessage("bad_field", "state must be online or offline")
    return Status(
        device,
        state,
        _text(obj, "fw", 32, True),
        _int(obj, "uptime", 0, MAX_SEQ, True),
        _int(obj, "heap", 0, MAX_SEQ, True),
        _int(obj, "queue", 0, MAX_SEQ, True),
        _int(obj, "drops", 0, MAX_SEQ, True),
        _int(obj, "wifi_rssi", -127, 20, True),
        _text(obj, "reset", 32, True),
        _int(obj, "clock", 0, MAX_SEQ, True),
    )


# ---------------------------------------------------------------- ack


class Ack:
    """The platform's answer to one scan; ``feedback`` is what the reader plays."""

    def __init__(
        self,
        seq: int,
        key: str,
        result: str,
        reason: Any = None,
        duplicate: bool = False,
    ) -> None:
        self.seq = seq
        self.key = key
        self.result = result
        self.reason = reason  # stable code, None when accepted
        self.duplicate = duplicate  # True when this scan had already been received
        self.feedback = FEEDBACK_FOR_RESULT.get(result, "refuse")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ack) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return "Ack(" + str(self.seq) + ", " + self.result + ", " + str(self.reason) + ")"

    def fields(self) -> list[tuple[str, Any]]:
        return [
            ("v", VERSION),
            ("seq", self.seq),
            ("key", self.key),
            ("result", self.result),
            ("reason", self.reason),
            ("feedback", self.feedback),
            ("duplicate", self.duplicate),
        ]


_ACK_FIELDS = ("v", "seq", "key", "result", "reason", "feedback", "duplicate")


def encode_ack(ack: Ack) -> bytes:
    # The server encodes one ack per scan: the usual shapes are written straight out, in
    # the field order of Ack.fields() (same bytes as _encode, checked by the tests).
    seq, key, result, reason, duplicate = ack.seq, ack.key, ack.result, ack.reason, ack.duplicate
    if (
        type(seq) is int
        and type(key) is str
        and type(result) is str
        and (reason is None or type(reason) is str)
        and (duplicate is True or duplicate is False)
    ):
        data = (
            '{"v":'
            + str(VERSION)
            + ',"seq":'
            + str(seq)
            + ',"key":'
            + _json_str(key)
            + ',"result":'
            + _json_str(result)
            + ',"reason":'
            + ("null" if reason is None else _json_str(reason))
            + ',"feedback":'
            + _json_str(ack.feedback)
            + ',"duplicate":'
            + ("true" if duplicate else "false")
            + "}"
        ).encode("utf-8")
        if len(data) <= MAX_MESSAGE_BYTES:
            return data
    return _encode(ack.fields())


def decode_ack(payload: Any) -> Ack:
    obj = _load(payload, _ACK_FIELDS, _ACK_FIELDS)
    seq = _int(obj, "seq", 0, MAX_SEQ)
    key = obj["key"]
    if not isinstance(key, str) or len(key) != 32:
        raise MalformedMessage("bad_field", "key must be 32 hex characters")
    result = obj["result"]
    if result not in ACK_RESULTS:
        raise MalformedMessage("bad_field", "result must be one of " + ", ".join(ACK_RESULTS))
    reason = _text(obj, "reason", 40, True)
    duplicate = obj["duplicate"]
    if duplicate is not True and duplicate is not False:
        raise MalformedMessage("bad_field", "duplicate must be true or false")
    ack = Ack(seq, key, result, reason, duplicate)
    if obj["feedback"] != ack.feedback:
        raise MalformedMessage("bad_field", "feedback does not match result")
    return ack


# ---------------------------------------------------------------- cmd


class Command:
    """An order to a device: ``reboot``, ``identify``, ``set`` (args) or ``report``."""

    def __init__(self, id: str, cmd: str, args: Any = None) -> None:
        self.id = id
        self.cmd = cmd
        self.args = args if args is not None else {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Command) and self.fields() == other.fields()

    def fields(self) -> list[tuple[str, Any]]:
        return [("v", VERSION), ("id", self.id), ("cmd", self.cmd), ("args", self.args)]


def encode_command(command: Command) -> bytes:
    return _encode(command.fields())


def decode_command(payload: Any) -> Command:
    obj = _load(payload, ("v", "id", "cmd", "args"), ("v", "id", "cmd"))
    ident = _text(obj, "id", 64)
    cmd = obj["cmd"]
    if cmd not in COMMANDS:
        raise MalformedMessage("bad_field", "cmd must be one of " + ", ".join(COMMANDS))
    args = obj.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise MalformedMessage("bad_field", "args must be an object")
    for name, value in args.items():
        if not valid_id(name.replace("_", "-")) or not (
            value is None or isinstance(value, (str, int, bool))
        ):
            raise MalformedMessage("bad_field", "args must map names to text, numbers or booleans")
    return Command(ident, cmd, args)


# ---------------------------------------------------------------- report


def valid_counter_name(value: Any) -> bool:
    """A counter name in a report: 1-40 of ``a-z 0-9 _``."""
    if not isinstance(value, str) or not value or len(value) > MAX_COUNTER_NAME:
        return False
    for ch in value:
        if ch not in _COUNTER_CHARS:
            return False
    return True


def check_counters(counters: Any) -> None:
    """Raise :class:`MalformedMessage` unless ``counters`` maps counter names to integers
    in ``0..MAX_SEQ``."""
    if not isinstance(counters, dict):
        raise MalformedMessage("bad_field", "counters must be an object")
    for name, value in counters.items():
        if not valid_counter_name(name):
            raise MalformedMessage("bad_field", "counter names are 1-40 characters of a-z 0-9 _")
        if not _is_int(value) or value < 0 or value > MAX_SEQ:
            raise MalformedMessage("bad_field", "counter " + name + " must be an integer >= 0")


class Report:
    """A reader's error counters, its answer to the ``report`` command (retained).

    ``id`` is the id of the command it answers (None when the reader sent it by itself).
    """

    def __init__(self, device: str, counters: Any, id: Any = None, clock: Any = None) -> None:
        self.device = device
        self.id = id
        self.counters = counters  # name -> count since boot
        self.clock = clock  # device clock, Unix time in ms, None when not synchronised

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Report) and self.fields() == other.fields()

    def __repr__(self) -> str:
        return "Report(" + self.device + ", " + str(self.id) + ")"

    def fields(self) -> list[tuple[str, Any]]:
        return [
            ("v", VERSION),
            ("device", self.device),
            ("id", self.id),
            ("counters", self.counters),
            ("clock", self.clock),
        ]


_REPORT_FIELDS = ("v", "device", "id", "counters", "clock")


def encode_report(report: Report) -> bytes:
    """Counters are written sorted by name, so the same counters give the same bytes."""
    if not valid_id(report.device):
        raise MalformedMessage("bad_field", "device id")
    if report.id is not None and (
        not isinstance(report.id, str) or not report.id or len(report.id) > 64
    ):
        raise MalformedMessage("bad_field", "id must be text of 1..64 characters")
    check_counters(report.counters)
    clock = report.clock
    if clock is not None and (not _is_int(clock) or clock < 0 or clock > MAX_SEQ):
        raise MalformedMessage("bad_field", "clock must be an integer in 0.." + str(MAX_SEQ))
    return _encode(report.fields())


def decode_report(payload: Any) -> Report:
    obj = _load(payload, _REPORT_FIELDS, ("v", "device", "counters"))
    device = _device(obj)
    ident = _text(obj, "id", 64, True)
    counters = obj["counters"]
    check_counters(counters)
    return Report(device, counters, ident, _int(obj, "clock", 0, MAX_SEQ, True))
