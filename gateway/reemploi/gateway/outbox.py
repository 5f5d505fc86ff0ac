"""The gateway's outbox as a pure state machine: no I/O, the clock is passed in.

Every message the gateway must deliver to the central broker (reader scans, evidence of
malformed reader messages, lot movements) becomes an :class:`Entry` once it is safely on
disk (see :mod:`reemploi.gateway.outbox_store`). The machine decides what to publish next,
in insertion order (hence in per-device order), tracks each QoS 1 publish handle (the
MQTT message id) until the central broker acknowledges it, and keeps the numbers that
health reports.

Transitions (one table, the only ones allowed)::

    state      event            next       note
    ---------  ---------------  ---------  ----------------------------------------------
    (none)     accepted         queued     written to disk first; refused when full
    queued     sent(mid)        inflight   only while the link is up, within the window
    inflight   acked(mid)       (gone)     the central broker has it; delete from disk
    inflight   refused(mid)     held       the broker said no (MQTT 5 reason code)
    held       retry_held       queued     the ACL was fixed: operator or retry timer
    inflight   restarted        queued     a new process cannot trust old handles

Budget: a reader message that does not fit in ``max_bytes`` is not written; the bridge
leaves it unacknowledged on the local broker (:meth:`Outbox.defer_local`), and so is
every later reader message (to keep each device's order), until the outbox has drained
below ``high_water`` (:meth:`Outbox.resume_due`); the local broker then redelivers them.

A link loss keeps in-flight entries in flight: the MQTT client retransmits them with
the same handle when it reconnects. Only a restart re-queues them, which may deliver a
scan twice; the central side accepts each idempotency key once.

A refused entry holds its *stream* (its topic: one reader's scans, or one kind of the
gateway's own messages): later entries of that stream stay queued behind it, so a
device's order survives an ACL mistake, while every other stream keeps flowing. Entries
of the same stream already in flight when the refusal arrives are held too if refused
(an ACL refuses the whole topic), or delivered if accepted.

Illegal transitions raise :class:`IllegalTransition` and change nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

QUEUED = "queued"
INFLIGHT = "inflight"
HELD = "held"

TRANSITIONS: dict[tuple[str | None, str], str | None] = {
    (None, "accepted"): QUEUED,
    (QUEUED, "sent"): INFLIGHT,
    (INFLIGHT, "acked"): None,
    (INFLIGHT, "refused"): HELD,
    (HELD, "retry_held"): QUEUED,
    (INFLIGHT, "restarted"): QUEUED,
}

ALARM_OUTBOX_HIGH = "outbox_high"
ALARM_OUTBOX_FULL = "outbox_full"
ALARM_CLOCK_JUMP = "clock_jump"
ALARM_REFUSED = "central_refused"

DEFER_BUDGET = "budget"
DEFER_DISK = "disk"


class IllegalTransition(Exception):
    """A caller asked the outbox for a transition the table does not allow (a bug)."""


class OutboxFull(Exception):
    """The outbox reached its disk budget: the new message is refused and counted."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What the machine keeps per message: no payload, so 100,000 entries stay small."""

    id: int  # position in the outbox, strictly increasing
    received_at: float  # gateway clock (s) when it was accepted
    size: int  # bytes on disk (topic + payload)
    stream: str = ""  # what order is kept within: the topic (interned, so shared)


@dataclass(slots=True)
class Counters:
    accepted: int = 0
    delivered: int = 0
    duplicates: int = 0
    drops: int = 0
    deferred: int = 0  # reader messages left on the local broker (budget or full disk)
    refused: int = 0
    clock_jumps: int = 0


