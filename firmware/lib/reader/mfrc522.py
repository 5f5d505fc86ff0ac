# NXP MFRC522 driver over SPI (datasheet MFRC522 rev 3.9, sections 8.1.2 and 9).
#
# The chip is reached through two small interfaces only, so the same code drives the
# real board (machine.SPI + machine.Pin) and the register-level simulator:
#   spi.write(buf)                 spi.write_readinto(out_buf, in_buf)
#   cs.value(0 | 1)                (chip select, active low)
# One transceive() sends a frame to the tag and returns its answer; the CRC_A of
# ISO/IEC 14443-3 is computed here in software (crc_a), not on the chip.
from reader.portable import const

# registers (datasheet table 20)
_COMMAND = const(0x01)
_COM_IRQ = const(0x04)
_DIV_IRQ = const(0x05)
_ERROR = const(0x06)
_FIFO_DATA = const(0x09)
_FIFO_LEVEL = const(0x0A)
_CONTROL = const(0x0C)
_BIT_FRAMING = const(0x0D)
_COLL = const(0x0E)
_MODE = const(0x11)
_TX_MODE = const(0x12)
_RX_MODE = const(0x13)
_TX_CONTROL = const(0x14)
_TX_ASK = const(0x15)
_T_MODE = const(0x2A)
_T_PRESCALER = const(0x2B)
_T_RELOAD_H = const(0x2C)
_T_RELOAD_L = const(0x2D)
_VERSION = const(0x37)

# commands
_IDLE = const(0x00)
_TRANSCEIVE = const(0x0C)
_SOFT_RESET = const(0x0F)

# ComIrqReg bits
_IRQ_TIMER = const(0x01)
_IRQ_ERR = const(0x02)
_IRQ_IDLE = const(0x10)
_IRQ_RX = const(0x20)

# ErrorReg bits
_ERR_PROTOCOL = const(0x01)
_ERR_PARITY = const(0x02)
_ERR_CRC = const(0x04)
_ERR_COLL = const(0x08)
_ERR_BUFFER_OVF = const(0x10)

KNOWN_VERSIONS = (0x88, 0x90, 0x91, 0x92, 0x12, 0xB2)  # clones included

POLL_LIMIT = const(2000)  # ComIrqReg reads before giving up (chip timer is 25 ms)


class NfcError(Exception):
    """A radio exchange failed; ``kind`` says how (counted by the reader)."""

    kind = "error"


class NoAnswer(NfcError):
    kind = "timeout"


class Collision(NfcError):
    """Two tags answered at once. ``position`` is the first colliding bit, 1-based and
    counted in the frame as stored in the FIFO (RxAlign bits included), 0 when the chip
    could not place it; ``data`` is what was received (bits from the collision on are
    cleared) and ``last_bits`` the valid bits of its last byte (0 = 8)."""

    kind = "collision"

    def __init__(self, position=0, data=b"", last_bits=0):
        super().__init__("collision at bit " + str(position))
        self.position = position
        self.data = data
        self.last_bits = last_bits


class CrcError(NfcError):
    kind = "crc"


class ProtocolError(NfcError):
    kind = "protocol"


class ChipError(NfcError):
    """The MFRC522 itself does not answer sensibly (wiring, power, garbage on SPI)."""

    kind = "chip"


def crc_a(data, length=None):
    """CRC_A of ISO/IEC 14443-3 (x^16+x^12+x^5+1, preset 0x6363, LSB first)."""
    crc = 0x6363
    n = len(data) if length is None else length
    for i in range(n):
        byte = data[i] ^ (crc & 0xFF)
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = ((crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)) & 0xFFFF
    return bytes((crc & 0xFF, crc >> 8))


def with_crc(data):
    return bytes(data) + crc_a(data)


def check_crc(frame):
    """Strip and verify the 2 CRC bytes of a frame from the tag."""
    if len(frame) < 3 or crc_a(frame, len(frame) - 2) != bytes(frame[-2:]):
        raise CrcError("bad CRC_A")
    return bytes(frame[:-2])


