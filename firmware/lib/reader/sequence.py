# The per-device scan sequence number, kept across reboots.
#
# Writing flash on every scan wears it, so the counter reserves numbers in blocks: the
# file holds the first number NOT yet handed out by this block. After a reboot the
# reader starts from that number, so numbers are never reused (a gap of at most one
# block is normal and harmless: the platform only refuses a reused number).
import os

BLOCK = 32


class SequenceCounter:
    def __init__(self, path="seq.txt", block=BLOCK):
        self.path = path
        self.block = block
        self.errors = 0  # flash write failures (counted, reported)
        self._next = self._read()
        self._limit = self._next
        self._reserve()

    def _read(self):
        for candidate in (self.path, self.path + ".tmp"):
            try:
                with open(candidate) as f:
                    value = int(f.read().strip())
                if value >= 0:
                    return value
            except (OSError, ValueError):
                pass
        return 0

    def _reserve(self):
        limit = self._next + self.block
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w") as f:
                f.write(str(limit))
            os.rename(tmp, self.path)
            self._limit = limit
        except OSError as exc:
            # flash full or failing: keep counting in RAM, retry at the next number
            self.errors += 1
            print("seq: cannot persist the sequence number:", exc)
            self._limit = self._next + 1

    def next(self):
        value = self._next
        self._next += 1
        if self._next >= self._limit:
            self._reserve()
        return value

    def peek(self):
        return self._next
