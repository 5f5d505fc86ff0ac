"""NDEF as found on Réemploi tags: Type 2 TLVs, Type 4 NDEF files, URI records.

Pure code in the subset both CPython and MicroPython run; the reader firmware, the
gateway and the server import this same file. Every decoder raises
:class:`MalformedNdef` (with a stable ``reason`` code) on any bad input; nothing else
may escape. Encoders exist so labels and simulated tags are built with the same rules
the readers decode with (see ``tests/vectors/ndef.json``).

Layout reminders (NFC Forum Type 2 Tag, NDEF 1.0, URI RTD):

* TLV: ``03 <len> <message> FE``; ``len`` is one byte, or ``FF <hi> <lo>`` when ≥ 255.
  ``00`` is a NULL TLV (no length), ``01``/``02``/``FD`` are skipped, ``FE`` ends.
* Record header: ``MB ME CF SR IL TNF(3)``, type length, payload length (1 byte when SR,
  else 4 bytes big-endian), id length when IL, then type, id, payload.
* URI record: TNF 1 (well known), type ``U``, payload ``<prefix code> <rest UTF-8>``.
* Type 4 NDEF file: ``<NLEN big-endian 16> <message>``.
"""

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated
    pass

MAX_MESSAGE_BYTES = 8192  # far more than any tag we read (NTAG216: 888 bytes)

TLV_NULL = 0x00
TLV_LOCK_CONTROL = 0x01
TLV_MEMORY_CONTROL = 0x02
TLV_NDEF = 0x03
TLV_PROPRIETARY = 0xFD
TLV_TERMINATOR = 0xFE

TNF_EMPTY = 0
TNF_WELL_KNOWN = 1

# URI identifier codes (NFC Forum URI RTD, table 3). Index = code.
URI_PREFIXES = (
    "",
    "http://www.",
    "https://www.",
    "http://",
    "https://",
    "tel:",
    "mailto:",
    "ftp://anonymous:anonymous@",
    "ftp://ftp.",
    "ftps://",
    "sftp://",
    "smb://",
    "nfs://",
    "ftp://",
    "dav://",
    "news:",
    "telnet://",
    "imap:",
    "rtsp://",
    "urn:",
    "pop:",
    "sip:",
    "sips:",
    "tftp:",
    "btspp://",
    "btl2cap://",
    "btgoep://",
    "tcpobex://",
    "irdaobex://",
    "file://",
    "urn:epc:id:",
    "urn:epc:tag:",
    "urn:epc:pat:",
    "urn:epc:raw:",
    "urn:epc:",
    "urn:nfc:",
)


class MalformedNdef(Exception):
    """A tag held something that is not the NDEF we expect.

    ``reason`` is a stable code: ``truncated``, ``no_ndef``, ``bad_record``,
    ``chunked``, ``bad_uri``, ``too_large``, ``not_bytes``.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason + (": " + detail if detail else ""))
        self.reason = reason
        self.detail = detail


class Record:
    """One NDEF record: type name format, type, id and payload bytes."""

    def __init__(self, tnf: int, type: bytes, payload: bytes, id: bytes = b"") -> None:
        self.tnf = tnf
        self.type = type
        self.payload = payload
        self.id = id

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Record)
            and self.tnf == other.tnf
            and self.type == other.type
            and self.payload == other.payload
            and self.id == other.id
        )

    def __repr__(self) -> str:
        return (
            "Record("
            + str(self.tnf)
            + ", "
            + repr(self.type)
            + ", "
            + str(len(self.payload))
            + " bytes)"
        )

    def is_uri(self) -> bool:
        return self.tnf == TNF_WELL_KNOWN and self.type == b"U"


def _as_bytes(data: Any) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedNdef("not_bytes", "expected bytes")
    return bytes(data)


# ---------------------------------------------------------------- Type 2 TLV


def message_from_tlv(area: Any) -> bytes:
    """The first NDEF message in a Type 2 tag's data area (page 4 onwards)."""
    data = _as_bytes(area)
    i = 0
    n = len(data)
    while i < n:
        tag = data[i]
        i += 1
        if tag == TLV_NULL:
            continue
        if tag == TLV_TERMINATOR:
            break
        if i >= n:
            raise MalformedNdef("truncated", "TLV length missing")
        length = data[i]
        i += 1
        if length == 0xFF:
            if i + 2 > n:
                raise MalformedNdef("truncated", "3-byte TLV length cut short")
            length = (data[i] << 8) | data[i + 1]
            i += 2
        if i + length > n:
            raise MalformedNdef("truncated", "TLV value runs past the data read")
        if tag == TLV_NDEF:
            if length > MAX_MESSAGE_BYTES:
                raise MalformedNdef("too_large", str(length) + " bytes")
            return data[i : i + length]
        i += length
    raise MalformedNdef("no_ndef", "no NDEF message TLV")


