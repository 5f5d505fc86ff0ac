# A register-level MFRC522 simulator behind the same SPI/CS interface as machine.SPI.
#
# It keeps the register file and FIFO, runs Transceive when StartSend is set, and hands
# the frame to the simulated tags in its RfField; answers (or collisions, or silence)
# come back through the FIFO and the IRQ/error registers exactly as the driver reads
# them on a real chip. ``garbage=True`` makes every register read return noise.
import random
import time

FIFO_DATA = 0x09
FIFO_LEVEL = 0x0A
COMMAND = 0x01
COM_IRQ = 0x04
ERROR = 0x06
CONTROL = 0x0C
BIT_FRAMING = 0x0D
COLL = 0x0E
VERSION = 0x37


class RfField:
    """The tags currently in front of the antenna."""

    def __init__(self):
        self.tags = []
        self.frames = 0  # frames sent by the reader (for tests and the budget bench)

    def place(self, tag):
        tag.power_up()
        self.tags.append(tag)

    def remove(self, tag=None):
        if tag is None:
            self.tags = []
        elif tag in self.tags:
            self.tags.remove(tag)

    def exchange(self, frame, last_bits):
        self.frames += 1
        answers = []
        for tag in list(self.tags):
            if tag.gone():
                self.tags.remove(tag)
                continue
            answer = tag.receive(frame, last_bits)
            if answer is not None:
                answers.append(answer)
        return answers


class SimulatedSpi:
    """machine.SPI stand-in wired to a simulated MFRC522."""

    def __init__(self, chip):
        self.chip = chip

    def write(self, buf):
        self.chip.transaction(bytes(buf), None)

    def write_readinto(self, out, into):
        self.chip.transaction(bytes(out), into)


class SimulatedPin:
    def __init__(self, value=0):
        self._value = value
        self.history = []

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = v
        self.history.append(v)
        if len(self.history) > 64:
            self.history = self.history[-32:]
        return None

    def __call__(self, v=None):
        return self.value(v)


class SimulatedMfrc522:
    def __init__(self, field=None, version=0x92, garbage=False):
        self.field = field if field is not None else RfField()
        self.version = version
        self.garbage = garbage
        self.regs = bytearray(64)
        self.fifo = bytearray()
        self.transactions = 0
        self.stall_ms = 0  # the next SPI transaction blocks this long (a stuck bus)
        self._reset()

    def _reset(self):
        for i in range(64):
            self.regs[i] = 0
        self.regs[COMMAND] = 0x20
        self.regs[VERSION] = self.version
        self.fifo = bytearray()

    # ---------------------------------------------------------------- SPI

    def transaction(self, out, into):
        """One chip-select frame: address byte(s) then data (datasheet 8.1.2)."""
        self.transactions += 1
        if self.stall_ms:
            stall, self.stall_ms = self.stall_ms, 0
            time.sleep(stall / 1000)  # blocks everything, as a spinning driver would
        if not out:
            return
        if out[0] & 0x80:  # read: each byte sent is the next address, answers lag by one
            if into is not None:
                into[0] = 0
                for i in range(len(out) - 1):
                    into[i + 1] = self._read((out[i] >> 1) & 0x3F)
            return
        reg = (out[0] >> 1) & 0x3F
        for value in out[1:]:
            self._write(reg, value)
        if into is not None:
            for i in range(len(into)):
                into[i] = 0

    def _read(self, reg):
        if self.garbage:
            return random.getrandbits(8)
        if reg == FIFO_DATA:
            if self.fifo:
                value = self.fifo[0]
                self.fifo = self.fifo[1:]
                return value
            return 0
        if reg == FIFO_LEVEL:
            return len(self.fifo)
        return self.regs[reg]

    def _write(self, reg, value):
        if reg == FIFO_DATA:
            if len(self.fifo) < 64:
                self.fifo.append(value)
            return
        if reg == FIFO_LEVEL:
            if value & 0x80:
                self.fifo = bytearray()
            return
        if reg == COM_IRQ:
            if value & 0x80:
                self.regs[COM_IRQ] |= value & 0x7F
            else:
                self.regs[COM_IRQ] &= ~value & 0x7F
            return
        if reg == COMMAND:
            command = value & 0x0F
            if command == 0x0F:
                self._reset()
                return
            self.regs[COMMAND] = value & 0x3F
            return
        self.regs[reg] = value
        if reg == BIT_FRAMING and value & 0x80 and self.regs[COMMAND] & 0x0F == 0x0C:
            self._transceive()

    # ---------------------------------------------------------------- radio

    def _transceive(self):
        frame = bytes(self.fifo)
        self.fifo = bytearray()
        framing = self.regs[BIT_FRAMING]
        last_bits = framing & 0x07
        rx_align = (framing >> 4) & 0x07
        self.regs[ERROR] = 0
        self.regs[CONTROL] = 0
        self.regs[COLL] = (self.regs[COLL] & 0x80) | 0x20  # CollPosNotValid: no collision
        if not self.regs[0x14] & 0x03:  # antenna off: no tag is powered
            answers = []
        else:
            answers = self.field.exchange(frame, last_bits)
        if not answers:
            self.regs[COM_IRQ] |= 0x01  # timer ran out
            return
        collision = 0
        if len(answers) == 1 and not rx_align:
            data, bits = answers[0]
        else:
            data, bits, collision = self._receive_bits(answers, rx_align)
        if collision:
            self.regs[ERROR] |= 0x08
            # CollPos: 1..31, 0 for the 32nd bit; beyond that CollPosNotValid stays set
            if collision <= 32:
                self.regs[COLL] = (self.regs[COLL] & 0x80) | (collision & 0x1F)
            self.regs[COM_IRQ] |= 0x02
        self.fifo = bytearray(data[:64])
        if len(data) > 64:
            self.regs[ERROR] |= 0x10  # buffer overflow
        self.regs[CONTROL] = bits & 0x07
        self.regs[COM_IRQ] |= 0x20 | 0x10

    def _receive_bits(self, answers, rx_align):
        """What the receiver makes of one or more tags answering at once, bit by bit
        (LSB first): ``(fifo bytes, rx_last_bits, collision)``. The first received bit
        is stored at bit ``rx_align`` of the first byte; ``collision`` is the 1-based
        position of the first bit where the answers differ, counted in the stored frame
        (RxAlign bits included), 0 when they agree. From that bit on, received bits read
        0 unless ValuesAfterColl (CollReg bit 7) is set, then they are OR-ed."""
        streams = [_bits(data, bits) for data, bits in answers]
        length = max(len(s) for s in streams)
        keep_values = self.regs[COLL] & 0x80
        out = [0] * rx_align
        collided = -1
        for i in range(length):
            values = [s[i] if i < len(s) else None for s in streams]
            if collided < 0:
                first = values[0]
                for v in values[1:]:
                    if v != first:
                        collided = i
                        break
            if collided < 0:
                out.append(values[0])
            elif keep_values:
                out.append(1 if 1 in values else 0)
            else:
                out.append(0)
        packed = bytearray((len(out) + 7) // 8)
        for i, bit in enumerate(out):
            if bit:
                packed[i // 8] |= 1 << (i % 8)
        position = rx_align + collided + 1 if collided >= 0 else 0
        return bytes(packed), len(out) % 8, position


def _bits(data, last_bits):
    """The bits of a frame, LSB first; the last byte holds ``last_bits`` (0 = 8)."""
    out = []
    for i, byte in enumerate(data):
        count = (last_bits or 8) if i == len(data) - 1 else 8
        for b in range(count):
            out.append((byte >> b) & 1)
    return out
