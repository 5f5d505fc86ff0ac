"""Custody state machine: one table, illegal steps refused, every event schema-valid."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.custody import (
    FINAL_STATES,
    STATE_LABELS_EN,
    STATE_LABELS_FR,
    STEP_LABELS_EN,
    STEP_LABELS_FR,
    TRANSITIONS,
    AssetState,
    Holder,
    IllegalTransition,
    Step,
    Transfer,
    custody_event,
    next_state,
    transitions_markdown,
)
from reemploi.domain.epcis import DATA_ERASING, epcis_document
from reemploi.domain.eventhash import event_hash

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT.parent / "shared" / "standards" / "EPCIS-JSON-Schema.json"
DOC = ROOT / "docs" / "custody.md"

DONOR = Holder("https://id.gs1.org/417/3012345000000", "https://id.gs1.org/414/3012345000017")
SORTING = Holder("https://id.gs1.org/417/3098765000004", "https://id.gs1.org/414/3098765000011")
GIAI = "https://id.gs1.org/8004/3012345PC0042"
WHEN = datetime(2024, 7, 2, 8, 15, tzinfo=UTC)
HAPPY_PATH = [
    Step.DECLARE,
    Step.COLLECT,
    Step.PACK,
    Step.SHIP,
    Step.RECEIVE,
    Step.UNPACK,
    Step.INSPECT,
    Step.ERASE_DATA,
    Step.REFURBISH,
    Step.LIST,
    Step.RESERVE,
    Step.RELEASE,
    Step.RESERVE,
    Step.SELL,
]


def _event(step: Step, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "epcs": [GIAI],
        "when": WHEN,
        "holder_from": DONOR,
        "holder_to": SORTING,
        "read_point": SORTING.site + "/254/quai-1",
        "event_id": f"urn:uuid:00000000-0000-4000-8000-{len(step):012d}",
        "parent": "https://id.gs1.org/00/330123450000000018",
    }
    arguments.update(overrides)
    return custody_event(step, **arguments)


def test_happy_path_ends_sold() -> None:
    state: AssetState | None = None
    for step in HAPPY_PATH:
        state = next_state(state, step)
    assert state is AssetState.SOLD


@pytest.mark.parametrize(
    ("path", "end"),
    [
        ([Step.DECLARE, Step.COLLECT, Step.RECEIVE, Step.RECYCLE], AssetState.RECYCLED),
        ([Step.DECLARE, Step.COLLECT, Step.RECEIVE, Step.INSPECT, Step.DISMANTLE], "dismantled"),
        (
            [Step.DECLARE, Step.COLLECT, Step.RECEIVE, Step.SHIP, Step.RECEIVE, Step.INSPECT],
            AssetState.INSPECTED,
        ),
    ],
)
def test_other_documented_paths(path: list[Step], end: AssetState) -> None:
    state: AssetState | None = None
    for step in path:
        state = next_state(state, step)
    assert state == end


def test_an_illegal_step_raises_with_french_message_and_machine_fields() -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_state(AssetState.LISTED, Step.ERASE_DATA)
    assert caught.value.state is AssetState.LISTED
    assert caught.value.step is Step.ERASE_DATA
    message = str(caught.value)
    assert "Impossible de « effacer les données » depuis l'état « en vente »" in message
    assert "from=listed" in message and "step=erase_data" in message


def test_no_listing_without_data_erasure() -> None:
    """Décret n° 2022-190: no path reaches 'listed' that skips 'data_erased'."""
    reachable_without_erasure: set[AssetState | None] = {None}
    frontier: list[AssetState | None] = [None]
    while frontier:
        state = frontier.pop()
        for (origin, _step), row in TRANSITIONS.items():
            if (
                origin == state
                and row.to_state is not AssetState.DATA_ERASED
                and row.to_state not in reachable_without_erasure
            ):
                reachable_without_erasure.add(row.to_state)
                frontier.append(row.to_state)
    assert AssetState.LISTED not in reachable_without_erasure
    assert AssetState.SOLD not in reachable_without_erasure


def test_terminal_states_have_no_way_out() -> None:
    for state in (AssetState.SOLD, AssetState.DONATED, AssetState.DISMANTLED, AssetState.RECYCLED):
        assert not [s for (origin, s) in TRANSITIONS if origin is state]


def test_every_state_and_step_is_reachable_and_labelled() -> None:
    assert {row.to_state for row in TRANSITIONS.values()} == set(AssetState)
    assert {step for (_origin, step) in TRANSITIONS} == set(Step)
    assert set(STATE_LABELS_FR) == set(STATE_LABELS_EN) == set(AssetState)
    assert set(STEP_LABELS_FR) == set(STEP_LABELS_EN) == set(Step)


def test_each_step_records_the_same_event_whatever_the_origin() -> None:
    for step in Step:
        rows = {
            (r.event_type, r.action, r.biz_step, r.disposition, r.transfer)
            for (_o, s), r in TRANSITIONS.items()
            if s is step
        }
        assert len(rows) == 1, step


@given(st.lists(st.sampled_from(list(Step)), max_size=40))
def test_random_steps_never_leave_the_table(steps: list[Step]) -> None:
    known_states = {row.to_state for row in TRANSITIONS.values()}
    state: AssetState | None = None
    for step in steps:
        before = state
        try:
            state = next_state(state, step)
        except IllegalTransition as error:
            assert state == before  # unchanged
            assert (before, step) not in TRANSITIONS
            assert error.state == before
        else:
            assert (before, step) in TRANSITIONS
            assert state in known_states


def _validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.exists():
        pytest.fail(f"{SCHEMA_PATH} is missing: the official EPCIS schema must be at ../shared")
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("step", list(Step))
def test_every_custody_event_is_valid_epcis(step: Step) -> None:
    event = _event(
        step,
        extensions={"reemploi:operator": "atelier-1"},
        biz_transactions=[("desadv", "urn:epcglobal:cbv:bt:3012345000000:BL-1")],
        output_epcs=["https://id.gs1.org/8004/3012345RAM0001"],
    )
    document = epcis_document([event], WHEN)
    errors = list(_validator().iter_errors(document))
    assert not errors, [e.message for e in errors]
    assert event_hash(event).startswith("ni:///sha-256;")


def test_collect_transfers_ownership_possession_and_location() -> None:
    event = _event(Step.COLLECT)
    assert event["sourceList"] == [
        {"type": "owning_party", "source": DONOR.organisation},
        {"type": "possessing_party", "source": DONOR.organisation},
        {"type": "location", "source": DONOR.site},
    ]
    assert event["destinationList"] == [
        {"type": "owning_party", "destination": SORTING.organisation},
        {"type": "possessing_party", "destination": SORTING.organisation},
        {"type": "location", "destination": SORTING.site},
    ]
    assert event["bizLocation"] == {"id": SORTING.site}


def test_ship_and_receive_share_the_biz_transaction_and_ship_has_no_biz_location() -> None:
    desadv = [("desadv", "urn:epcglobal:cbv:bt:3012345000000:BL-1")]
    ship = _event(Step.SHIP, biz_transactions=desadv)
    receive = _event(Step.RECEIVE, biz_transactions=desadv)
    assert ship["bizTransactionList"] == receive["bizTransactionList"]
    assert "bizLocation" not in ship
    assert ship["disposition"] == "in_transit"
    assert [s["type"] for s in ship["sourceList"]] == ["possessing_party", "location"]
    assert receive["bizLocation"] == {"id": SORTING.site}


def test_steps_that_do_not_move_custody_have_no_source_list() -> None:
    event = _event(Step.INSPECT, holder_from=None, inspection_disposition="damaged")
    assert "sourceList" not in event and "destinationList" not in event
    assert event["disposition"] == "damaged"
    with pytest.raises(ValueError, match="inspection disposition"):
        _event(Step.INSPECT, inspection_disposition="retail_sold")


def test_custody_moves_need_holder_from() -> None:
    with pytest.raises(ValueError, match="holder_from"):
        _event(Step.SELL, holder_from=None)


def test_erase_data_uses_the_project_biz_step_and_pack_needs_a_parent() -> None:
    assert _event(Step.ERASE_DATA)["bizStep"] == DATA_ERASING
    assert _event(Step.PACK)["type"] == "AggregationEvent"
    with pytest.raises(ValueError, match="parent"):
        _event(Step.PACK, parent=None)


def test_dismantle_is_a_transformation_and_recycle_deletes() -> None:
    dismantle = _event(Step.DISMANTLE, output_epcs=["https://id.gs1.org/8004/3012345RAM0001"])
    assert dismantle["type"] == "TransformationEvent"
    assert dismantle["inputEPCList"] == [GIAI]
    recycle = _event(Step.RECYCLE)
    assert (recycle["action"], recycle["bizStep"]) == ("DELETE", "destroying")


def test_holder_refuses_non_gs1_identifiers() -> None:
    with pytest.raises(ValueError, match="PGLN"):
        Holder("https://id.gs1.org/414/3012345000017", DONOR.site)
    with pytest.raises(ValueError, match="GLN"):
        Holder(DONOR.organisation, "Grenoble")


def test_docs_table_is_the_one_the_code_generates() -> None:
    if not DOC.exists():
        pytest.fail("docs/custody.md is missing")
    text = DOC.read_text("utf-8")
    begin, end = "<!-- BEGIN TRANSITIONS -->\n", "<!-- END TRANSITIONS -->"
    assert begin in text and end in text, "docs/custody.md lost its table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == transitions_markdown(), (
        "docs/custody.md is out of date: paste reemploi.domain.custody.transitions_markdown()"
    )


def test_transfer_values_are_documented_words() -> None:
    assert {t.value for t in Transfer} <= set(transitions_markdown().replace("|", " ").split())


def test_a_step_given_by_its_value_records_the_same_event_and_state() -> None:
    for step in Step:
        assert _event(step.value) == _event(step)  # type: ignore[arg-type]
    assert next_state(AssetState.DECLARED, "collect") is AssetState.COLLECTED  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _event("teleport")  # type: ignore[arg-type]


def test_final_states_are_those_no_step_leads_out_of() -> None:
    assert {
        AssetState.SOLD,
        AssetState.DONATED,
        AssetState.DISMANTLED,
        AssetState.RECYCLED,
    } == FINAL_STATES
    for state in FINAL_STATES:
        for step in Step:
            assert (state, step) not in TRANSITIONS
