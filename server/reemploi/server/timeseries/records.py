"""What the server tells the time-series side, as frozen records, and the points they become.

These records are the whole contract with the ingest: it builds one per fact and hands it
to :meth:`TimeSeriesWriter.record`. Converting a record to points is pure and
deterministic — the same record always gives the same points, with the same timestamps
and tags — so a backfill from the ledger overwrites what was written live instead of
doubling it.

Measurements (see docs/flows.md for the dashboards that read them):

``custody_transfer``
    one point per asset changing hands. Tags ``from_site``, ``to_site``, ``from_org``,
    ``to_org``, ``category``, ``step``, ``outcome`` (``reuse`` / ``recycling`` / ``chain``)
    and ``flow`` (``from_site>to_site``, the id of a line on the map). Fields ``count``
    (1), ``weight_kg``, ``co2e_avoided_kg``, ``reused`` and ``recycled`` (0 or 1).
``stage_duration``
    how long the asset waited in its previous stage. Tags ``step`` (the stage waited in),
    ``site``, ``category``; field ``duration_s``.
``site``
    where a site is, for the map. Tags ``site``, ``org``; fields ``lat``, ``lon``; one
    point per site and UTC day (stamped at midnight UTC).
``stock``
    assets held per site, category and grade at one instant. Field ``count``.
``device_status``
    a reader's or gateway's health (the wire protocol's status message). Tags ``site``,
    ``device``; fields ``online`` (0/1), ``uptime_s``, ``heap_bytes``, ``queue``,
    ``drops``, ``wifi_rssi``, ``fw``, ``reset``.
``ingest``
    the ingest's own counters over an interval.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

from .lineprotocol import FieldValue, InvalidPoint, Point

# CBV 2.0 business steps that end an asset's life in the chain (STANDARDS.md).
REUSE_STEPS = frozenset({"retail_selling"})
RECYCLING_STEPS = frozenset({"disassembling", "destroying"})
OUTCOMES = ("reuse", "recycling", "chain")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_MS = 1_000_000
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class GeoPoint:
    """WGS 84 latitude and longitude in degrees."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise InvalidPoint(f"not a WGS 84 position: {self.lat}, {self.lon}")


@dataclass(frozen=True)
class CustodyTransfer:
    """One asset passing from one holder to the next, as recorded in the ledger.

    ``ledger_seq`` must be unique per (event, asset) row of the ledger and never change:
    it spreads transfers of the same millisecond over distinct nanoseconds, so that a
    lot of fifty laptops shipped at once gives fifty points, and a replay gives the same
    fifty. Without it the asset id is hashed instead (a collision is then possible, one
    in a million per pair of assets of the same lot).

    ``co2e_avoided_kg`` is counted as given: put it on the transfer that completes a
    reuse (``retail_selling``) and 0 elsewhere, or the dashboards count it twice.
    ``previous_time`` / ``previous_step`` (the asset's preceding custody event) give the
    time it waited in that stage.
    """

    time: datetime
    asset_id: str
    category: str
    step: str
    from_site: str
    to_site: str
    from_org: str
    to_org: str
    weight_kg: float
    co2e_avoided_kg: float
    ledger_seq: int | None = None
    outcome: str | None = None
    previous_time: datetime | None = None
    previous_step: str | None = None
    from_location: GeoPoint | None = None
    to_location: GeoPoint | None = None


@dataclass(frozen=True)
class StockSnapshot:
    """How many assets of a category and grade a site holds at ``time``."""

    time: datetime
    site: str
    category: str
    grade: str
    count: int
    org: str = ""
    location: GeoPoint | None = None


