# ISO/IEC 14443-3 type A: wake a tag, run the anticollision cascade, select it.
# Handles 4-, 7- and 10-byte UIDs (cascade levels 1-3, cascade tag 0x88) and several tags
# in the field: a bit collision is resolved bit by bit (the reader sends the UID bits it
# knows, up to and including the colliding bit set to 1, and only the tags whose UID
# starts with those bits go on answering) until one tag is left; that one is selected.
from reader.mfrc522 import Collision, ProtocolError, check_crc, with_crc

REQA = 0x26
WUPA = 0x52
CASCADE_TAG = 0x88
SEL = (0x93, 0x95, 0x97)
UID_PART_BITS = 40  # per cascade level: 4 UID bytes (or 88 + 3) and the BCC


class Card:
    """A selected type A tag."""

    def __init__(self, uid, sak, atqa, collisions=0):
        self.uid = uid  # bytes: 4, 7 or 10
        self.sak = sak
        self.atqa = atqa
        self.collisions = collisions  # bit collisions resolved to single this tag out

    def iso_dep(self):
        """True when the tag speaks ISO 14443-4 (NTAG 424 DNA, DESFire…)."""
        return bool(self.sak & 0x20)


def wake(chip, wupa=True):
    """REQA/WUPA (7-bit short frame); returns ATQA. Raises NoAnswer when no tag.

    Tags of different kinds answer different ATQAs at the same time: that bit collision
    is expected (ISO 14443-3 6.5.2) and the anticollision loop sorts them out."""
    try:
        answer, bits = chip.transceive(bytes((WUPA if wupa else REQA,)), 7)
    except Collision as exc:
        answer, bits = exc.data, exc.last_bits
    if len(answer) != 2 or bits:
        raise ProtocolError("ATQA must be 2 bytes")
    return answer


def anticollision(chip, cmd):
    """One cascade level: the 5 bytes (UID part + BCC) of one tag, and how many bit
    collisions were resolved to get them."""
    part = bytearray(5)
    known = 0  # leading bits of ``part`` already settled
    resolved = 0
    for _ in range(UID_PART_BITS):
        full, extra = known // 8, known % 8
        frame = bytes((cmd, ((2 + full) << 4) | extra)) + bytes(part[: full + (1 if extra else 0)])
        collision = 0
        try:
            answer, last_bits = chip.transceive(frame, extra, extra)
        except Collision as exc:
            if not exc.position or not exc.data:
                raise  # the chip could not place the collision: give up this poll
            answer, last_bits, collision = exc.data, exc.last_bits, exc.position
        # the answer starts at byte ``full``; its first ``extra`` bits are ours
        for i in range(min(len(answer), 5 - full)):
            if i == 0 and extra:
                mask = (0xFF << extra) & 0xFF
                part[full] = (part[full] & ~mask & 0xFF) | (answer[0] & mask)
            else:
                part[full + i] = answer[i]
        if not collision:
            if len(answer) != 5 - full or last_bits:
                raise ProtocolError("anticollision answer must complete 5 bytes")
            return bytes(part), resolved
        bit = full * 8 + collision - 1  # CollPos counts the RxAlign bits too
        if bit < known or bit >= UID_PART_BITS - 8:
            raise ProtocolError("collision outside the UID bits")
        part[bit // 8] |= 1 << (bit % 8)  # follow the tags that sent a 1
        known = bit + 1
        resolved += 1
    raise ProtocolError("anticollision did not converge")


def select(chip, atqa=b"\x00\x00"):
    """Anticollision + SELECT for every cascade level; returns a Card."""
    uid = b""
    resolved = 0
    for level in range(3):
        cmd = SEL[level]
        answer, collisions = anticollision(chip, cmd)
        resolved += collisions
        if answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
            raise Collision(0)  # BCC mismatch: noise, or tags the chip did not tell apart
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
        return Card(uid, sak, atqa, resolved)
    raise ProtocolError("UID longer than 3 cascade levels")


def halt(chip):
    """HLTA: the tag stays quiet until it leaves the field or gets a WUPA."""
    try:
        chip.transceive(with_crc(b"\x50\x00"))
    except Exception:
        pass  # a halted tag does not answer: that is the normal outcome
