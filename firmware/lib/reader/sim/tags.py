# Simulated ISO 14443 type A tags that answer the reader's frames bit-exactly:
# an NTAG213/215/216 (Type 2, page memory built from an NDEF TLV; READ, WRITE with
# static/dynamic lock bits, AUTH0 and PWD_AUTH, NAK back to IDLE) and an NTAG 424 DNA
# (ISO-DEP answering the Type 4 NDEF APDUs, with chained answers).
from reader.mfrc522 import crc_a
from reemploi.protocol import ndef

IDLE, READY, ACTIVE, HALT = 0, 1, 2, 3


def _crc_ok(frame):
    return len(frame) >= 3 and crc_a(frame, len(frame) - 2) == bytes(frame[-2:])


def _with_crc(data):
    return bytes(data) + crc_a(data)


class TypeATag:
    """ISO 14443-3A state machine; subclasses answer commands once the tag is selected."""

    atqa = b"\x44\x00"
    sak = 0x00

    def __init__(self, uid, answer_frames=None, corrupt_crc=False):
        if len(uid) not in (4, 7, 10):
            raise ValueError("UID must be 4, 7 or 10 bytes")
        self.uid = bytes(uid)
        self.answer_frames = answer_frames  # stop answering after this many (removal)
        self.corrupt_crc = corrupt_crc  # answer with a wrong CRC once selected
        self.state = IDLE
        self.level = 0
        self.frames = 0

    def power_up(self):
        self.state = IDLE
        self.level = 0

    def gone(self):
        return self.answer_frames is not None and self.frames >= self.answer_frames

    def _levels(self):
        u = self.uid
        if len(u) == 4:
            return [u]
        if len(u) == 7:
            return [b"\x88" + u[:3], u[3:]]
        return [b"\x88" + u[:3], b"\x88" + u[3:6], u[6:]]

    def receive(self, frame, last_bits):
        self.frames += 1
        if self.gone():
            return None
        if last_bits == 7 and len(frame) == 1:
            if frame[0] == 0x26 and self.state == IDLE or frame[0] == 0x52 and self.state in (IDLE, HALT):
                self.state = READY
                self.level = 0
                return (self.atqa, 0)
            return None
        if self.state == READY:
            return self._anticollision(frame, last_bits)
        if self.state != ACTIVE:
            return None
        if not _crc_ok(frame):
            return None  # a real tag ignores frames with a bad CRC
        body = bytes(frame[:-2])
        if body == b"\x50\x00":
            self.state = HALT
            return None
        answer = self.command(body)
        if answer is None:
            return None
        if isinstance(answer, tuple):  # (bits, last_bits): a 4-bit ACK/NAK
            if answer[1] == 4 and answer[0][0] != 0x0A:
                self.state = IDLE  # after a NAK the tag must be woken and selected again
                self.halted_after_nak()
            return answer
        out = _with_crc(answer)
        if self.corrupt_crc:
            out = out[:-1] + bytes(((out[-1] + 1) & 0xFF,))
        return (out, 0)

    def _anticollision(self, frame, last_bits):
        """ANTICOLLISION (NVB < 70: the reader sends the UID bits it knows, we answer
        the rest if ours start with them) or SELECT (NVB = 70, CRC)."""
        levels = self._levels()
        cmds = (0x93, 0x95, 0x97)
        if self.level >= len(levels) or len(frame) < 2 or frame[0] != cmds[self.level]:
            self.state = IDLE
            return None
        part = levels[self.level]
        part = part + bytes((part[0] ^ part[1] ^ part[2] ^ part[3],))
        nvb = frame[1]
        if nvb == 0x70:
            if len(frame) == 9 and _crc_ok(frame) and frame[2:7] == part:
                last = self.level == len(levels) - 1
                self.level += 1
                if last:
                    self.state = ACTIVE
                    return (_with_crc(bytes((self.sak,))), 0)
                return (_with_crc(b"\x04"), 0)
            self.state = IDLE  # another tag was selected
            return None
        whole, extra = nvb >> 4, nvb & 0x0F
        known = (whole - 2) * 8 + extra
        if whole < 2 or extra > 7 or known >= 40 or len(frame) != whole + (1 if extra else 0):
            self.state = IDLE
            return None
        if (last_bits & 0x07) != extra:
            self.state = IDLE  # the frame on air is not as long as its NVB says
            return None
        for i in range(known):
            if (frame[2 + i // 8] >> (i % 8)) & 1 != (part[i // 8] >> (i % 8)) & 1:
                return None  # not our UID: stay READY, silent
        rest = bytearray((40 - known + 7) // 8)
        for k in range(40 - known):
            i = known + k
            if (part[i // 8] >> (i % 8)) & 1:
                rest[k // 8] |= 1 << (k % 8)
        return (bytes(rest), (40 - known) % 8)

    def command(self, body):
        return (b"\x00", 4)  # NAK: a plain type A tag knows no Type 2 command

    def halted_after_nak(self):
        pass


class Ntag21x(TypeATag):
    """NTAG213 (default), NTAG215 or NTAG216 with an NDEF TLV from page 4."""

    SIZES = {"NTAG213": (0x0F, 45, 0x12), "NTAG215": (0x11, 135, 0x3E), "NTAG216": (0x13, 231, 0x6D)}

    def __init__(self, uid, tlv=b"", model="NTAG213", **kw):
        super().__init__(uid, **kw)
        storage, pages, cc_size = self.SIZES[model]
        self.model = model
        self.version = bytes((0x00, 0x04, 0x04, 0x02, 0x01, 0x00, storage, 0x03))
        mem = bytearray(pages * 4)
        u = self.uid
        mem[0:3] = u[0:3]
        mem[3] = 0x88 ^ u[0] ^ u[1] ^ u[2]
        mem[4:8] = u[3:7]
        mem[8] = u[3] ^ u[4] ^ u[5] ^ u[6]
        mem[9] = 0x48
        mem[12:16] = bytes((0xE1, 0x10, cc_size, 0x00))
        user = (pages - 9) * 4  # config pages at the end are not user memory
        if len(tlv) > user:
            raise ValueError("NDEF TLV larger than the tag's user memory")
        mem[16 : 16 + len(tlv)] = tlv
        # factory configuration (NTAG213/215/216 datasheet 8.5): dynamic lock bytes,
        # CFG0 (AUTH0 = FF: no password), CFG1 (ACCESS), PWD = FFFFFFFF, PACK = 0000
        self.lock_page = pages - 5
        mem[self.lock_page * 4 : self.lock_page * 4 + 20] = (
            b"\x00\x00\x00\xbd\x04\x00\x00\xff\x00\x05\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"
        )
        self.memory = mem
        self.authenticated = False
        self.writes = 0  # WRITE commands carried out
        self.vanish_after_writes = None  # leaves the field right after this many writes

    def power_up(self):
        super().power_up()
        self.authenticated = False

    def halted_after_nak(self):
        self.authenticated = False

    def _page(self, page):
        return bytes(self.memory[page * 4 : page * 4 + 4])

    def locked(self, page):
        """Static lock bits for pages 3-15, dynamic lock bits above (NTAG213: 2 pages a
        bit, NTAG215/216: 16 pages a bit)."""
        static = self.memory[10:12]
        if 3 <= page <= 15:
            return bool(static[page // 8] >> (page % 8) & 1)
        if 16 <= page < self.lock_page:
            per_bit = 2 if self.model == "NTAG213" else 16
            bit = (page - 16) // per_bit
            dynamic = self.memory[self.lock_page * 4 : self.lock_page * 4 + 2]
            return bit < 16 and bool(dynamic[bit // 8] >> (bit % 8) & 1)
        return False

    def _write(self, page, data):
        pages = len(self.memory) // 4
        if not 2 <= page < pages:
            return (b"\x00", 4)
        if self.locked(page):
            return (b"\x00", 4)
        auth0 = self.memory[(self.lock_page + 1) * 4 + 3]
        if page >= auth0 and not self.authenticated:
            return (b"\x00", 4)
        current = self._page(page)
        if page == 2:  # serial bytes are read-only, lock bits can only be set
            data = current[:2] + bytes((current[2] | data[2], current[3] | data[3]))
        elif page == 3 or page == self.lock_page:  # one-time programmable: bits OR-ed
            data = bytes([a | b for a, b in zip(current, data)])
            if page == self.lock_page:
                data = data[:3] + current[3:]
        self.memory[page * 4 : page * 4 + 4] = data
        self.writes += 1
        if self.vanish_after_writes is not None and self.writes >= self.vanish_after_writes:
            self.answer_frames = self.frames  # pulled away before the ACK went out
            return None
        return (b"\x0a", 4)

    @classmethod
    def with_uri(cls, uid, uri, model="NTAG213", **kw):
        return cls(uid, ndef.uri_tlv(uri), model, **kw)

    def command(self, body):
        if body == b"\x60":
            return self.version
        if len(body) == 2 and body[0] == 0x30:
            page = body[1]
            pages = len(self.memory) // 4
            if page >= pages:
                return (b"\x00", 4)  # NAK: invalid address
            out = bytearray()
            for i in range(4):  # wraps around to page 0 past the end
                p = (page + i) % pages
                if p in (self.lock_page + 3, self.lock_page + 4):
                    out += b"\x00\x00\x00\x00"  # PWD and PACK always read as zeros
                else:
                    out += self.memory[p * 4 : p * 4 + 4]
            return bytes(out)
        if len(body) == 6 and body[0] == 0xA2:
            return self._write(body[1], bytes(body[2:6]))
        if len(body) == 5 and body[0] == 0x1B:
            if bytes(body[1:5]) != self._page(self.lock_page + 3):
                self.authenticated = False
                return (b"\x00", 4)
            self.authenticated = True
            return self._page(self.lock_page + 4)[:2]
        return (b"\x00", 4)


class Ntag424Dna(TypeATag):
    """NTAG 424 DNA: ISO-DEP, Type 4 NDEF application with a SUN URL in file E104."""

    atqa = b"\x44\x03"
    sak = 0x20
    ATS = b"\x06\x77\x77\x71\x02\x80"

    def __init__(self, uid, uri, wtx=False, **kw):
        super().__init__(uid, **kw)
        self.ndef_file = ndef.encode_file(ndef.encode_message([ndef.uri_record(uri)]))
        self.ndef_file += bytes(256 - len(self.ndef_file)) if len(self.ndef_file) < 256 else b""
        self.wtx = wtx  # ask for a waiting time extension before the first answer
        self.fsd = 16
        self.block = 0
        self.selected_app = False
        self.selected_file = None
        self._pending = b""  # rest of a chained answer
        self._answer = b""

    def power_up(self):
        super().power_up()
        self.selected_app = False
        self.selected_file = None
        self._pending = b""

    def command(self, body):
        if body[0] == 0xE0 and len(body) == 2:  # RATS
            self.fsd = (16, 24, 32, 40, 48, 64, 96, 128, 256)[min(body[1] >> 4, 8)]
            self.block = 0
            return self.ATS
        pcb = body[0]
        if pcb & 0xF7 == 0xF2:  # S(WTX) echoed by the reader: now answer
            return self._send(self._answer)
        if pcb & 0xE6 == 0xA2:  # R(ACK): next part of a chained answer
            return self._send(self._pending)
        if pcb & 0xE2 == 0x02:  # I-block
            self.block = pcb & 1
            answer = self.apdu(body[1:])
            if self.wtx:
                self.wtx = False
                self._answer = answer
                return b"\xf2\x01"
            return self._send(answer)
        return None

    def _send(self, data):
        room = self.fsd - 3  # PCB + CRC
        pcb = 0x02 | self.block
        if len(data) > room:
            self._pending = data[room:]
            out = bytes((pcb | 0x10,)) + data[:room]
        else:
            self._pending = b""
            out = bytes((pcb,)) + data
        self.block ^= 1
        return out

    def apdu(self, apdu):
        if apdu[:4] == b"\x00\xa4\x04\x00":
            name = apdu[5 : 5 + apdu[4]]
            if name == b"\xd2\x76\x00\x00\x85\x01\x01":
                self.selected_app = True
                return b"\x90\x00"
            return b"\x6a\x82"
        if apdu[:4] == b"\x00\xa4\x00\x0c":
            if not self.selected_app:
                return b"\x69\x85"
            fid = apdu[5:7]
            if fid in (b"\xe1\x03", b"\xe1\x04"):
                self.selected_file = fid
                return b"\x90\x00"
            return b"\x6a\x82"
        if apdu[:2] == b"\x00\xb0":
            if self.selected_file != b"\xe1\x04":
                return b"\x69\x86"
            offset = (apdu[2] << 8) | apdu[3]
            le = apdu[4] if len(apdu) > 4 else 0
            le = le or 256
            return self.ndef_file[offset : offset + le] + b"\x90\x00"
        return b"\x6d\x00"
