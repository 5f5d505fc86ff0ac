"""Login rate limiting: a sliding window of failures per key, clock passed in. Pure."""

from __future__ import annotations

import threading
from collections import deque


class FailureWindow:
    """At most ``limit`` failures per key within ``window_s`` seconds."""

    def __init__(self, limit: int = 5, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def blocked(self, key: str, now: float) -> bool:
        with self._lock:
            return len(self._recent(key, now)) >= self.limit

    def fail(self, key: str, now: float) -> None:
        with self._lock:
            self._recent(key, now).append(now)

    def succeed(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def retry_after(self, key: str, now: float) -> int:
        with self._lock:
            times = self._recent(key, now)
            return int(self.window_s - (now - times[0])) + 1 if times else 0
