"""BLE advertisements of Réemploi lot beacons: AD structures, iBeacon, Eddystone UID/TLM.

Pure code in the subset both CPython and MicroPython run. The reader firmware feeds raw
advertising data (``parse_advertising_data``); the gateway gets bleak's already split
``manufacturer_data`` / ``service_data`` values and calls ``parse_ibeacon`` /
``parse_eddystone`` directly. Every decoder raises :class:`MalformedFrame` (stable
``reason`` code) on bad input; nothing else may escape (checked by a fuzz test).

Frames (see ``docs/protocol.md`` and ``tests/vectors/ble.json``):

* iBeacon: manufacturer data of company ``0x004C``; the value after the company id is
  ``02 15 <uuid 16> <major BE16> <minor BE16> <tx int8>`` (23 bytes).
* Eddystone: service data of UUID ``0xFEAA``; UID frame
  ``00 <tx@0m int8> <namespace 10> <instance 6> [00 00]``; TLM frame
  ``20 00 <mV BE16> <temp 8.8 signed> <adv count BE32> <uptime BE32, 0.1 s ticks>``.
"""

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated
    pass

try:
    from binascii import hexlify
except ImportError:  # pragma: no cover
    from ubinascii import hexlify  # type: ignore[no-redef]

AD_FLAGS = 0x01
AD_UUID16_INCOMPLETE = 0x02
AD_UUID16_COMPLETE = 0x03
AD_SHORT_NAME = 0x08
AD_COMPLETE_NAME = 0x09
AD_TX_POWER = 0x0A
AD_SERVICE_DATA_16 = 0x16
AD_MANUFACTURER = 0xFF

COMPANY_APPLE = 0x004C
EDDYSTONE_UUID = 0xFEAA
EDDYSTONE_UUID_TEXT = "0000feaa-0000-1000-8000-00805f9b34fb"  # bleak's service_data key

FRAME_UID = 0x00
FRAME_TLM = 0x20

MAX_ADV_BYTES = 255  # extended advertising tops out far below; legacy is 31


