# NFC Forum Type 2 tags, NXP NTAG213/215/216: GET_VERSION, READ, WRITE, PWD_AUTH,
# NDEF message.
from reader.mfrc522 import ProtocolError, check_crc, with_crc
from reemploi.protocol import ndef

# GET_VERSION byte 6 (storage size) -> (model, user memory bytes)
MODELS = {0x0F: ("NTAG213", 144), 0x11: ("NTAG215", 504), 0x13: ("NTAG216", 888)}


def get_version(chip):
    """8 bytes of GET_VERSION (0x60)."""
    answer, _ = chip.transceive(with_crc(b"\x60"))
    if len(answer) == 1:
        raise ProtocolError("NAK to GET_VERSION")
    data = check_crc(answer)
    if len(data) != 8:
        raise ProtocolError("GET_VERSION answer must be 8 bytes")
    return data


def model(version):
    """("NTAG213", 144) etc., or ("type2", 0) for another Type 2 tag."""
    if version[1] == 0x04 and version[2] == 0x04:
        return MODELS.get(version[6], ("NTAG21x", 0))
    return ("type2", 0)


class Nak(ProtocolError):
    """The tag answered a 4-bit NAK; it is back in IDLE and must be selected again.
    ``code``: 0x0 invalid argument (bad page, locked or protected page, wrong password),
    0x1 parity/CRC error, 0x4 password attempts exhausted, 0x5 EEPROM write error."""

    def __init__(self, command, page, code):
        super().__init__("NAK 0x%X to %s page %d" % (code, command, page))
        self.command = command
        self.page = page
        self.code = code


ACK = 0x0A


def read_pages(chip, page):
    """READ (0x30): 4 pages = 16 bytes starting at ``page``."""
    answer, _ = chip.transceive(with_crc(bytes((0x30, page & 0xFF))))
    if len(answer) == 1:
        raise Nak("READ", page, answer[0] & 0x0F)
    data = check_crc(answer)
    if len(data) != 16:
        raise ProtocolError("READ answer must be 16 bytes")
    return data


def write_page(chip, page, data):
    """WRITE (0xA2): 4 bytes to ``page``; the tag answers a 4-bit ACK (0xA) or NAK.
    Raises Nak, NoAnswer (tag gone: the page may or may not be written) or ProtocolError."""
    if len(data) != 4:
        raise ValueError("a page is 4 bytes")
    answer, bits = chip.transceive(with_crc(bytes((0xA2, page & 0xFF)) + bytes(data)))
    if len(answer) != 1 or bits != 4:
        raise ProtocolError("WRITE answer must be a 4-bit ACK or NAK")
    if answer[0] & 0x0F != ACK:
        raise Nak("WRITE", page, answer[0] & 0x0F)


def pwd_auth(chip, password):
    """PWD_AUTH (0x1B): returns the 2-byte PACK; Nak on a wrong password."""
    if len(password) != 4:
        raise ValueError("PWD is 4 bytes")
    answer, bits = chip.transceive(with_crc(b"\x1b" + bytes(password)))
    if len(answer) == 1 and bits == 4:
        raise Nak("PWD_AUTH", 0, answer[0] & 0x0F)
    data = check_crc(answer)
    if len(data) != 2:
        raise ProtocolError("PWD_AUTH answer must be the 2-byte PACK")
    return data


def read_ndef_area(chip, user_bytes=144):
    """Read from page 4 just as far as the NDEF TLV goes (never more than user memory)."""
    cc = read_pages(chip, 3)
    if cc[0] != 0xE1:
        raise ndef.MalformedNdef("no_ndef", "capability container is not NDEF (E1)")
    limit = min(user_bytes or cc[2] * 8, cc[2] * 8) or 144
    area = bytes(cc[4:16])  # pages 4-6 come with the CC read
    page = 7
    while True:
        needed = ndef.tlv_length_needed(area)
        if needed and len(area) >= needed:
            return area[:needed]
        if len(area) >= limit:
            return area
        area += read_pages(chip, page)
        page += 4