@dataclass(frozen=True)
class DeviceHealth:
    """A reader's or gateway's status message (``reemploi.protocol.wire.Status``)."""

    time: datetime
    site: str
    device: str
    state: str  # "online" or "offline"
    fw: str | None = None
    uptime_s: int | None = None
    heap_bytes: int | None = None
    queue: int | None = None
    drops: int | None = None
    wifi_rssi: int | None = None
    reset: str | None = None

    @classmethod
    def from_status(cls, status: object, site: str, time: datetime) -> DeviceHealth:
        """From a decoded ``wire.Status``; ``site`` comes from the MQTT topic."""
        return cls(
            time=time,
            site=site,
            device=str(getattr(status, "device")),  # noqa: B009 - duck-typed wire object
            state=str(getattr(status, "state")),  # noqa: B009
            fw=getattr(status, "fw", None),
            uptime_s=getattr(status, "uptime", None),
            heap_bytes=getattr(status, "heap", None),
            queue=getattr(status, "queue", None),
            drops=getattr(status, "drops", None),
            wifi_rssi=getattr(status, "wifi_rssi", None),
            reset=getattr(status, "reset", None),
        )


@dataclass(frozen=True)
class IngestMetrics:
    """The ingest's counters over the ``interval_s`` seconds ending at ``time``."""

    time: datetime
    interval_s: float
    scans_received: int
    scans_accepted: int
    scans_duplicate: int
    scans_rejected: int
    custody_events: int
    ack_p50_ms: float | None = None
    ack_p99_ms: float | None = None
    instance: str = "server"


Record = CustodyTransfer | StockSnapshot | DeviceHealth | IngestMetrics


def time_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch; naive datetimes are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidPoint(f"time must carry a time zone: {moment.isoformat()}")
    delta = moment - _EPOCH
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


_step_names: dict[str, str] = {}


def step_name(step: str) -> str:
    """``https://ref.gs1.org/cbv/BizStep-receiving`` → ``receiving``; bare words unchanged."""
    name = _step_names.get(step)
    if name is None:
        if "BizStep-" in step:
            name = step.rsplit("BizStep-", 1)[1]
        else:
            name = step.rstrip("/").rsplit("/", 1)[-1]
        if len(_step_names) < 1000:
            _step_names[step] = name
    return name


def outcome_of(step: str) -> str:
    name = step_name(step)
    if name in REUSE_STEPS:
        return "reuse"
    if name in RECYCLING_STEPS:
        return "recycling"
    return "chain"


def transfer_time_ns(transfer: CustodyTransfer) -> int:
    """The transfer's millisecond plus a per-row offset below one millisecond."""
    if transfer.ledger_seq is not None:
        if transfer.ledger_seq < 0:
            raise InvalidPoint("ledger_seq must not be negative")
        offset = transfer.ledger_seq % _NS_PER_MS
    else:
        offset = zlib.crc32(transfer.asset_id.encode("utf-8")) % _NS_PER_MS
    return time_ns(transfer.time) // _NS_PER_MS * _NS_PER_MS + offset


def _number(name: str, value: float) -> float:
    number = float(value)
    if number < 0:
        raise InvalidPoint(f"{name} must not be negative: {value}")
    return number


_site_parts: dict[tuple[str, str, GeoPoint], tuple[dict[str, str], dict[str, FieldValue]]] = {}


def _site_point(site: str, org: str, location: GeoPoint, at_ns: int) -> Point:
    """Where a site is, stamped at the start of the UTC day: one point per site and day,
    whatever the number of transfers (the writer skips the repeats)."""
    key = (site, org, location)
    parts = _site_parts.get(key)
    if parts is None:  # shared, never mutated: sites are few and repeat at every transfer
        parts = ({"site": site, "org": org}, {"lat": location.lat, "lon": location.lon})
        if len(_site_parts) < 10_000:
            _site_parts[key] = parts
    return Point("site", parts[0], parts[1], at_ns - at_ns % _NS_PER_DAY)


