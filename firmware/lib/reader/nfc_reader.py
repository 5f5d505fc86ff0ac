# One NFC poll: wake a tag, select it, read what it carries, and say what to report.
#
# NTAG21x with an NDEF URI record -> ("ndef_uri", uri)
# NTAG 424 DNA (ISO-DEP) URI     -> ("sun_url", uri), passed on untouched
# anything else (or no NDEF)     -> ("nfc_uid", UID hex)
# Errors (collision, CRC, timeout, tag removed mid-read, garbage on SPI, bad NDEF) are
# counted in ``errors`` and never escape poll().
from reader import iso14443a, isodep, ntag
from reader.mfrc522 import ChipError, NfcError, NoAnswer, ProtocolError
from reader.portable import ticks_diff, ticks_ms
from reemploi.protocol import ndef, wire

try:
    from binascii import hexlify
except ImportError:  # pragma: no cover
    from ubinascii import hexlify  # type: ignore


class TagRead:
    def __init__(self, kind, data, uid, model=""):
        self.kind = kind
        self.data = data
        self.uid = uid
        self.model = model

    def __repr__(self):
        return "TagRead(" + self.kind + ", " + self.data + ")"


def uid_hex(uid):
    return hexlify(uid).decode().upper()


class NfcReader:
    def __init__(self, chip, holdoff_ms=1500):
        self.chip = chip
        self.holdoff_ms = holdoff_ms
        self.errors = {"timeout": 0, "collision": 0, "crc": 0, "protocol": 0, "chip": 0,
                       "ndef": 0, "removed": 0, "error": 0}
        self.reads = 0
        self.collisions_resolved = 0  # several tags on the antenna, one singled out
        self.ready = False
        self._last_uid = None
        self._last_seen = 0

    def start(self):
        """Initialise the chip; False (counted) when it does not answer."""
        try:
            self.chip.init()
            self.ready = True
        except Exception as exc:  # chip absent, garbage on SPI, bus error
            self.errors["chip"] += 1
            if self.errors["chip"] % 100 == 1:  # say it, without flooding the console
                print("nfc: MFRC522 init failed:", exc)
            self.ready = False
        return self.ready

    def poll(self):
        """Return a TagRead for a newly presented tag, or None. Never raises."""
        if not self.ready and not self.start():
            return None
        try:
            return self._poll()
        except NoAnswer:
            return None  # nothing in the field: the usual case
        except NfcError as exc:
            self.errors[exc.kind] = self.errors.get(exc.kind, 0) + 1
            if isinstance(exc, ChipError):
                self.ready = False  # re-initialise on the next poll
            return None
        except Exception as exc:  # a driver bug must not stop the reader
            self.errors["error"] += 1
            print("nfc: unexpected", repr(exc))
            return None

    def _poll(self):
        # REQA, not WUPA: a tag halted after its read stays quiet while it lies on the
        # antenna, so a second tag beside it answers alone at the next poll
        atqa = iso14443a.wake(self.chip, wupa=False)
        card = iso14443a.select(self.chip, atqa)
        self.collisions_resolved += card.collisions
        now = ticks_ms()
        if card.uid == self._last_uid and ticks_diff(now, self._last_seen) < self.holdoff_ms:
            self._last_seen = now  # still on the reader: not a new tap
            iso14443a.halt(self.chip)
            return None
        read = self._read(card)
        self._last_uid = card.uid
        self._last_seen = ticks_ms()
        iso14443a.halt(self.chip)
        self.reads += 1
        return read

    def _read(self, card):
        uid = uid_hex(card.uid)
        try:
            if card.iso_dep():
                link = isodep.IsoDep(self.chip)
                link.rats()
                uri = ndef.uri_from_file(isodep.read_ndef_file(link))
                return self._checked(wire.KIND_SUN_URL, uri, uid, "Type4")
            if card.sak == 0x00:
                try:
                    name, size = ntag.model(ntag.get_version(self.chip))
                except ProtocolError:  # NAK: not an NTAG21x (e.g. an old Ultralight)
                    return TagRead(wire.KIND_NFC_UID, uid, uid, "")
                uri = ndef.uri_from_tlv(ntag.read_ndef_area(self.chip, size))
                return self._checked(wire.KIND_NDEF_URI, uri, uid, name)
        except ndef.MalformedNdef as exc:
            self.errors["ndef"] += 1
            print("nfc: NDEF unreadable (" + exc.reason + "), UID reported")
        except NoAnswer:
            raise TagRemoved("tag left the field mid-read") from None
        return TagRead(wire.KIND_NFC_UID, uid, uid, "")

    def _checked(self, kind, uri, uid, model):
        try:
            wire.check_tag_data(kind, uri)
        except wire.MalformedMessage:
            self.errors["ndef"] += 1  # not an http(s) URI: report the UID instead
            return TagRead(wire.KIND_NFC_UID, uid, uid, model)
        return TagRead(kind, uri, uid, model)


class TagRemoved(NfcError):
    kind = "removed"
