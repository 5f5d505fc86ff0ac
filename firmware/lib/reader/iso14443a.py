# ISO/IEC 14443-3 type A: wake a tag, run the anticollision cascade, select it.
# Handles 4-, 7- and 10-byte UIDs (cascade levels 1-3, cascade tag 0x88).
from reader.mfrc522 import Collision, ProtocolError, check_crc, with_crc

REQA = 0x26
WUPA = 0x52
CASCADE_TAG = 0x88
SEL = (0x93, 0x95, 0x97)


class Card:
    """A selected type A tag."""

    def __init__(self, uid, sak, atqa):
        self.uid = uid  # bytes: 4, 7 or 10
        self.sak = sak
        self.atqa = atqa

    def iso_dep(self):
        """True when the tag speaks ISO 14443-4 (NTAG 424 DNA, DESFire…)."""
        return bool(self.sak & 0x20)


def wake(chip, wupa=True):
    """REQA/WUPA (7-bit short frame); returns ATQA. Raises NoAnswer when no tag."""
    answer, bits = chip.transceive(bytes((WUPA if wupa else REQA,)), 7)
    if len(answer) != 2 or bits:
        raise ProtocolError("ATQA must be 2 bytes")
    return answer


def select(chip, atqa=b"\x00\x00"):
    """Anticollision + SELECT for every cascade level; returns a Card."""
    uid = b""
    for level in range(3):
        cmd = SEL[level]
        answer, bits = chip.transceive(bytes((cmd, 0x20)))  # ANTICOLLISION, NVB = 2 bytes
        if len(answer) != 5 or bits:
            raise ProtocolError("anticollision answer must be 5 bytes")
        if answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
            raise Collision(0)  # BCC mismatch: two tags answering, or noise
        sak_frame, _ = chip.transceive(with_crc(bytes((cmd, 0x70)) + answer))
        if len(sak_frame) != 3:
            raise ProtocolError("SAK must be 1 byte + CRC")
        sak = check_crc(sak_frame)[0]
        if sak & 0x04:  # UID not complete: cascade tag + 3 bytes, next level
            if answer[0] != CASCADE_TAG:
                raise ProtocolError("cascade bit without cascade tag")
            uid += answer[1:4]
            continue
        uid += answer[0:4]
        return Card(uid, sak, atqa)
    raise ProtocolError("UID longer than 3 cascade levels")


def halt(chip):
    """HLTA: the tag stays quiet until it leaves the field or gets a WUPA."""
    try:
        chip.transceive(with_crc(b"\x50\x00"))
    except Exception:
        pass  # a halted tag does not answer: that is the normal outcome
