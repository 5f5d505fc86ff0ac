# MQTT 3.1.1 packets: bytes in, tuples out, no sockets (OASIS MQTT 3.1.1, chapter 3).
# Only what a reader needs: CONNECT/CONNACK, PUBLISH (QoS 0/1), PUBACK, SUBSCRIBE/SUBACK,
# PINGREQ/PINGRESP, DISCONNECT. Anything malformed from the broker raises
# MqttProtocolError and nothing else.
from reader.portable import const

CONNECT = const(1)
CONNACK = const(2)
PUBLISH = const(3)
PUBACK = const(4)
SUBSCRIBE = const(8)
SUBACK = const(9)
PINGREQ = const(12)
PINGRESP = const(13)
DISCONNECT = const(14)

MAX_PACKET = const(8192)  # larger packets from the broker are refused

# CONNACK return codes (3.1.1, table 3.1)
CONNACK_TEXT = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MqttProtocolError(Exception):
    """The broker sent bytes that are not MQTT 3.1.1 as we speak it."""


def _utf8(text):
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(raw) > 0xFFFF:
        raise ValueError("MQTT string longer than 65535 bytes")
    return bytes((len(raw) >> 8, len(raw) & 0xFF)) + raw


def _remaining_length(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _packet(first, body):
    return bytes((first,)) + _remaining_length(len(body)) + body


def connect(client_id, keepalive, user=None, password=None, will_topic=None,
            will_payload=b"", will_retain=True, will_qos=1, clean_session=True):
    flags = 0x02 if clean_session else 0
    payload = _utf8(client_id)
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _utf8(will_topic) + _utf8(will_payload)
    if user is not None:
        flags |= 0x80
        payload += _utf8(user)
        if password is not None:
            flags |= 0x40
            payload += _utf8(password)
    head = _utf8("MQTT") + bytes((4, flags, keepalive >> 8, keepalive & 0xFF))
    return _packet(CONNECT << 4, head + payload)


def publish(topic, payload, qos=0, retain=False, dup=False, packet_id=0):
    first = (PUBLISH << 4) | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = _utf8(topic)
    if qos:
        body += bytes((packet_id >> 8, packet_id & 0xFF))
    return _packet(first, body + bytes(payload))


def puback(packet_id):
    return bytes((PUBACK << 4, 2, packet_id >> 8, packet_id & 0xFF))


def subscribe(packet_id, topics):
    body = bytes((packet_id >> 8, packet_id & 0xFF))
    for name, qos in topics:
        body += _utf8(name) + bytes((qos,))
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def pingreq():
    return b"\xc0\x00"


def disconnect():
    return b"\xe0\x00"


def decode_remaining_length(read_byte):
    """Decode the variable-length field; ``read_byte()`` returns the next byte as int."""
    value = 0
    shift = 0
    for _ in range(4):
        byte = read_byte()
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value > MAX_PACKET:
                raise MqttProtocolError("packet of " + str(value) + " bytes is too large")
            return value
        shift += 7
    raise MqttProtocolError("remaining length longer than 4 bytes")


def parse(first, body) -> tuple:
    """Decode one packet from the broker into a tuple whose first item is its type:

    (CONNACK, session_present, return_code) · (PUBLISH, topic, payload, qos, packet_id,
    retain, dup) · (PUBACK, packet_id) · (SUBACK, packet_id, granted_list) ·
    (PINGRESP,)
    """
    kind = first >> 4
    n = len(body)
    if kind == PUBLISH:
        qos = (first >> 1) & 3
        if qos == 3:
            raise MqttProtocolError("PUBLISH with QoS 3")
        if n < 2:
            raise MqttProtocolError("PUBLISH too short")
        tlen = (body[0] << 8) | body[1]
        pos = 2 + tlen
        if pos > n:
            raise MqttProtocolError("PUBLISH topic runs past the packet")
        try:
            topic = bytes(body[2:pos]).decode("utf-8")
        except Exception:
            raise MqttProtocolError("PUBLISH topic is not UTF-8") from None
        packet_id = 0
        if qos:
            if pos + 2 > n:
                raise MqttProtocolError("PUBLISH packet id missing")
            packet_id = (body[pos] << 8) | body[pos + 1]
            pos += 2
        return (PUBLISH, topic, bytes(body[pos:]), qos, packet_id, bool(first & 1), bool(first & 8))
    if kind == CONNACK:
        if n != 2:
            raise MqttProtocolError("CONNACK must be 2 bytes")
        return (CONNACK, bool(body[0] & 1), body[1])
    if kind == PUBACK:
        if n != 2:
            raise MqttProtocolError("PUBACK must be 2 bytes")
        return (PUBACK, (body[0] << 8) | body[1])
    if kind == SUBACK:
        if n < 3:
            raise MqttProtocolError("SUBACK too short")
        return (SUBACK, (body[0] << 8) | body[1], list(body[2:]))
    if kind == PINGRESP:
        if n:
            raise MqttProtocolError("PINGRESP with a body")
        return (PINGRESP,)
    raise MqttProtocolError("unexpected packet type " + str(kind))
