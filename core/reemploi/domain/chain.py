"""The ledger's hash chain, as pure functions.

Each custody event is stored at a position ``1, 2, 3 …`` with the entry hash of the row
before it. The entry hash covers the position, the previous entry hash, the event's
CBV 2.0 event hash and the exact stored document, so editing, inserting or deleting a
row breaks the chain where it happened; a separate head (count and last hash), written
in the same transaction, catches rows cut from the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_document(event: dict[str, Any]) -> str:
    """The exact text stored for an event: sorted keys, no spaces, UTF-8 kept."""
    return _CANONICAL_JSON.encode(event)


# One encoder for every call (json.dumps with options builds a new one each time).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COLUMNS_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class CanonicalTemplate:
    """:func:`canonical_document` of documents that share every key and every value but
    those of ``variable``: the shared ``"key":value`` text is written once, here, in the
    sorted order the canonical form uses, and each document only encodes its own values.
    ``text(document)`` needs every key of ``fixed`` and ``variable`` in ``document`` (and
    trusts that the fixed ones hold the fixed values)."""

    def __init__(self, fixed: Mapping[str, Any], variable: Iterable[str]) -> None:
        variable = frozenset(variable)
        segments: list[tuple[str, str | None]] = []  # (text, None) or (key's head, key)
        run: list[str] = []
        for key in sorted({*fixed, *variable}):
            head = _CANONICAL_JSON.encode(key) + ":"
            if key in variable:
                if run:
                    segments.append((",".join(run), None))
                    run = []
                segments.append((head, key))
            else:
                run.append(head + _CANONICAL_JSON.encode(fixed[key]))
        if run:
            segments.append((",".join(run), None))
        self._segments = segments

    def text(self, document: Mapping[str, Any]) -> str:
        encode = _CANONICAL_JSON.encode
        parts = [
            text if key is None else text + encode(document[key]) for text, key in self._segments
        ]
        return "{" + ",".join(parts) + "}"


def entry_hash(
    prev_hash: str, position: int, event_hash: str, document: str, columns: str = ""
) -> str:
    """Hash of one row. ``columns`` is the canonical text of the row's other stored
    columns (see :func:`columns_text`), so that none of them can be edited unnoticed."""
    material = "\n".join(
        (
            prev_hash,
            str(position),
            event_hash,
            hashlib.sha256(document.encode()).hexdigest(),
            hashlib.sha256(columns.encode()).hexdigest(),
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()


def columns_text(values: Iterable[object]) -> str:
    """Canonical text of a row's stored columns; datetimes as naive UTC microseconds."""
    out: list[object] = []
    for value in values:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            out.append(value.isoformat(timespec="microseconds"))
        else:
            out.append(value)
    return _COLUMNS_JSON.encode(out)


@dataclass(frozen=True)
class ChainEntry:
    """One stored row, as read back for verification."""

    position: int
    event_id: str
    event_hash: str
    document: str
    prev_hash: str
    entry_hash: str
    columns: str = ""


@dataclass(frozen=True)
class ChainProblem:
    """What is wrong, and where: ``position`` and ``event_id`` name the row."""

    position: int
    event_id: str
    kind: str  # edited | document_edited | inserted_or_reordered | deleted | head_mismatch
    message: str


def verify_chain(
    entries: Iterable[ChainEntry],
    head_count: int,
    head_hash: str,
    hash_event: Callable[[dict[str, Any]], str],
) -> list[ChainProblem]:
    """Check every row in position order; return the problems found (empty when intact)."""
    problems: list[ChainProblem] = []
    expected_position = 1
    prev = GENESIS
    last_position = 0
    for row in entries:
        if row.position != expected_position:
            problems.append(
                ChainProblem(
                    row.position,
                    row.event_id,
                    "deleted",
                    f"ligne(s) {expected_position}..{row.position - 1} supprimée(s) avant "
                    f"la position {row.position}",
                )
            )
        if row.prev_hash != prev:
            problems.append(
                ChainProblem(
                    row.position,
                    row.event_id,
                    "inserted_or_reordered",
                    f"position {row.position} : le hachage précédent ne correspond pas "
                    "(ligne insérée, supprimée ou déplacée juste avant)",
                )
            )
        recomputed = entry_hash(
            row.prev_hash, row.position, row.event_hash, row.document, row.columns
        )
        if recomputed != row.entry_hash:
            problems.append(
                ChainProblem(
                    row.position,
                    row.event_id,
                    "edited",
                    f"position {row.position} ({row.event_id}) : contenu modifié après "
                    "enregistrement",
                )
            )
        try:
            document = json.loads(row.document)
            ok = (
                isinstance(document, dict)
                and hash_event(document) == row.event_hash
                and document.get("eventID") == row.event_id
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            problems.append(
                ChainProblem(
                    row.position,
                    row.event_id,
                    "document_edited",
                    f"position {row.position} ({row.event_id}) : le document EPCIS ne "
                    "correspond plus à son empreinte d'événement",
                )
            )
        prev = row.entry_hash
        expected_position = row.position + 1
        last_position = row.position
    if last_position != head_count or prev != head_hash:
        problems.append(
            ChainProblem(
                last_position,
                "",
                "head_mismatch",
                f"la tête du registre annonce {head_count} entrées, {last_position} trouvées "
                "(lignes supprimées en fin de registre ou tête modifiée)",
            )
        )
    return problems