def tlv_length_needed(head: Any) -> int:
    """How many bytes of the data area hold the NDEF TLV, judged from its first bytes.

    Lets a reader stop reading pages once the message is complete. Returns 0 when the
    bytes given do not yet reach the NDEF TLV's length field.
    """
    data = _as_bytes(head)
    i = 0
    n = len(data)
    while i < n:
        tag = data[i]
        if tag == TLV_NULL:
            i += 1
            continue
        if tag == TLV_TERMINATOR:
            raise MalformedNdef("no_ndef", "terminator before any NDEF message")
        if i + 1 >= n:
            return 0
        length = data[i + 1]
        header = 2
        if length == 0xFF:
            if i + 4 > n:
                return 0
            length = (data[i + 2] << 8) | data[i + 3]
            header = 4
        if tag == TLV_NDEF:
            if length > MAX_MESSAGE_BYTES:
                raise MalformedNdef("too_large", str(length) + " bytes")
            return i + header + length
        i += header + length
    return 0


def encode_tlv(message: Any) -> bytes:
    """``03 <len> <message> FE`` with the 3-byte length form from 255 bytes on."""
    body = _as_bytes(message)
    if len(body) > 0xFFFE:
        raise MalformedNdef("too_large", str(len(body)) + " bytes")
    if len(body) < 0xFF:
        head = bytes((TLV_NDEF, len(body)))
    else:
        head = bytes((TLV_NDEF, 0xFF, len(body) >> 8, len(body) & 0xFF))
    return head + body + bytes((TLV_TERMINATOR,))


# ---------------------------------------------------------------- Type 4 file


def message_from_file(content: Any) -> bytes:
    """The NDEF message of a Type 4 NDEF file (``NLEN`` then the message)."""
    data = _as_bytes(content)
    if len(data) < 2:
        raise MalformedNdef("truncated", "NDEF file shorter than its NLEN field")
    length = (data[0] << 8) | data[1]
    if length == 0:
        raise MalformedNdef("no_ndef", "NDEF file is empty (NLEN = 0)")
    if length > MAX_MESSAGE_BYTES:
        raise MalformedNdef("too_large", str(length) + " bytes")
    if 2 + length > len(data):
        raise MalformedNdef("truncated", "NDEF file shorter than NLEN")
    return data[2 : 2 + length]


def encode_file(message: Any) -> bytes:
    body = _as_bytes(message)
    if len(body) > 0xFFFF:
        raise MalformedNdef("too_large", str(len(body)) + " bytes")
    return bytes((len(body) >> 8, len(body) & 0xFF)) + body


# ---------------------------------------------------------------- records


def parse_message(message: Any) -> list[Record]:
    """All records of one NDEF message; chunked records are refused."""
    data = _as_bytes(message)
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedNdef("too_large", str(len(data)) + " bytes")
    records = []
    i = 0
    n = len(data)
    if n == 0:
        raise MalformedNdef("bad_record", "empty message")
    while True:
        if i >= n:
            raise MalformedNdef("truncated", "message ends before a record with ME set")
        header = data[i]
        first = i == 0
        if bool(header & 0x80) != first:
            raise MalformedNdef("bad_record", "MB flag set on a record other than the first")
        if header & 0x20:
            raise MalformedNdef("chunked", "chunked records are not supported")
        tnf = header & 0x07
        short = header & 0x10
        has_id = header & 0x08
        i += 1
        need = 1 + (1 if short else 4) + (1 if has_id else 0)
        if i + need > n:
            raise MalformedNdef("truncated", "record header cut short")
        type_len = data[i]
        i += 1
        if short:
            payload_len = data[i]
            i += 1
        else:
            payload_len = (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]
            i += 4
        id_len = 0
        if has_id:
            id_len = data[i]
            i += 1
        if i + type_len + id_len + payload_len > n:
            raise MalformedNdef("truncated", "record runs past the message")
        if tnf == TNF_EMPTY and (type_len or id_len or payload_len):
            raise MalformedNdef("bad_record", "empty record with content")
        if tnf in (5, 6) and type_len:
            raise MalformedNdef("bad_record", "unknown/unchanged record with a type")
        if tnf == 7:
            raise MalformedNdef("bad_record", "reserved TNF 7")
        rtype = data[i : i + type_len]
        i += type_len
        rid = data[i : i + id_len]
        i += id_len
        payload = data[i : i + payload_len]
        i += payload_len
        records.append(Record(tnf, rtype, payload, rid))
        if header & 0x40:
            break
    if i != n:
        raise MalformedNdef("bad_record", "bytes after the record with ME set")
    return records


