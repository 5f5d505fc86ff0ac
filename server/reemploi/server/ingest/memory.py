"""What the ledger writer remembers of its last commits, to skip a batch's reads.

On PostgreSQL a batch costs two round trips: its reads (the chain's head, the sightings
already stored under the batch's sequence numbers, the assets behind its links), then its
writes and ``COMMIT``. A tap often concerns an asset the same writer has just written —
a double tap, a check at the counter, the next step at a workshop a few days later. For
such a batch the writer takes the assets and the chain's head from what it committed
last, and skips the reads: one round trip instead of two.

What is remembered is only a hint, checked by the database inside the batch's own
transaction, in the same round trip as its writes:

- the chain's head, by :func:`head_guard` when the batch appends events: still the one
  remembered, locked like :func:`reemploi.server.ledger.read_head` locks it;
- the assets, by :func:`assets_guard`: every remembered asset the batch relies on must
  still be as remembered (state, holder, category), locked when the batch moves one —
  after the head, the order every writer follows (:func:`reemploi.server.ledger.lock_head`);
- the sightings, by the unique ``(device_id, seq)`` constraint: a sequence number already
  stored (a duplicate, a replay) makes the sightings' insert fail.

A failed check fails the statement (a division by zero or a unique violation, see
:func:`is_stale`): the transaction rolls back, nothing is kept, the memory is forgotten
and the batch is done again with its reads. Another writer (the web application
recording a sale, the writer of the other half of a :class:`~.writer.HybridWriter`)
therefore never makes this writer wrong, only slower once.

PostgreSQL only: SQLite's reads are calls in the same process, with no round trip to save.
"""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reemploi.domain.custody import FINAL_STATES

from ..db.fastpath import BULK_MIN_ROWS
from ..ledger import Head

# The SQLSTATEs of a failed check: division_by_zero (a guard), unique_violation (a
# sequence number already stored).
_STALE_STATES = frozenset({"22012", "23505"})

# The channel the database announces other writers' changes to assets on (migration
# 0010_assets_notify): ``[id, epc, category, state, holder_org_id, holder_site_id]``, or
# ``[id, epc]`` for an asset deleted.
CHANNEL = "reemploi_assets"

# A batch of more scans than this reads its assets whatever is remembered: its reads are
# a small part of its time, a stale memory would make it do all its work twice, and a
# batch written in bulk (COPY, see db/fastpath.py) would send its checks outside the
# write pipeline, a round trip each.
RECALL_MAX_SCANS = BULK_MIN_ROWS - 1

_FINAL_VALUES = frozenset(state.value for state in FINAL_STATES)  # not loaded, not kept


@dataclass(frozen=True)
class KnownAsset:
    """An asset as the writer last committed or read it."""

    id: int
    epc: str
    category: str
    state: str
    holder_org: str
    holder_site: str

    @classmethod
    def of(cls, row: Sequence[Any]) -> KnownAsset:
        """From ``(id, epc, category, state, holder_org_id, holder_site_id)``; the
        strings thousands of assets share (category, state, holder) are kept once."""
        intern = sys.intern
        return cls(
            int(row[0]),
            str(row[1]),
            intern(str(row[2])),
            intern(str(row[3])),
            intern(str(row[4])),
            intern(str(row[5])),
        )


# An asset as kept, and as one writer of a HybridWriter tells the other: (id, epc,
# category, state, holder_org, holder_site). A plain tuple of strings and an int, which
# Python's cycle collector stops tracking after its first pass: 50,000 assets kept as
# objects added ≈ 13 ms to each full collection of the writer's process (measured), a
# pause every scan queued behind it waits for; as tuples, ≈ 0.6 ms.
AssetRow = tuple[int, str, str, str, str, str]


def asset_row(asset: KnownAsset) -> AssetRow:
    return (
        asset.id,
        asset.epc,
        asset.category,
        asset.state,
        asset.holder_org,
        asset.holder_site,
    )


