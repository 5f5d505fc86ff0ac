"""Custody steps taken from the web app, through the one ledger and the one state machine.

The hand-over at pickup (``collect``), ``reserve``, ``release``, ``sell`` and ``donate``
are chained by :func:`reemploi.server.ledger.append` exactly like a reader's tap, and the
asset projection is updated with a conditional ``UPDATE … WHERE state = <seen state>``:
of two transactions acting on the same unit, exactly one changes it, the other gets
:class:`~.errors.Conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from reemploi.domain.custody import AssetState, Holder, IllegalTransition, Step, custody_event
from reemploi.domain.custody import next_state as custody_next_state

from .. import ledger
from ..db.tables import assets, organisations, sites
from .errors import N_, Conflict


@dataclass(frozen=True)
class StepTarget:
    """Who holds the units after the step, and where it is recorded."""

    organisation_id: str
    site_id: str
    read_site_id: str | None = None  # where it happened, when not the holder's site


def holder(conn: Connection, organisation_id: str, site_id: str) -> Holder:
    pgln = conn.execute(
        select(organisations.c.pgln).where(organisations.c.id == organisation_id)
    ).scalar_one()
    gln = conn.execute(select(sites.c.gln).where(sites.c.id == site_id)).scalar_one()
    return Holder(pgln, gln)


def apply_step(
    conn: Connection,
    asset_ids: Sequence[int],
    step: Step,
    target: StepTarget | None,
    *,
    when: datetime | None = None,
    extensions: dict[str, Any] | None = None,
    biz_transactions: list[tuple[str, str]] | None = None,
) -> list[int]:
    """Apply ``step`` to every unit in ``asset_ids`` inside the caller's transaction.

    ``target`` None keeps the current holder (reserve, release). Returns the ledger
    positions. Raises :class:`Conflict` when a unit is not in a state that allows the
    step (someone else changed it first); nothing is written then, as the caller's
    transaction rolls back.
    """
    when = when or datetime.now(UTC)
    ledger.lock_head(conn)  # the head first, then the assets: every writer's order
    rows = conn.execute(
        select(
            assets.c.id,
            assets.c.epc,
            assets.c.state,
            assets.c.holder_org_id,
            assets.c.holder_site_id,
        )
        .where(assets.c.id.in_(list(asset_ids)))
        .order_by(assets.c.id)
    ).all()
    if len(rows) != len(set(asset_ids)):
        raise Conflict(N_("Some units no longer exist."))
    events: list[ledger.NewEvent] = []
    for row in rows:
        state = AssetState(row.state)
        try:
            new_state = custody_next_state(state, step)
        except IllegalTransition as exc:
            raise Conflict(
                N_("Unit {epc} is no longer available ({state})."),
                params={"epc": row.epc, "state": state.value},
            ) from exc
        to_org = target.organisation_id if target else row.holder_org_id
        to_site = target.site_id if target else row.holder_site_id
        read_site = (target.read_site_id if target else None) or to_site
        changed = conn.execute(
            update(assets)
            .where(assets.c.id == row.id, assets.c.state == state.value)
            .values(
                state=new_state.value,
                holder_org_id=to_org,
                holder_site_id=to_site,
                updated_at=when,
            )
        ).rowcount
        if changed != 1:
            raise Conflict(
                N_("Unit {epc} is no longer available ({state})."),
                params={"epc": row.epc, "state": "changed"},
            )
        read_point = conn.execute(select(sites.c.gln).where(sites.c.id == read_site)).scalar_one()
        document = custody_event(
            step,
            epcs=[row.epc],
            when=when,
            holder_from=holder(conn, row.holder_org_id, row.holder_site_id),
            holder_to=holder(conn, to_org, to_site),
            read_point=read_point,
            event_id="urn:uuid:" + str(uuid.uuid4()),
            extensions=extensions,
            biz_transactions=biz_transactions,
        )
        events.append(
            ledger.NewEvent(
                document=document,
                event_time=when,
                recorded_at=datetime.now(UTC),
                asset_id=row.id,
                step=step.value,
                state_from=state.value,
                state_to=new_state.value,
                site_from=row.holder_site_id,
                site_to=to_site,
            )
        )
    return ledger.append(conn, events)
