"""Reference data (organisations, sites, devices) with a short-lived cache for ingest,
and the functions that enrol them and declare assets."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from reemploi.domain.custody import AssetState, Holder, Step, custody_event

from . import ledger
from .db.tables import (
    assets,
    devices,
    lot_beacons,
    lot_members,
    lots,
    organisations,
    sites,
    sun_tags,
    tags,
)


@dataclass(frozen=True)
class Organisation:
    id: str
    pgln: str
    name: str
    kind: str


@dataclass(frozen=True)
class Site:
    id: str
    gln: str
    name: str
    kind: str
    organisation_id: str
    commune: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Device:
    id: str
    site_id: str
    role: str
    tap_step: str | None
    revoked: bool


class _Lookups:
    """Typed lookups of reference data over one ``_get(conn, kind, key)``."""

    def _get(self, conn: Connection, kind: str, key: str) -> Any:
        raise NotImplementedError

    def device(self, conn: Connection, device_id: str) -> Device | None:
        return self._get(conn, "device", device_id)  # type: ignore[no-any-return]

    def site(self, conn: Connection, site_id: str) -> Site | None:
        return self._get(conn, "site", site_id)  # type: ignore[no-any-return]

    def organisation(self, conn: Connection, org_id: str) -> Organisation | None:
        return self._get(conn, "org", org_id)  # type: ignore[no-any-return]


class Registry(_Lookups):
    """Read-through cache of reference data; entries expire after ``ttl_s`` seconds so
    that an enrolment or a revocation takes effect without a restart."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}

    def _get(self, conn: Connection, kind: str, key: str) -> Any:
        now = time.monotonic()
        hit = self._cache.get((kind, key))
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value: Any
        if kind == "device":
            row = conn.execute(select(devices).where(devices.c.id == key)).first()
            value = (
                Device(row.id, row.site_id, row.role, row.tap_step, bool(row.revoked))
                if row
                else None
            )
        elif kind == "site":
            row = conn.execute(select(sites).where(sites.c.id == key)).first()
            value = Site(**row._mapping) if row else None
        else:
            row = conn.execute(select(organisations).where(organisations.c.id == key)).first()
            value = Organisation(**row._mapping) if row else None
        self._cache[(kind, key)] = (now, value)
        return value

    def forget(self) -> None:
        self._cache.clear()

    def view(self) -> RegistryView:
        """Answers that hold for one ingest batch (one transaction)."""
        return RegistryView(self)


class RegistryView(_Lookups):
    """The registry as one batch sees it: each device, site and organisation read once
    (through the registry's cache), then answered from a plain dict — a scan asks for
    four or five of them, the same few hundred times per batch."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._seen: dict[tuple[str, str], Any] = {}

    def _get(self, conn: Connection, kind: str, key: str) -> Any:
        found = self._seen.get((kind, key), _MISSING)
        if found is _MISSING:
            found = self._seen[(kind, key)] = self.registry._get(conn, kind, key)
        return found


_MISSING = object()


def add_organisation(conn: Connection, org: Organisation) -> None:
    conn.execute(insert(organisations).values(**org.__dict__))


def add_site(conn: Connection, site: Site) -> None:
    conn.execute(insert(sites).values(**site.__dict__))


def add_device(conn: Connection, device: Device) -> None:
    conn.execute(
        insert(devices).values(
            id=device.id,
            site_id=device.site_id,
            role=device.role,
            tap_step=device.tap_step,
            revoked=device.revoked,
            online=False,
        )
    )


@dataclass(frozen=True)
class Declaration:
    """An asset declared by its owner, at one of the owner's sites."""

    epc: str  # canonical GIAI Digital Link
    category: str
    owner_id: str
    site_id: str
    description: str = ""
    serial: str | None = None
    weight_kg: float | None = None
    nfc_uid: str | None = None


