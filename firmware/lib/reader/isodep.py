# ISO/IEC 14443-4 (ISO-DEP) just enough for a Type 4 tag: RATS, I-blocks with chaining
# of the tag's answers, R(ACK), S(WTX); then the NFC Forum Type 4 NDEF read:
# SELECT application D2760000850101, SELECT file E104, READ BINARY.
from reader.mfrc522 import ProtocolError, check_crc, with_crc

FSDI = 5  # we accept frames of up to 64 bytes (the MFRC522 FIFO)
NDEF_APP = b"\xd2\x76\x00\x00\x85\x01\x01"
NDEF_FILE = b"\xe1\x04"
MAX_CHAIN = 40  # blocks in one chained answer (64 bytes each) before giving up


class ApduError(ProtocolError):
    def __init__(self, sw):
        super().__init__("status word %04X" % sw)
        self.sw = sw


class IsoDep:
    def __init__(self, chip):
        self.chip = chip
        self.block = 0
        self.ats = b""

    def rats(self):
        answer, _ = self.chip.transceive(with_crc(bytes((0xE0, FSDI << 4))))
        ats = check_crc(answer)
        if not ats or ats[0] != len(ats):
            raise ProtocolError("ATS length byte does not match")
        self.ats = ats
        self.block = 0
        return ats

    def _exchange(self, frame):
        answer, _ = self.chip.transceive(with_crc(frame))
        return check_crc(answer)

    def apdu(self, command):
        """Send one APDU; returns ``(data, sw)`` with the tag's chained blocks joined."""
        pcb = 0x02 | self.block
        reply = self._exchange(bytes((pcb,)) + command)
        data = b""
        for _ in range(MAX_CHAIN):
            if not reply:
                raise ProtocolError("empty block")
            pcb = reply[0]
            if pcb & 0xF7 == 0xF2:  # S(WTX): the tag needs more time, echo it
                reply = self._exchange(reply)
                continue
            if pcb & 0xE2 != 0x02:
                raise ProtocolError("expected an I-block, got PCB %02X" % pcb)
            if pcb & 0x01 != self.block:
                raise ProtocolError("block number out of step")
            self.block ^= 1
            data += reply[1:]
            if not pcb & 0x10:  # no chaining: last block
                break
            reply = self._exchange(bytes((0xA2 | self.block,)))  # R(ACK)
        else:
            raise ProtocolError("answer chained over too many blocks")
        if len(data) < 2:
            raise ProtocolError("answer without status word")
        return data[:-2], (data[-2] << 8) | data[-1]

    def check(self, command):
        data, sw = self.apdu(command)
        if sw != 0x9000:
            raise ApduError(sw)
        return data


def read_ndef_file(link, max_bytes=1024):
    """The Type 4 NDEF file (NLEN + message) of an NTAG 424 DNA."""
    link.check(b"\x00\xa4\x04\x00\x07" + NDEF_APP + b"\x00")
    link.check(b"\x00\xa4\x00\x0c\x02" + NDEF_FILE)
    head = link.check(b"\x00\xb0\x00\x00\x02")
    if len(head) != 2:
        raise ProtocolError("NLEN must be 2 bytes")
    total = min((head[0] << 8) | head[1], max_bytes)
    content = bytes(head)
    offset = 2
    while offset < total + 2:
        want = min(total + 2 - offset, 0xFF)
        part = link.check(b"\x00\xb0" + bytes((offset >> 8, offset & 0xFF, want)))
        if not part:
            raise ProtocolError("READ BINARY returned nothing")
        content += part
        offset += len(part)
    return content
