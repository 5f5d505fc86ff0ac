# The offline queue: every scan is written here before it is published and stays until
# the platform acknowledges it, so scans survive Wi-Fi loss, broker restarts and reboots.
#
# On flash it is an append-only journal of lines: "+<scan JSON>" when a scan is queued,
# "-<key>" when it is acknowledged or dropped. Replaying the journal at boot gives the
# pending scans in order; the journal is compacted (rewritten to a temporary file, then
# renamed) when it grows, and removed when the queue is empty.
#
# Bounded: beyond max_scans the OLDEST scan is dropped and counted (drops, reported in
# status and on the console), never silently. If flash writes fail (flash full), the scan
# is still kept in RAM and the failure is counted.
import os

from reemploi.protocol import wire


class Entry:
    def __init__(self, seq, key, payload):
        self.seq = seq
        self.key = key
        self.payload = payload  # encoded scan message (bytes)
        self.sent_ms = None  # ticks of the last publish, None = not sent on this link


class OfflineQueue:
    def __init__(self, path="queue.log", max_scans=100):
        self.path = path
        self.max_scans = max_scans
        self.entries = []
        self.drops = 0  # scans dropped because the queue was full (since boot)
        self.flash_errors = 0
        self.corrupt_lines = 0  # journal lines that could not be read at boot
        self._journal_lines = 0
        self._load()

    def __len__(self):
        return len(self.entries)

    # ---------------------------------------------------------------- journal

    def _load(self):
        pending = []
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        with f:
            for raw in f:
                line = raw.strip()
                if not line:
                    continue
                self._journal_lines += 1
                mark = line[:1]
                if mark == b"+":
                    try:
                        scan = wire.decode_scan(line[1:])
                    except wire.MalformedMessage:
                        self.corrupt_lines += 1  # e.g. a line cut by a power loss
                        continue
                    pending.append(Entry(scan.seq, scan.key, bytes(line[1:])))
                elif mark == b"-":
                    key = line[1:].decode()
                    pending = [e for e in pending if e.key != key]
                else:
                    self.corrupt_lines += 1
        if len(pending) > self.max_scans:
            self.drops += len(pending) - self.max_scans
            pending = pending[-self.max_scans :]
        self.entries = pending
        self._compact()

    def _append(self, line):
        try:
            with open(self.path, "ab") as f:
                f.write(line + b"\n")
            self._journal_lines += 1
            return True
        except OSError as exc:
            self.flash_errors += 1
            print("queue: flash write failed, scan kept in RAM only:", exc)
            return False

    def _compact(self):
        if not self.entries:
            try:
                os.remove(self.path)
            except OSError:
                pass
            self._journal_lines = 0
            return
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "wb") as f:
                for entry in self.entries:
                    f.write(b"+" + entry.payload + b"\n")
            os.rename(tmp, self.path)
            self._journal_lines = len(self.entries)
        except OSError as exc:
            self.flash_errors += 1
            print("queue: compaction failed:", exc)

    # ---------------------------------------------------------------- operations

    def push(self, scan):
        """Queue a scan (a wire.Scan); returns its Entry. Drops the oldest when full."""
        payload = wire.encode_scan(scan)
        entry = Entry(scan.seq, scan.key, payload)
        if len(self.entries) >= self.max_scans:
            oldest = self.entries.pop(0)
            self.drops += 1
            print("queue: full, oldest scan dropped, seq", oldest.seq)
            self._append(b"-" + oldest.key.encode())
        self.entries.append(entry)
        self._append(b"+" + payload)
        return entry

    def acknowledge(self, key):
        """Forget the scan with this idempotency key; returns its Entry or None."""
        for index, entry in enumerate(self.entries):
            if entry.key == key:
                del self.entries[index]
                if not self.entries:
                    self._compact()  # empty: remove the journal
                else:
                    self._append(b"-" + key.encode())
                    if self._journal_lines > 3 * self.max_scans:
                        self._compact()
                return entry
        return None

    def due(self, now_ms, resend_ms, ticks_diff):
        """Entries to publish now: never sent on this link, or unacknowledged too long."""
        out = []
        for entry in self.entries:
            if entry.sent_ms is None or ticks_diff(now_ms, entry.sent_ms) >= resend_ms:
                out.append(entry)
        return out

    def link_restarted(self):
        for entry in self.entries:
            entry.sent_ms = None
