"""A page-level NTAG213/215/216 model: what a real tag accepts and refuses on writes.

Used by the tests and by ``--reader simule``. It honours read-only UID pages, the
one-time-programmable capability container, static and dynamic lock bits, ``AUTH0`` /
``PWD`` write protection (PWD and PACK read back as zeros), and can be "pulled away"
after a given number of writes.
"""

from __future__ import annotations

from .ntag21x import MODELS, PAGE_BYTES
from .tag_link import TagGone, TagNak

__all__ = ["SimulatedNtag"]

NAK_INVALID = 0x0
NAK_PROTECTED = 0x4  # wrong password / write to a protected or locked page


class SimulatedNtag:
    def __init__(
        self, uid: bytes, model: str = "NTAG213", writes_before_removal: int | None = None
    ) -> None:
        if len(uid) != 7:
            raise ValueError("NTAG21x UIDs are 7 bytes")
        self.model = MODELS[model]
        self.uid = uid
        pages = bytearray(self.model.pages * PAGE_BYTES)
        pages[0:3] = uid[0:3]
        pages[3] = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
        pages[4:8] = uid[3:7]
        pages[8] = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
        pages[9] = 0x48
        pages[12:16] = self.model.capability_container
        self.memory = pages
        self._set(self.model.cfg0_page, bytes.fromhex("040000FF"))
        self._set(self.model.cfg1_page, bytes.fromhex("00050000"))
        self._set(self.model.pwd_page, b"\xff\xff\xff\xff")
        self.authenticated = False
        self.writes_before_removal = writes_before_removal
        self.present = True
        self.write_count = 0

    # ------------------------------------------------------------ helpers

    def _page(self, page: int) -> bytes:
        return bytes(self.memory[page * PAGE_BYTES : (page + 1) * PAGE_BYTES])

    def _set(self, page: int, data: bytes) -> None:
        self.memory[page * PAGE_BYTES : (page + 1) * PAGE_BYTES] = data

    def _check_present(self) -> None:
        if not self.present:
            raise TagGone("étiquette retirée du lecteur")

    def _auth0(self) -> int:
        return self._page(self.model.cfg0_page)[3]

    def _locked(self, page: int) -> bool:
        static = self._page(2)[2:4]
        if 3 <= page <= 15:
            byte, bit = divmod(page, 8)
            return bool(static[byte] >> bit & 1)
        dynamic = self._page(self.model.dynamic_lock_page)
        if 16 <= page <= self.model.user_last_page:
            return any(dynamic[:3])  # coarse: any dynamic lock bit locks the upper pages
        return False

    def lock_permanently(self) -> None:
        """What a phone app's "make read-only" does: set every lock bit."""
        self.memory[10:12] = b"\xff\xff"
        self._set(self.model.dynamic_lock_page, b"\xff\xff\xff\x00")

    def remove(self) -> None:
        self.present = False
        self.authenticated = False

    def put_back(self) -> None:
        self.present = True

    # ------------------------------------------------------------ TagLink

    def get_version(self) -> bytes:
        self._check_present()
        return bytes([0x00, 0x04, 0x04, 0x02, 0x01, 0x00, self.model.version_byte, 0x03])

    def read(self, page: int) -> bytes:
        self._check_present()
        if not 0 <= page < self.model.pages:
            raise TagNak("READ", page, NAK_INVALID)
        out = b""
        for offset in range(4):
            number = (page + offset) % self.model.pages
            data = self._page(number)
            if number in (self.model.pwd_page, self.model.pack_page):
                data = bytes(4)
            out += data
        return out

    def write(self, page: int, data: bytes) -> None:
        self._check_present()
        if (
            self.writes_before_removal is not None
            and self.write_count >= self.writes_before_removal
        ):
            self.remove()
            raise TagGone("étiquette retirée pendant l'écriture")
        if len(data) != PAGE_BYTES or not 2 <= page < self.model.pages:
            raise TagNak("WRITE", page, NAK_INVALID)
        if self._locked(page):
            raise TagNak("WRITE", page, NAK_PROTECTED)
        if page >= self._auth0() and not self.authenticated:
            raise TagNak("WRITE", page, NAK_PROTECTED)
        current = self._page(page)
        if page == 2:  # only the lock bytes are writable, bits are OR-ed
            data = current[:2] + bytes(a | b for a, b in zip(current[2:], data[2:], strict=True))
        elif page == 3:  # capability container: one-time programmable
            data = bytes(a | b for a, b in zip(current, data, strict=True))
        self._set(page, data)
        self.write_count += 1

    def pwd_auth(self, password: bytes) -> bytes:
        self._check_present()
        if password != self._page(self.model.pwd_page):
            self.authenticated = False
            raise TagNak("PWD_AUTH", 0, NAK_PROTECTED)
        self.authenticated = True
        return self._page(self.model.pack_page)[:2]