def declare_asset(conn: Connection, item: Declaration, when: datetime | None = None) -> int:
    """Create the asset in state ``declared`` and chain its commissioning event."""
    when = when or datetime.now(UTC)
    site = conn.execute(select(sites.c.gln).where(sites.c.id == item.site_id)).scalar_one()
    pgln = conn.execute(
        select(organisations.c.pgln).where(organisations.c.id == item.owner_id)
    ).scalar_one()
    asset_id = int(
        conn.execute(
            insert(assets)
            .values(
                epc=item.epc,
                category=item.category,
                description=item.description,
                serial=item.serial,
                owner_id=item.owner_id,
                state=AssetState.DECLARED.value,
                holder_org_id=item.owner_id,
                holder_site_id=item.site_id,
                weight_kg=item.weight_kg,
                updated_at=when,
            )
            .returning(assets.c.id)
        ).scalar_one()
    )
    if item.nfc_uid:
        conn.execute(insert(tags).values(kind="nfc_uid", value=item.nfc_uid, asset_id=asset_id))
    document = custody_event(
        Step.DECLARE,
        epcs=[item.epc],
        when=when,
        holder_from=None,
        holder_to=Holder(pgln, site),
        read_point=site,
        event_id="urn:uuid:" + str(uuid.uuid4()),
    )
    ledger.append(
        conn,
        [
            ledger.NewEvent(
                document=document,
                event_time=when,
                recorded_at=datetime.now(UTC),
                asset_id=asset_id,
                step=Step.DECLARE.value,
                state_from=None,
                state_to=AssetState.DECLARED.value,
                site_from=None,
                site_to=item.site_id,
            )
        ],
    )
    return asset_id


def register_sun_tag(conn: Connection, uid_hex: str, asset_id: int) -> None:
    """Pair an NTAG 424 DNA (7-byte UID, upper-case hex) with an asset."""
    uid = uid_hex.upper()
    if len(uid) != 14 or any(c not in "0123456789ABCDEF" for c in uid):
        raise ValueError("UID NTAG 424 DNA : 7 octets en hexadécimal attendus")
    conn.execute(insert(sun_tags).values(uid=uid, asset_id=asset_id, last_counter=None))


def pack_lot(
    conn: Connection,
    sscc_uri: str,
    asset_ids: list[int],
    site_id: str,
    beacons: list[str],
    when: datetime | None = None,
) -> None:
    """Create a lot (SSCC Digital Link) at ``site_id`` carrying ``beacons`` (identities as
    gateways report them, e.g. ``eu:<namespace>:<instance>``) and pack the assets into it,
    each with a chained AggregationEvent (``packing``, parent = the SSCC)."""
    when = when or datetime.now(UTC)
    site = conn.execute(select(sites).where(sites.c.id == site_id)).one()
    pgln = conn.execute(
        select(organisations.c.pgln).where(organisations.c.id == site.organisation_id)
    ).scalar_one()
    conn.execute(insert(lots).values(id=sscc_uri, site_id=site_id, created_at=when))
    for beacon in beacons:
        conn.execute(insert(lot_beacons).values(beacon=beacon, lot_id=sscc_uri))
    events: list[ledger.NewEvent] = []
    for asset_id in asset_ids:
        asset = conn.execute(
            select(assets.c.epc, assets.c.state).where(assets.c.id == asset_id)
        ).one()
        conn.execute(insert(lot_members).values(lot_id=sscc_uri, asset_id=asset_id))
        document = custody_event(
            Step.PACK,
            epcs=[asset.epc],
            when=when,
            holder_from=None,
            holder_to=Holder(pgln, site.gln),
            read_point=site.gln,
            event_id="urn:uuid:" + str(uuid.uuid4()),
            parent=sscc_uri,
        )
        events.append(
            ledger.NewEvent(
                document,
                when,
                datetime.now(UTC),
                asset_id,
                Step.PACK.value,
                asset.state,
                asset.state,
                site_id,
                site_id,
            )
        )
    ledger.append(conn, events)
