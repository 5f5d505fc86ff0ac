"""Lot movements reported by gateways (BLE beacons on cages and pallets) → custody events.

The rule, as a pure table (:func:`lot_step`):

- a vehicle gateway sees a lot arrive (loaded): collected / received assets are
  shipped, custody going to the carrier (the vehicle's organisation and site);
- a vehicle gateway sees a lot already in transit arrive (transhipment): transporting,
  custody going to the new carrier;
- a site gateway sees a lot depart: assets still here are shipped; custody stays with
  the shipper until a carrier is seen;
- a site gateway sees a lot arrive: in-transit / collected assets are received there.

Anything else (a lot seen again, unloaded from a vehicle) is recorded as a movement
without a custody event.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, tuple_

from reemploi.domain.custody import AssetState, IllegalTransition, Step, next_state
from reemploi.protocol import gateway_msgs, wire

from ..db.tables import lot_beacons, lot_members, lot_movements
from .rules import event_time

if TYPE_CHECKING:
    from .pipeline import Incoming, _Batch

_S = AssetState


def split_topic(name: str) -> tuple[str, str, str]:
    """``(site, device, kind)`` for reader kinds and the gateway kinds (lot, evidence…)."""
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) == 5 and parts[4] in gateway_msgs.GATEWAY_KINDS:
        gateway_msgs.gateway_topic(parts[2], parts[3], parts[4])  # validates the ids
        return parts[2], parts[3], parts[4]
    return wire.parse_topic(name)


def lot_step(mode: str, event: str, state: AssetState) -> tuple[Step, str] | None:
    """The custody step a lot movement means for one packed asset, and who receives it
    (``"gateway"``: the gateway's site and organisation; ``"holder"``: unchanged)."""
    return _LOT_RULES.get((mode, event, state))


_LOT_RULES: dict[tuple[str, str, AssetState], tuple[Step, str]] = {
    **{
        (gateway_msgs.MODE_VEHICLE, gateway_msgs.LOT_ARRIVED, state): (Step.SHIP, "gateway")
        for state in (_S.COLLECTED, _S.RECEIVED)
    },
    # already on the road: another vehicle takes it over (transhipment)
    (gateway_msgs.MODE_VEHICLE, gateway_msgs.LOT_ARRIVED, _S.IN_TRANSIT): (
        Step.TRANSPORT,
        "gateway",
    ),
    **{
        (gateway_msgs.MODE_SITE, gateway_msgs.LOT_DEPARTED, state): (Step.SHIP, "holder")
        for state in (_S.COLLECTED, _S.RECEIVED)
    },
    **{
        (gateway_msgs.MODE_SITE, gateway_msgs.LOT_ARRIVED, state): (Step.RECEIVE, "gateway")
        for state in (_S.IN_TRANSIT, _S.COLLECTED)
    },
}


def lot_movement(
    batch: _Batch, conn: Connection, msg: Incoming, site_id: str, gateway: str
) -> None:
    """Record one ``lot`` message: deduplicate, find the lot, chain the custody events."""
    try:
        move = gateway_msgs.decode_lot_movement(msg.payload)
    except wire.MalformedMessage as exc:
        batch.dead(msg, exc.reason, exc.detail, gateway)
        return
    if move.gateway != gateway:
        batch.dead(msg, "device_mismatch", f"sujet {gateway}, message {move.gateway}", gateway)
        return
    if (
        move.key in batch.lot_keys
        or conn.execute(select(lot_movements.c.id).where(lot_movements.c.key == move.key)).first()
    ):
        batch.count("duplicate")
        return
    if (gateway, move.seq) in batch.lot_seqs or conn.execute(
        select(lot_movements.c.id).where(
            tuple_(lot_movements.c.gateway_id, lot_movements.c.seq) == (gateway, move.seq)
        )
    ).first():
        batch.dead(msg, "replayed_seq", f"numéro {move.seq} déjà utilisé par {gateway}", gateway)
        return
    batch.lot_keys.add(move.key)
    batch.lot_seqs.add((gateway, move.seq))
    row: dict[str, Any] = {
        "key": move.key,
        "gateway_id": gateway,
        "seq": move.seq,
        "site_id": site_id,
        "event": move.event,
        "mode": move.mode,
        "beacon": move.beacon,
        "gateway_clock": move.at,
        "received_at": msg.received_at,
        "lot_id": None,
        "result": wire.RESULT_ACCEPTED,
        "reason": None,
        "events": 0,
        "latitude": move.position.lat if move.position else None,
        "longitude": move.position.lon if move.position else None,
    }
    batch.lot_rows.append(row)
    lot_id = conn.execute(
        select(lot_beacons.c.lot_id).where(lot_beacons.c.beacon == move.beacon)
    ).scalar()
    if lot_id is None:
        row["result"], row["reason"] = wire.RESULT_UNKNOWN_TAG, "unknown_lot"
        batch.count("unknown_lot")
        return
    row["lot_id"] = lot_id
    registry = batch.p.registry
    site = registry.site(conn, site_id)
    assert site is not None
    when, anomaly = _when(batch, move.at, msg)
    if anomaly:
        batch.count(anomaly)
    members = conn.execute(
        select(lot_members.c.asset_id).where(lot_members.c.lot_id == lot_id)
    ).scalars()
    for asset_id in sorted(members):
        view = batch.asset_view(conn, asset_id)
        decision = lot_step(move.mode, move.event, view.state)
        if decision is None:
            continue
        step, receiver = decision
        try:
            new_state = next_state(view.state, step)
        except IllegalTransition:
            continue
        if receiver == "gateway":
            to_site, to_org = site, site.organisation_id
        else:
            holder = registry.site(conn, view.holder_site)
            assert holder is not None
            to_site, to_org = holder, view.holder_org
        batch.record_step(
            conn, view, step, new_state, to_site, when, msg.received_at, None, to_org, site.gln
        )
        row["events"] += 1
    batch.count("lot_movement")


def _when(batch: _Batch, clock_ms: int, msg: Incoming) -> tuple[datetime, str | None]:
    opts = batch.p.options
    return event_time(clock_ms, msg.received_at, opts.clock_tolerance_s, opts.clock_max_age_s)