def transfer_points(transfer: CustodyTransfer) -> list[Point]:
    at_ns = transfer_time_ns(transfer)
    step = step_name(transfer.step)
    outcome = transfer.outcome or outcome_of(step)
    if outcome not in OUTCOMES:
        raise InvalidPoint(f"outcome must be one of {', '.join(OUTCOMES)}: {outcome!r}")
    if not transfer.from_site or not transfer.to_site:
        raise InvalidPoint("a custody transfer needs both sites")
    points = [
        Point(
            "custody_transfer",
            {
                "category": transfer.category,
                "flow": f"{transfer.from_site}>{transfer.to_site}",
                "from_org": transfer.from_org,
                "from_site": transfer.from_site,
                "outcome": outcome,
                "step": step,
                "to_org": transfer.to_org,
                "to_site": transfer.to_site,
            },
            {
                "count": 1,
                "weight_kg": _number("weight_kg", transfer.weight_kg),
                "co2e_avoided_kg": float(transfer.co2e_avoided_kg),
                "reused": int(outcome == "reuse"),
                "recycled": int(outcome == "recycling"),
            },
            at_ns,
        )
    ]
    points.extend(transfer_extra_points(transfer, at_ns))
    return points


def transfer_extra_points(transfer: CustodyTransfer, at_ns: int) -> list[Point]:
    """The time the asset waited in its previous stage, and where both sites are."""
    points: list[Point] = []
    if transfer.previous_time is not None:
        waited = (transfer.time - transfer.previous_time).total_seconds()
        if waited < 0:
            raise InvalidPoint("previous_time is after the transfer")
        points.append(
            Point(
                "stage_duration",
                {
                    "category": transfer.category,
                    "site": transfer.from_site,
                    "step": step_name(transfer.previous_step or "") or "inconnu",
                },
                {"duration_s": waited},
                at_ns,
            )
        )
    if transfer.from_location is not None:
        points.append(
            _site_point(transfer.from_site, transfer.from_org, transfer.from_location, at_ns)
        )
    if transfer.to_location is not None:
        points.append(_site_point(transfer.to_site, transfer.to_org, transfer.to_location, at_ns))
    return points


def stock_points(snapshot: StockSnapshot) -> list[Point]:
    if snapshot.count < 0:
        raise InvalidPoint("stock count must not be negative")
    at_ns = time_ns(snapshot.time)
    points = [
        Point(
            "stock",
            {"site": snapshot.site, "category": snapshot.category, "grade": snapshot.grade},
            {"count": int(snapshot.count)},
            at_ns,
        )
    ]
    if snapshot.location is not None:
        points.append(_site_point(snapshot.site, snapshot.org, snapshot.location, at_ns))
    return points


def device_points(health: DeviceHealth) -> list[Point]:
    if health.state not in ("online", "offline"):
        raise InvalidPoint(f"device state must be online or offline: {health.state!r}")
    fields: dict[str, FieldValue] = {"online": int(health.state == "online")}
    for name in ("uptime_s", "heap_bytes", "queue", "drops", "wifi_rssi"):
        value = getattr(health, name)
        if value is not None:
            fields[name] = int(value)
    for name in ("fw", "reset"):
        value = getattr(health, name)
        if value is not None:
            fields[name] = str(value)
    return [
        Point(
            "device_status",
            {"site": health.site, "device": health.device},
            fields,
            time_ns(health.time),
        )
    ]


def ingest_points(metrics: IngestMetrics) -> list[Point]:
    fields: dict[str, FieldValue] = {
        "interval_s": float(metrics.interval_s),
        "received": int(metrics.scans_received),
        "accepted": int(metrics.scans_accepted),
        "duplicates": int(metrics.scans_duplicate),
        "rejected": int(metrics.scans_rejected),
        "custody_events": int(metrics.custody_events),
    }
    if metrics.ack_p50_ms is not None:
        fields["ack_p50_ms"] = float(metrics.ack_p50_ms)
    if metrics.ack_p99_ms is not None:
        fields["ack_p99_ms"] = float(metrics.ack_p99_ms)
    return [Point("ingest", {"instance": metrics.instance}, fields, time_ns(metrics.time))]


def points_of(record: Record) -> list[Point]:
    """The points one record becomes (pure, deterministic)."""
    if isinstance(record, CustodyTransfer):
        return transfer_points(record)
    if isinstance(record, StockSnapshot):
        return stock_points(record)
    if isinstance(record, DeviceHealth):
        return device_points(record)
    if isinstance(record, IngestMetrics):
        return ingest_points(record)
    raise InvalidPoint(f"not a time-series record: {type(record).__name__}")
