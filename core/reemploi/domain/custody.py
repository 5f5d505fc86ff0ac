"""The custody state machine of one asset: one table, one file.

An asset (a laptop, a screen…) is declared by its owner, collected, shipped, received at
a sorting centre or workshop, inspected, wiped, refurbished, listed on the marketplace,
reserved, then sold or donated — or dismantled into parts, or sent to recycling.

:data:`TRANSITIONS` is the only source of truth: :func:`next_state` reads it,
:func:`custody_event` turns each step into the EPCIS 2.0 event it records, and
:func:`transitions_markdown` draws the table of ``docs/custody.md`` (a test fails if the
page falls behind). An illegal step raises :class:`IllegalTransition` and changes
nothing. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from reemploi.domain.epcis import (
    DATA_ERASING,
    REEMPLOI_VOC,
    Action,
    SourceDestinationType,
    aggregation_event,
    object_event,
    transformation_event,
)

__all__ = [
    "FINAL_STATES",
    "STATE_LABELS_EN",
    "STATE_LABELS_FR",
    "STEP_LABELS_EN",
    "STEP_LABELS_FR",
    "TRANSITIONS",
    "AssetState",
    "Holder",
    "IllegalTransition",
    "Step",
    "Transfer",
    "Transition",
    "custody_event",
    "next_state",
    "transitions_markdown",
]


class AssetState(StrEnum):
    """Where an asset is in its second life."""

    DECLARED = "declared"
    COLLECTED = "collected"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    DATA_ERASED = "data_erased"
    REFURBISHED = "refurbished"
    LISTED = "listed"
    RESERVED = "reserved"
    SOLD = "sold"
    DONATED = "donated"
    DISMANTLED = "dismantled"
    RECYCLED = "recycled"


class Step(StrEnum):
    """A business step someone performs on an asset."""

    DECLARE = "declare"
    COLLECT = "collect"
    PACK = "pack"
    SHIP = "ship"
    TRANSPORT = "transport"
    RECEIVE = "receive"
    UNPACK = "unpack"
    INSPECT = "inspect"
    ERASE_DATA = "erase_data"
    REFURBISH = "refurbish"
    LIST = "list"
    RESERVE = "reserve"
    RELEASE = "release"
    SELL = "sell"
    DONATE = "donate"
    DISMANTLE = "dismantle"
    RECYCLE = "recycle"


class Transfer(Enum):
    """What a step hands over from ``holder_from`` to ``holder_to``."""

    NONE = "none"
    POSSESSION = "possession"
    OWNERSHIP_AND_POSSESSION = "ownership_and_possession"


@dataclass(frozen=True)
class Transition:
    """One row of the table: the state reached and the EPCIS event that records it."""

    to_state: AssetState
    event_type: str
    action: Action | None
    biz_step: str
    disposition: str | None
    transfer: Transfer = Transfer.NONE


DONATING = REEMPLOI_VOC + "BizStep-donating"
LISTING = REEMPLOI_VOC + "BizStep-listing"
RELEASING = REEMPLOI_VOC + "BizStep-reservation_releasing"
DONATED = REEMPLOI_VOC + "Disp-donated"

_S = AssetState
_OBJ, _AGG, _TRF = "ObjectEvent", "AggregationEvent", "TransformationEvent"
_OWN, _HOLD = Transfer.OWNERSHIP_AND_POSSESSION, Transfer.POSSESSION

# (from state, step) -> transition. ``None`` as from-state: the asset is not known yet.
TRANSITIONS: Mapping[tuple[AssetState | None, Step], Transition] = {
    (None, Step.DECLARE): Transition(_S.DECLARED, _OBJ, Action.ADD, "commissioning", "active"),
    (_S.DECLARED, Step.COLLECT): Transition(
        _S.COLLECTED, _OBJ, Action.OBSERVE, "collecting", "in_progress", _OWN
    ),
    (_S.COLLECTED, Step.PACK): Transition(
        _S.COLLECTED, _AGG, Action.ADD, "packing", "container_closed"
    ),
    (_S.COLLECTED, Step.SHIP): Transition(
        _S.IN_TRANSIT, _OBJ, Action.OBSERVE, "shipping", "in_transit", _HOLD
    ),
    (_S.COLLECTED, Step.RECEIVE): Transition(
        _S.RECEIVED, _OBJ, Action.OBSERVE, "receiving", "in_progress", _HOLD
    ),
    (_S.IN_TRANSIT, Step.TRANSPORT): Transition(
        _S.IN_TRANSIT, _OBJ, Action.OBSERVE, "transporting", "in_transit", _HOLD
    ),
    (_S.IN_TRANSIT, Step.RECEIVE): Transition(
        _S.RECEIVED, _OBJ, Action.OBSERVE, "receiving", "in_progress", _HOLD
    ),
    (_S.RECEIVED, Step.UNPACK): Transition(
        _S.RECEIVED, _AGG, Action.DELETE, "unpacking", "in_progress"
    ),
    (_S.RECEIVED, Step.SHIP): Transition(
        _S.IN_TRANSIT, _OBJ, Action.OBSERVE, "shipping", "in_transit", _HOLD
    ),
    (_S.RECEIVED, Step.INSPECT): Transition(
        _S.INSPECTED, _OBJ, Action.OBSERVE, "inspecting", "conformant"
    ),
    (_S.RECEIVED, Step.RECYCLE): Transition(
        _S.RECYCLED, _OBJ, Action.DELETE, "destroying", "disposed"
    ),
    (_S.INSPECTED, Step.ERASE_DATA): Transition(
        _S.DATA_ERASED, _OBJ, Action.OBSERVE, DATA_ERASING, None
    ),
    (_S.INSPECTED, Step.DISMANTLE): Transition(_S.DISMANTLED, _TRF, None, "disassembling", None),
    (_S.INSPECTED, Step.RECYCLE): Transition(
        _S.RECYCLED, _OBJ, Action.DELETE, "destroying", "disposed"
    ),
    (_S.DATA_ERASED, Step.REFURBISH): Transition(
        _S.REFURBISHED, _OBJ, Action.OBSERVE, "repairing", "available"
    ),
    (_S.DATA_ERASED, Step.DISMANTLE): Transition(_S.DISMANTLED, _TRF, None, "disassembling", None),
    (_S.DATA_ERASED, Step.RECYCLE): Transition(
        _S.RECYCLED, _OBJ, Action.DELETE, "destroying", "disposed"
    ),
    (_S.REFURBISHED, Step.LIST): Transition(
        _S.LISTED, _OBJ, Action.OBSERVE, LISTING, "sellable_accessible"
    ),
    (_S.LISTED, Step.RESERVE): Transition(
        _S.RESERVED, _OBJ, Action.OBSERVE, "reserving", "reserved"
    ),
    (_S.LISTED, Step.SELL): Transition(
        _S.SOLD, _OBJ, Action.OBSERVE, "retail_selling", "retail_sold", _OWN
    ),
    (_S.LISTED, Step.DONATE): Transition(_S.DONATED, _OBJ, Action.OBSERVE, DONATING, DONATED, _OWN),
    (_S.RESERVED, Step.RELEASE): Transition(
        _S.LISTED, _OBJ, Action.OBSERVE, RELEASING, "sellable_accessible"
    ),
    (_S.RESERVED, Step.SELL): Transition(
        _S.SOLD, _OBJ, Action.OBSERVE, "retail_selling", "retail_sold", _OWN
    ),
    (_S.RESERVED, Step.DONATE): Transition(
        _S.DONATED, _OBJ, Action.OBSERVE, DONATING, DONATED, _OWN
    ),
}

# States no step leads out of: the asset has left the chain of reuse (sold, donated,
# dismantled, recycled).
FINAL_STATES: frozenset[AssetState] = frozenset(
    state for state in AssetState if all(origin != state for origin, _ in TRANSITIONS)
)

# The first transition of each step (the EPCIS fields of a step's event come from it).
_FIRST_OF_STEP: dict[Step, Transition] = {}
for (_origin, _step), _transition in TRANSITIONS.items():
    _FIRST_OF_STEP.setdefault(_step, _transition)

INSPECTION_DISPOSITIONS = frozenset(("conformant", "non_conformant", "damaged"))

STATE_LABELS_FR: Mapping[AssetState, str] = {
    _S.DECLARED: "déclaré",
    _S.COLLECTED: "collecté",
    _S.IN_TRANSIT: "en transit",
    _S.RECEIVED: "réceptionné",
    _S.INSPECTED: "diagnostiqué",
    _S.DATA_ERASED: "données effacées",
    _S.REFURBISHED: "reconditionné",
    _S.LISTED: "en vente",
    _S.RESERVED: "réservé",
    _S.SOLD: "vendu",
    _S.DONATED: "donné",
    _S.DISMANTLED: "démantelé",
    _S.RECYCLED: "recyclé",
}
STATE_LABELS_EN: Mapping[AssetState, str] = {state: state.value.replace("_", " ") for state in _S}
STEP_LABELS_FR: Mapping[Step, str] = {
    Step.DECLARE: "déclarer",
    Step.COLLECT: "collecter",
    Step.PACK: "mettre en lot",
    Step.SHIP: "expédier",
    Step.TRANSPORT: "transporter",
    Step.RECEIVE: "réceptionner",
    Step.UNPACK: "sortir du lot",
    Step.INSPECT: "diagnostiquer",
    Step.ERASE_DATA: "effacer les données",
    Step.REFURBISH: "reconditionner",
    Step.LIST: "mettre en vente",
    Step.RESERVE: "réserver",
    Step.RELEASE: "libérer la réservation",
    Step.SELL: "vendre",
    Step.DONATE: "donner",
    Step.DISMANTLE: "démanteler",
    Step.RECYCLE: "envoyer au recyclage",
}
STEP_LABELS_EN: Mapping[Step, str] = {
    Step.DECLARE: "declare",
    Step.COLLECT: "collect",
    Step.PACK: "pack into a lot",
    Step.SHIP: "ship",
    Step.TRANSPORT: "transport",
    Step.RECEIVE: "receive",
    Step.UNPACK: "take out of the lot",
    Step.INSPECT: "inspect",
    Step.ERASE_DATA: "erase data",
    Step.REFURBISH: "refurbish",
    Step.LIST: "list for sale",
    Step.RESERVE: "reserve",
    Step.RELEASE: "release the reservation",
    Step.SELL: "sell",
    Step.DONATE: "donate",
    Step.DISMANTLE: "dismantle",
    Step.RECYCLE: "send to recycling",
}


class IllegalTransition(Exception):
    """A step that the custody rules forbid from the asset's current state.

    The message is in French (shown to operators); ``state`` and ``step`` are the
    machine-readable facts.
    """

    def __init__(self, state: AssetState | None, step: Step) -> None:
        self.state = state
        self.step = step
        where = f"l'état « {STATE_LABELS_FR[state]} »" if state else "un matériel non déclaré"
        allowed = [STEP_LABELS_FR[s] for (origin, s) in TRANSITIONS if origin == state]
        hint = f" Étapes possibles : {', '.join(allowed)}." if allowed else ""
        super().__init__(
            f"Impossible de « {STEP_LABELS_FR[step]} » depuis {where}.{hint} "
            f"(from={state.value if state else None}, step={step.value})"
        )


def next_state(state: AssetState | None, step: Step) -> AssetState:
    """The state after ``step``; raises :class:`IllegalTransition` if it is not allowed."""
    transition = TRANSITIONS.get((state, step if step.__class__ is Step else Step(step)))
    if transition is None:
        raise IllegalTransition(state, Step(step))
    return transition.to_state


@dataclass(frozen=True)
class Holder:
    """Who holds the asset and where: a PGLN and a GLN, both as Digital Links."""

    organisation: str
    site: str

    def __post_init__(self) -> None:
        if "/417/" not in self.organisation or not self.organisation.startswith("https://"):
            raise ValueError(f"organisation must be a PGLN Digital Link: {self.organisation!r}")
        if "/414/" not in self.site or not self.site.startswith("https://"):
            raise ValueError(f"site must be a GLN Digital Link: {self.site!r}")


def _transfer_lists(
    transfer: Transfer, holder_from: Holder | None, holder_to: Holder
) -> tuple[list[tuple[SourceDestinationType, str]], list[tuple[SourceDestinationType, str]]]:
    if transfer is Transfer.NONE:
        return [], []
    if holder_from is None:
        raise ValueError("this step moves custody: holder_from is required")
    kinds = [SourceDestinationType.POSSESSING_PARTY]
    if transfer is Transfer.OWNERSHIP_AND_POSSESSION:
        kinds.insert(0, SourceDestinationType.OWNING_PARTY)
    sources = [(kind, holder_from.organisation) for kind in kinds]
    destinations = [(kind, holder_to.organisation) for kind in kinds]
    sources.append((SourceDestinationType.LOCATION, holder_from.site))
    destinations.append((SourceDestinationType.LOCATION, holder_to.site))
    return sources, destinations


def custody_event(
    step: Step,
    *,
    epcs: list[str],
    when: datetime,
    holder_from: Holder | None,
    holder_to: Holder,
    read_point: str,
    event_id: str,
    extensions: dict[str, Any] | None = None,
    biz_transactions: list[tuple[str, str]] | None = None,
    parent: str | None = None,
    inspection_disposition: str | None = None,
    output_epcs: list[str] | None = None,
) -> dict[str, Any]:
    """The EPCIS 2.0 event recording ``step`` on the assets ``epcs``.

    ``holder_to`` is who holds the assets after the step; its site is the bizLocation
    (except while shipping or transporting: goods on the road have no business location).
    Steps that move custody also need ``holder_from`` and write typed source /
    destination lists. ``pack`` and ``unpack`` need ``parent`` (the SSCC of the lot);
    ``dismantle`` may list the ``output_epcs`` of harvested parts; ``inspect`` takes
    ``inspection_disposition`` (``conformant``, ``non_conformant`` or ``damaged``).
    """
    step = step if step.__class__ is Step else Step(step)
    row = _FIRST_OF_STEP.get(step)
    if row is None:
        raise ValueError(f"unknown step {step!r}")
    sources, destinations = _transfer_lists(row.transfer, holder_from, holder_to)
    disposition = row.disposition
    if step is Step.INSPECT and inspection_disposition is not None:
        if inspection_disposition not in INSPECTION_DISPOSITIONS:
            raise ValueError(f"inspection disposition must be one of {INSPECTION_DISPOSITIONS}")
        disposition = inspection_disposition
    common: dict[str, Any] = {
        "when": when,
        "event_id": event_id,
        "biz_step": row.biz_step,
        "disposition": disposition,
        "read_point": read_point,
        "biz_location": None if step in (Step.SHIP, Step.TRANSPORT) else holder_to.site,
        "biz_transactions": biz_transactions or (),
        "sources": sources,
        "destinations": destinations,
        "extensions": extensions,
    }
    if row.event_type == "AggregationEvent":
        if parent is None:
            raise ValueError(f"step {step.value} needs the parent (SSCC of the lot)")
        assert row.action is not None
        return aggregation_event(parent=parent, child_epcs=epcs, action=row.action, **common)
    if row.event_type == "TransformationEvent":
        return transformation_event(input_epcs=epcs, output_epcs=output_epcs or (), **common)
    assert row.action is not None
    return object_event(epcs=epcs, action=row.action, **common)


def transitions_markdown() -> str:
    """The transition table as Markdown (French labels, then the EPCIS fields)."""
    lines = [
        "| De / From | Étape / Step | Vers / To | Événement EPCIS | action | bizStep "
        "| disposition | Transfert / Transfer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (origin, step), row in TRANSITIONS.items():
        source = f"{STATE_LABELS_FR[origin]} (`{origin.value}`)" if origin else "—"
        cells = [
            source,
            f"{STEP_LABELS_FR[step]} (`{step.value}`)",
            f"{STATE_LABELS_FR[row.to_state]} (`{row.to_state.value}`)",
            row.event_type,
            row.action.value if row.action else "—",
            f"`{row.biz_step}`",
            f"`{row.disposition}`" if row.disposition else "—",
            row.transfer.value,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