@dataclass
class Outbox:
    """Pure store-and-forward logic. Sizes in bytes, times in seconds (any clock)."""

    max_bytes: int
    window: int = 200
    high_water: float = 0.8
    _queued: OrderedDict[int, Entry] = field(default_factory=OrderedDict)
    _inflight: dict[int, Entry] = field(default_factory=dict)  # mid -> entry
    _held: OrderedDict[int, Entry] = field(default_factory=OrderedDict)
    _held_streams: set[str] = field(default_factory=set)
    _bytes: int = 0
    _last_now: float | None = None
    link_up: bool = False
    counters: Counters = field(default_factory=Counters)
    _deferring: str | None = None  # DEFER_BUDGET / DEFER_DISK while deferring

    # ------------------------------------------------------------ input events

    def accept(self, entry: Entry, now: float, budget: bool = True) -> None:
        """A message is on disk: queue it. Raises :class:`OutboxFull` past the budget,
        unless ``budget`` is false (the gateway's own few messages are never refused)."""
        self._observe_clock(now)
        if budget and self._bytes + entry.size > self.max_bytes:
            self.counters.drops += 1
            self._deferring = DEFER_BUDGET
            raise OutboxFull(f"outbox full: {self._bytes} + {entry.size} > {self.max_bytes} bytes")
        if entry.id in self._queued or entry.id in self._held or self._inflight_has(entry.id):
            raise IllegalTransition(f"entry {entry.id} is already in the outbox")
        self._queued[entry.id] = entry
        self._bytes += entry.size
        self.counters.accepted += 1

    def restore(self, entries: list[Entry], held_ids: set[int] | None = None) -> None:
        """Load a store's entries at start-up: anything in flight before is queued again."""
        held_ids = held_ids or set()
        for entry in sorted(entries, key=lambda e: e.id):
            if entry.id in held_ids:
                self._held[entry.id] = entry
                self._held_streams.add(entry.stream)
            else:
                self._queued[entry.id] = entry
            self._bytes += entry.size

    def fits(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is within the disk budget."""
        return self._bytes + size <= self.max_bytes

    def defer_local(self, count: int = 1, reason: str = DEFER_BUDGET) -> None:
        """Reader messages left unacknowledged on the local broker: no room in the budget
        (``budget``) or the disk refused the write (``disk``)."""
        self.counters.deferred += count
        if self._deferring != DEFER_DISK:
            self._deferring = reason

    @property
    def deferring(self) -> str | None:
        """While set, every new reader message is deferred (per-device order)."""
        return self._deferring

    def resume_due(self) -> bool:
        """Deferred for the budget, and the outbox drained below ``high_water``: time to
        take the deferred messages back (the local broker redelivers them). A full disk
        is retried by the caller's timer instead."""
        return self._deferring == DEFER_BUDGET and self._bytes <= self.max_bytes * self.high_water

    def resumed(self) -> None:
        self._deferring = None

    def inflight_mids(self) -> dict[int, Entry]:
        """Message ids awaiting a PUBACK (read-only view)."""
        return self._inflight

    def duplicate_seen(self) -> None:
        """A reader resent something already in the outbox (same idempotency key)."""
        self.counters.duplicates += 1

    def link_changed(self, up: bool, now: float) -> None:
        self._observe_clock(now)
        self.link_up = up

    def next_batch(self, now: float) -> list[Entry]:
        """Entries to publish now, oldest first, within the in-flight window, skipping
        the streams held behind a refused entry."""
        self._observe_clock(now)
        if not self.link_up:
            return []
        room = self.window - len(self._inflight)
        if room <= 0:
            return []
        batch: list[Entry] = []
        held = self._held_streams
        for entry in self._queued.values():
            if len(batch) >= room:
                break
            if held and entry.stream in held:
                continue
            batch.append(entry)
        return batch

    def sent(self, entry_id: int, mid: int) -> None:
        entry = self._queued.get(entry_id)
        if entry is None:
            raise IllegalTransition(f"entry {entry_id} is not queued")
        if mid in self._inflight:
            raise IllegalTransition(f"message id {mid} is already in flight")
        del self._queued[entry_id]
        self._inflight[mid] = entry

    def acked(self, mid: int) -> Entry:
        """The central broker acknowledged ``mid``; the caller deletes it from disk."""
        entry = self._inflight.pop(mid, None)
        if entry is None:
            raise IllegalTransition(f"message id {mid} is not in flight")
        self._bytes -= entry.size
        self.counters.delivered += 1
        return entry

    def refused(self, mid: int) -> Entry:
        """The central broker answered with a failure reason code (MQTT 5)."""
        entry = self._inflight.pop(mid, None)
        if entry is None:
            raise IllegalTransition(f"message id {mid} is not in flight")
        self._held[entry.id] = entry
        self._held_streams.add(entry.stream)
        self.counters.refused += 1
        return entry

    def requeue_inflight(self) -> int:
        """A new central client (restart, reload): old handles are void, queue again."""
        count = len(self._inflight)
        merged = OrderedDict(
            sorted([*((e.id, e) for e in self._inflight.values()), *self._queued.items()])
        )
        self._queued = merged
        self._inflight = {}
        return count

    def retry_held(self) -> int:
        """Put refused entries back at the head of the queue, in their original order."""
        count = len(self._held)
        merged = OrderedDict(sorted([*self._held.items(), *self._queued.items()]))
        self._queued = merged
        self._held = OrderedDict()
        self._held_streams = set()
        return count

    # ------------------------------------------------------------ what health reads

    @property
    def depth(self) -> int:
        return len(self._queued) + len(self._inflight) + len(self._held)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def held_streams(self) -> list[str]:
        return sorted(self._held_streams)

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def oldest_unsent_age(self, now: float) -> float | None:
        """Seconds since the oldest undelivered entry was accepted (0 after a clock jump)."""
        oldest: float | None = None
        for group in (self._held.values(), self._inflight.values(), self._queued.values()):
            for entry in group:
                if oldest is None or entry.received_at < oldest:
                    oldest = entry.received_at
                break  # each group is in insertion order; the first is its oldest
        if oldest is None:
            return None
        return max(0.0, now - oldest)

    def alarms(self) -> list[str]:
        found = []
        if self._bytes >= self.max_bytes * self.high_water:
            found.append(ALARM_OUTBOX_HIGH)
        if self._deferring == DEFER_BUDGET:
            found.append(ALARM_OUTBOX_FULL)
        if self._held:
            found.append(ALARM_REFUSED)
        if self.counters.clock_jumps:
            found.append(ALARM_CLOCK_JUMP)
        return found

    # ------------------------------------------------------------ internals

    def _inflight_has(self, entry_id: int) -> bool:
        return any(e.id == entry_id for e in self._inflight.values())

    def _observe_clock(self, now: float) -> None:
        if self._last_now is not None and now < self._last_now - 1.0:
            self.counters.clock_jumps += 1  # the clock went back: ages are clamped at 0
        self._last_now = now
