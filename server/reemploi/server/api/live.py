"""Live feed of custody events to browsers (server-sent events).

The ingest writer thread publishes; each browser connection has a bounded asyncio queue
(a slow browser loses old items, never blocks ingest).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from ..ingest.pipeline import BatchResult


class LiveHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = set()

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]:
        entry = (asyncio.get_running_loop(), asyncio.Queue[str](maxsize=500))
        with self._lock:
            self._subscribers.add(entry)
        return entry

    def unsubscribe(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]) -> None:
        with self._lock:
            self._subscribers.discard(entry)

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        text = json.dumps({"type": kind, **payload}, ensure_ascii=False)
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, q in subscribers:
            loop.call_soon_threadsafe(_offer, q, text)

    def on_batch(self, result: BatchResult) -> None:
        for event in result.live:
            self.publish("custody", asdict(event))
        if result.live or result.counts:
            self.publish("counts", {"counts": dict(result.counts)})

    async def stream(self, heartbeat_s: float = 15.0) -> AsyncIterator[str]:
        entry = self.subscribe()
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    text = await asyncio.wait_for(entry[1].get(), heartbeat_s)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {text}\n\n"
        finally:
            self.unsubscribe(entry)


def _offer(q: asyncio.Queue[str], text: str) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(text)