class MalformedFrame(Exception):
    """A radio neighbour sent bytes that are not a frame we understand.

    ``reason``: ``not_bytes``, ``truncated``, ``too_large``, ``not_ibeacon``,
    ``not_eddystone``, ``unknown_frame``, ``bad_length``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


def _as_bytes(data: Any) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedFrame("not_bytes", "expected bytes")
    return bytes(data)


def hex_upper(data: Any) -> str:
    return hexlify(bytes(data)).decode().upper()


def _be16(data: bytes, i: int) -> int:
    return (data[i] << 8) | data[i + 1]


def _be32(data: bytes, i: int) -> int:
    return (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]


def _int8(value: int) -> int:
    return value - 256 if value > 127 else value


class Advertisement:
    """The parts of one advertising payload that beacons use.

    ``manufacturer`` maps company id → bytes after the id; ``service_data`` maps a 16-bit
    service UUID → bytes after the UUID. Same shape as bleak's ``AdvertisementData``.
    """

    def __init__(self) -> None:
        self.manufacturer: dict[int, bytes] = {}
        self.service_data: dict[int, bytes] = {}
        self.name: Any = None
        self.tx_power: Any = None


def parse_advertising_data(adv: Any) -> Advertisement:
    """Split raw advertising (or scan response) data into its AD structures."""
    data = _as_bytes(adv)
    if len(data) > MAX_ADV_BYTES:
        raise MalformedFrame("too_large", str(len(data)) + " bytes")
    out = Advertisement()
    i = 0
    n = len(data)
    while i < n:
        length = data[i]
        if length == 0:  # early terminator: the rest is padding
            break
        if i + 1 + length > n:
            raise MalformedFrame("truncated", "AD structure runs past the payload")
        ad_type = data[i + 1]
        value = data[i + 2 : i + 1 + length]
        if ad_type == AD_MANUFACTURER:
            if len(value) < 2:
                raise MalformedFrame("truncated", "manufacturer data without a company id")
            out.manufacturer[value[0] | (value[1] << 8)] = value[2:]
        elif ad_type == AD_SERVICE_DATA_16:
            if len(value) < 2:
                raise MalformedFrame("truncated", "service data without a UUID")
            out.service_data[value[0] | (value[1] << 8)] = value[2:]
        elif ad_type in (AD_SHORT_NAME, AD_COMPLETE_NAME):
            try:
                out.name = value.decode("utf-8")
            except Exception:
                out.name = None  # a bad name is no reason to drop a beacon
        elif ad_type == AD_TX_POWER and len(value) == 1:
            out.tx_power = _int8(value[0])
        i += 1 + length
    return out


# ---------------------------------------------------------------- iBeacon


class IBeacon:
    def __init__(self, uuid: bytes, major: int, minor: int, tx_power: int) -> None:
        self.uuid = uuid  # 16 bytes
        self.major = major
        self.minor = minor
        self.tx_power = tx_power  # dBm at 1 m

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, IBeacon)
            and self.identity() == other.identity()
            and (self.tx_power == other.tx_power)
        )

    def identity(self) -> str:
        """A stable text id of this beacon (for rate limiting and logs)."""
        return "ib:" + hex_upper(self.uuid) + ":" + str(self.major) + ":" + str(self.minor)


def parse_ibeacon(value: Any) -> IBeacon:
    """Decode Apple manufacturer data (after the company id) as an iBeacon."""
    data = _as_bytes(value)
    if len(data) < 2 or data[0] != 0x02 or data[1] != 0x15:
        raise MalformedFrame("not_ibeacon", "does not start with 02 15")
    if len(data) != 23:
        raise MalformedFrame("bad_length", "iBeacon frame is 23 bytes, got " + str(len(data)))
    return IBeacon(data[2:18], _be16(data, 18), _be16(data, 20), _int8(data[22]))


def encode_ibeacon(beacon: IBeacon) -> bytes:
    if len(beacon.uuid) != 16:
        raise MalformedFrame("bad_length", "iBeacon UUID is 16 bytes")
    return (
        b"\x02\x15"
        + bytes(beacon.uuid)
        + bytes((beacon.major >> 8, beacon.major & 0xFF, beacon.minor >> 8, beacon.minor & 0xFF))
        + bytes((beacon.tx_power & 0xFF,))
    )


# ---------------------------------------------------------------- Eddystone


class EddystoneUid:
    def __init__(self, tx_power: int, namespace: bytes, instance: bytes) -> None:
        self.tx_power = tx_power  # dBm at 0 m
        self.namespace = namespace  # 10 bytes
        self.instance = instance  # 6 bytes

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EddystoneUid)
            and self.tx_power == other.tx_power
            and self.namespace == other.namespace
            and self.instance == other.instance
        )

    def identity(self) -> str:
        return "eu:" + hex_upper(self.namespace) + ":" + hex_upper(self.instance)


class EddystoneTlm:
    def __init__(self, voltage_mv: int, temperature: int, adv_count: int, uptime_ds: int) -> None:
        self.voltage_mv = voltage_mv  # 0 = not supported by the beacon
        self.temperature = temperature  # signed 8.8 fixed point, in 1/256 °C
        self.adv_count = adv_count
        self.uptime_ds = uptime_ds  # tenths of a second since power-up

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, EddystoneTlm)
            and self.voltage_mv == other.voltage_mv
            and self.temperature == other.temperature
            and self.adv_count == other.adv_count
            and self.uptime_ds == other.uptime_ds
        )

    def temperature_c(self) -> float:
        return self.temperature / 256


def parse_eddystone(value: Any) -> Any:
    """Decode 0xFEAA service data (after the UUID): an EddystoneUid or EddystoneTlm."""
    data = _as_bytes(value)
    if not data:
        raise MalformedFrame("truncated", "empty Eddystone frame")
    frame = data[0]
    if frame == FRAME_UID:
        if len(data) not in (18, 20):
            raise MalformedFrame("bad_length", "UID frame is 18 or 20 bytes, got " + str(len(data)))
        return EddystoneUid(_int8(data[1]), data[2:12], data[12:18])
    if frame == FRAME_TLM:
        if len(data) != 14:
            raise MalformedFrame("bad_length", "TLM frame is 14 bytes, got " + str(len(data)))
        if data[1] != 0x00:
            raise MalformedFrame("unknown_frame", "TLM version " + str(data[1]))
        temp = _be16(data, 4)
        if temp >= 0x8000:
            temp -= 0x10000
        return EddystoneTlm(_be16(data, 2), temp, _be32(data, 6), _be32(data, 10))
    raise MalformedFrame("unknown_frame", "Eddystone frame type " + str(frame))


def encode_eddystone_uid(uid: EddystoneUid) -> bytes:
    if len(uid.namespace) != 10 or len(uid.instance) != 6:
        raise MalformedFrame("bad_length", "namespace 10 bytes, instance 6 bytes")
    return (
        bytes((FRAME_UID, uid.tx_power & 0xFF))
        + bytes(uid.namespace)
        + bytes(uid.instance)
        + b"\x00\x00"
    )


def encode_eddystone_tlm(tlm: EddystoneTlm) -> bytes:
    t = tlm.temperature & 0xFFFF
    out = bytearray((FRAME_TLM, 0, tlm.voltage_mv >> 8, tlm.voltage_mv & 0xFF, t >> 8, t & 0xFF))
    for value in (tlm.adv_count, tlm.uptime_ds):
        out += bytes((value >> 24 & 0xFF, value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF))
    return bytes(out)


# ---------------------------------------------------------------- advertising payloads


def advertising_payload(
    manufacturer: Any = None, service_data: Any = None, name: Any = None
) -> bytes:
    """Build legacy advertising data (flags first) — for simulated beacons and tests."""
    out = bytearray(b"\x02\x01\x06")
    if name:
        raw = name.encode("utf-8")
        out += bytes((len(raw) + 1, AD_COMPLETE_NAME)) + raw
    if manufacturer:
        for company, value in manufacturer.items():
            out += bytes((len(value) + 3, AD_MANUFACTURER, company & 0xFF, company >> 8)) + bytes(
                value
            )
    if service_data:
        for uuid, value in service_data.items():
            out += bytes((3, AD_UUID16_COMPLETE, uuid & 0xFF, uuid >> 8))
            out += bytes((len(value) + 3, AD_SERVICE_DATA_16, uuid & 0xFF, uuid >> 8)) + bytes(
                value
            )
    return bytes(out)


def beacon_frame(adv: Advertisement) -> Any:
    """The one beacon frame an advertisement carries, as ``(kind, frame_bytes)`` or None.

    ``kind`` is the wire ``ble_ibeacon`` / ``ble_eddystone`` and ``frame_bytes`` what the
    scan message carries in hex. Apple data that is not an iBeacon is ignored (phones
    send plenty of it); malformed iBeacon/Eddystone frames raise MalformedFrame.
    """
    value = adv.manufacturer.get(COMPANY_APPLE)
    if value is not None and len(value) >= 2 and value[0] == 0x02 and value[1] == 0x15:
        parse_ibeacon(value)
        return ("ble_ibeacon", value)
    value = adv.service_data.get(EDDYSTONE_UUID)
    if value is not None:
        parse_eddystone(value)
        return ("ble_eddystone", value)
    return None