class Mfrc522:
    def __init__(self, spi, cs, reset_pin=None):
        self.spi = spi
        self.cs = cs
        self.reset_pin = reset_pin
        self._two = bytearray(2)
        self._in = bytearray(2)
        self.version = None
        cs.value(1)

    # ---------------------------------------------------------------- registers

    def write(self, reg, value):
        self._two[0] = (reg << 1) & 0x7E
        self._two[1] = value
        self.cs.value(0)
        self.spi.write(self._two)
        self.cs.value(1)

    def read(self, reg):
        self._two[0] = ((reg << 1) & 0x7E) | 0x80
        self._two[1] = 0
        self.cs.value(0)
        self.spi.write_readinto(self._two, self._in)
        self.cs.value(1)
        return self._in[1]

    def set_bits(self, reg, mask):
        self.write(reg, self.read(reg) | mask)

    def clear_bits(self, reg, mask):
        self.write(reg, self.read(reg) & ~mask & 0xFF)

    def write_fifo(self, data):
        out = bytearray(len(data) + 1)
        out[0] = (_FIFO_DATA << 1) & 0x7E
        out[1:] = data
        self.cs.value(0)
        self.spi.write(out)
        self.cs.value(1)

    def read_fifo(self, count):
        # one transaction: the address byte repeated, each answer is the next FIFO byte
        addr = ((_FIFO_DATA << 1) & 0x7E) | 0x80
        out = bytearray(count + 1)
        for i in range(count):
            out[i] = addr
        rx = bytearray(count + 1)
        self.cs.value(0)
        self.spi.write_readinto(out, rx)
        self.cs.value(1)
        return bytes(rx[1:])

    # ---------------------------------------------------------------- set-up

    def init(self):
        """Reset and configure the chip; raises ChipError when it is not there."""
        if self.reset_pin is not None:
            self.reset_pin.value(1)
        self.write(_COMMAND, _SOFT_RESET)
        for _ in range(100):
            if not self.read(_COMMAND) & 0x10:  # PowerDown cleared: reset done
                break
        self.version = self.read(_VERSION)
        if self.version not in KNOWN_VERSIONS:
            raise ChipError("MFRC522 not found (version 0x%02X)" % self.version)
        self.write(_T_MODE, 0x80)  # timer starts after each transmission
        self.write(_T_PRESCALER, 0xA9)  # 40 kHz timer ticks
        self.write(_T_RELOAD_H, 0x03)
        self.write(_T_RELOAD_L, 0xE8)  # 1000 ticks = 25 ms answer timeout
        self.write(_TX_ASK, 0x40)  # 100 % ASK
        self.write(_MODE, 0x3D)  # CRC preset 0x6363
        self.write(_TX_MODE, 0x00)  # 106 kbit/s, no hardware CRC
        self.write(_RX_MODE, 0x00)
        self.clear_bits(_COLL, 0x80)  # ValuesAfterColl = 0: bits after a collision read 0
        self.antenna(True)

    def antenna(self, on):
        if on:
            self.set_bits(_TX_CONTROL, 0x03)
        else:
            self.clear_bits(_TX_CONTROL, 0x03)

    # ---------------------------------------------------------------- exchange

    def transceive(self, data, tx_last_bits=0, rx_align=0):
        """Send ``data`` (last byte ``tx_last_bits`` long, 0 = 8) and return the answer
        as ``(bytes, rx_last_bits)``; the first bit received is stored at bit
        ``rx_align`` of the first byte (bit-oriented anticollision frames). Raises
        NoAnswer, Collision, CrcError, ProtocolError or ChipError."""
        self.write(_COMMAND, _IDLE)
        self.write(_COM_IRQ, 0x7F)  # clear all interrupt flags
        self.write(_FIFO_LEVEL, 0x80)  # flush the FIFO
        self.write_fifo(data)
        self.write(_BIT_FRAMING, ((rx_align & 0x07) << 4) | (tx_last_bits & 0x07))
        self.write(_COMMAND, _TRANSCEIVE)
        self.set_bits(_BIT_FRAMING, 0x80)  # StartSend
        irq = 0
        for _ in range(POLL_LIMIT):
            irq = self.read(_COM_IRQ)
            if irq & (_IRQ_RX | _IRQ_IDLE | _IRQ_TIMER | _IRQ_ERR):
                break
        else:
            self.clear_bits(_BIT_FRAMING, 0x80)
            raise ChipError("no interrupt from the MFRC522")
        self.clear_bits(_BIT_FRAMING, 0x80)
        error = self.read(_ERROR)
        if error & _ERR_COLL:
            coll = self.read(_COLL)
            # CollPos: 1..31, 0 means the 32nd bit; CollPosNotValid: out of range
            position = 0 if coll & 0x20 else ((coll & 0x1F) or 32)
            level = self.read(_FIFO_LEVEL) & 0x7F
            data = self.read_fifo(level) if 0 < level <= 64 else b""
            raise Collision(position, data, self.read(_CONTROL) & 0x07)
        if error & (_ERR_BUFFER_OVF | _ERR_PARITY | _ERR_PROTOCOL):
            raise ProtocolError("MFRC522 error 0x%02X" % error)
        if error & _ERR_CRC:
            raise CrcError("CRC error reported by the MFRC522")
        if not irq & (_IRQ_RX | _IRQ_IDLE):
            raise NoAnswer("no answer from a tag")
        level = self.read(_FIFO_LEVEL) & 0x7F
        if level == 0:
            raise NoAnswer("empty answer")
        if level > 64:
            raise ChipError("FIFO level " + str(level))
        last_bits = self.read(_CONTROL) & 0x07
        return self.read_fifo(level), last_bits