class WriterMemory:
    """The assets (the last ``assets_max`` used, by EPC) and the chain's head as of the
    writer's last commit. One per writer connection's pipeline; not thread-safe (a
    writer writes one batch at a time)."""

    def __init__(self, assets_max: int = 10_000) -> None:
        if assets_max < 1:
            raise ValueError("assets_max must be at least 1")
        self.assets_max = assets_max
        self._assets: OrderedDict[str, AssetRow] = OrderedDict()
        self.head: Head | None = None
        self.batches = 0  # batches written without their reads
        self.stale = 0  # ... of which found stale by the database and done again
        self.notices = 0  # changes announced by the database (see :meth:`notified`)
        self.unreadable = 0  # ... of which could not be read (the memory was emptied)

    def __len__(self) -> int:
        return len(self._assets)

    def asset(self, epc: str) -> KnownAsset | None:
        row = self._assets.get(epc)
        if row is None:
            return None
        self._assets.move_to_end(epc)
        return KnownAsset(*row)

    def remember(self, assets: Iterable[KnownAsset], head: Head | None) -> None:
        """After a commit: the assets it read or wrote, as committed, and the chain's
        head when the batch read or moved it (None: unchanged)."""
        self.remember_rows((asset_row(asset) for asset in assets), head)

    def remember_rows(self, rows: Iterable[AssetRow], head: Head | None) -> None:
        """:meth:`remember` with the assets as :func:`asset_row` gives them."""
        known = self._assets
        for row in rows:
            epc = row[1]
            known[epc] = row
            known.move_to_end(epc)
        while len(known) > self.assets_max:
            known.popitem(last=False)
        if head is not None:  # a batch without scans or events leaves it as it was
            self.head = head

    def load(self, assets: Iterable[KnownAsset], head: Head | None) -> None:
        """Start afresh from ``assets`` (least recently changed first: the last
        ``assets_max`` are kept) and the chain's ``head``."""
        self._assets.clear()
        self.remember(assets, None)
        self.head = head

    def notified(self, payload: str) -> None:
        """A change another writer committed, as the database announced it on
        :data:`CHANNEL`: the asset as it now is (remembered, unless it has left the
        chain of reuse), or gone. A notice it cannot read empties the memory: nothing
        remembered can be trusted to be current any more."""
        self.notices += 1
        try:
            row = json.loads(payload)
            if not isinstance(row, list) or len(row) not in (2, 6):
                raise ValueError(f"expected 2 or 6 fields: {payload[:100]!r}")
            if len(row) == 2:
                self._assets.pop(str(row[1]), None)
                return
            asset = KnownAsset.of(row)
            if asset.state in _FINAL_VALUES:
                self._assets.pop(asset.epc, None)
            else:
                self.remember((asset,), None)
        except (ValueError, TypeError):
            self.unreadable += 1
            self.forget()

    def forget(self, assets: Iterable[KnownAsset] | None = None) -> None:
        """After a failure: ``assets`` (the ones a batch found stale) and the chain's
        head; everything when ``assets`` is None (a commit whose outcome is unknown)."""
        self.head = None
        if assets is None:
            self._assets.clear()
            return
        for asset in assets:
            self._assets.pop(asset.epc, None)


def preload_query(assets_max: int) -> tuple[str, dict[str, Any]]:
    """The assets still in hand (not sold, donated, dismantled or recycled), the
    ``assets_max`` most recently changed, least recent first, as :meth:`KnownAsset.of`
    takes them: what a writer starts with."""
    finals = ", ".join(f"'{value}'" for value in sorted(_FINAL_VALUES))
    sql = (
        "SELECT id, epc, category, state, holder_org_id, holder_site_id FROM ("
        "SELECT id, epc, category, state, holder_org_id, holder_site_id, updated_at"
        f" FROM assets WHERE state NOT IN ({finals})"
        " ORDER BY updated_at DESC, id DESC LIMIT :n) AS recent ORDER BY updated_at, id"
    )
    return sql, {"n": assets_max}


def is_stale(error: BaseException) -> bool:
    """The error one of the checks raises when the memory no longer matches the database."""
    return getattr(error, "sqlstate", None) in _STALE_STATES


def assets_guard(known: Sequence[KnownAsset], lock: bool) -> tuple[str, dict[str, Any]]:
    """A statement failing (division by zero) unless every one of ``known`` (distinct
    ids) is still as remembered — a row changed or gone; with ``lock``, their rows stay
    locked until the transaction ends (the batch moves some of them: nobody else may in
    between), in the order of their ids. One primary-key probe per asset, each a scalar
    subquery: measured on PostgreSQL 15, ≈ 45 µs of server time for one asset locked,
    against ≈ 75 µs for the same check as a count over an ``OR`` of probes."""
    if not known:
        raise ValueError("assets_guard: nothing to check")
    lock_clause = " FOR UPDATE" if lock else ""
    probes: list[str] = []
    params: dict[str, Any] = {}
    for i, asset in enumerate(sorted(known, key=lambda a: a.id)):
        probes.append(
            f"coalesce((SELECT (epc = :e{i} AND category = :c{i} AND state = :s{i}"
            f" AND holder_org_id = :o{i} AND holder_site_id = :h{i})::int"
            f" FROM assets WHERE id = :i{i}{lock_clause}), 0)"
        )
        params.update(
            {
                f"i{i}": asset.id,
                f"e{i}": asset.epc,
                f"c{i}": asset.category,
                f"s{i}": asset.state,
                f"o{i}": asset.holder_org,
                f"h{i}": asset.holder_site,
            }
        )
    return "SELECT 1 / " + " / ".join(probes), params


def head_guard(head: Head) -> tuple[str, dict[str, Any]]:
    """A statement failing (division by zero) unless the chain's head is still ``head``
    (a missing head fails too), locking it until the transaction ends."""
    return (
        "SELECT 1 / coalesce((SELECT (count = :count AND last_hash = :last)::int"
        " FROM ledger_head WHERE id = 1 FOR UPDATE), 0)",
        {"count": head.count, "last": head.last_hash},
    )