def encode_record(record: Record, first: bool = True, last: bool = True) -> bytes:
    if not 0 <= record.tnf <= 6:
        raise MalformedNdef("bad_record", "TNF out of range")
    if len(record.type) > 255 or len(record.id) > 255:
        raise MalformedNdef("bad_record", "type or id longer than 255 bytes")
    header = record.tnf
    if first:
        header |= 0x80
    if last:
        header |= 0x40
    n = len(record.payload)
    if n < 256:
        header |= 0x10
        lengths = bytes((len(record.type), n))
    else:
        lengths = bytes((len(record.type), n >> 24, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))
    if record.id:
        header |= 0x08
        lengths += bytes((len(record.id),))
    return (
        bytes((header,)) + lengths + bytes(record.type) + bytes(record.id) + bytes(record.payload)
    )


def encode_message(records: list[Record]) -> bytes:
    if not records:
        raise MalformedNdef("bad_record", "a message needs at least one record")
    out = b""
    last = len(records) - 1
    for index, record in enumerate(records):
        out += encode_record(record, index == 0, index == last)
    return out


# ---------------------------------------------------------------- URI records


def decode_uri(payload: Any) -> str:
    """The full URI of a URI record's payload (prefix code expanded)."""
    data = _as_bytes(payload)
    if not data:
        raise MalformedNdef("bad_uri", "empty URI payload")
    code = data[0]
    if code >= len(URI_PREFIXES):
        raise MalformedNdef("bad_uri", "unknown URI prefix code " + str(code))
    try:
        rest = data[1:].decode("utf-8")
    except Exception:
        raise MalformedNdef("bad_uri", "URI is not UTF-8") from None
    uri = URI_PREFIXES[code] + rest
    if not uri:
        raise MalformedNdef("bad_uri", "empty URI")
    for ch in uri:
        if ord(ch) < 0x21 or ord(ch) == 0x7F:
            raise MalformedNdef("bad_uri", "space or control character in URI")
    return uri


def encode_uri(uri: str) -> bytes:
    """A URI record payload using the longest matching prefix code."""
    best = 0
    for code in range(1, len(URI_PREFIXES)):
        prefix = URI_PREFIXES[code]
        if uri.startswith(prefix) and len(prefix) > len(URI_PREFIXES[best]):
            best = code
    return bytes((best,)) + uri[len(URI_PREFIXES[best]) :].encode("utf-8")


def uri_record(uri: str) -> Record:
    return Record(TNF_WELL_KNOWN, b"U", encode_uri(uri))


def first_uri(message: Any) -> str:
    """The URI of the first URI record of a message."""
    for record in parse_message(message):
        if record.is_uri():
            return decode_uri(record.payload)
    raise MalformedNdef("no_ndef", "no URI record in the message")


def uri_from_tlv(area: Any) -> str:
    """Type 2 data area → URI (the whole path a reader runs for an NTAG21x)."""
    return first_uri(message_from_tlv(area))


def uri_from_file(content: Any) -> str:
    """Type 4 NDEF file → URI (NTAG 424 DNA)."""
    return first_uri(message_from_file(content))


def uri_tlv(uri: str) -> bytes:
    """The TLV bytes a label printer writes at page 4 for a one-URI message."""
    return encode_tlv(encode_message([uri_record(uri)]))
