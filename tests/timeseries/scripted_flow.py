"""A scripted fortnight of the reuse chain in the metropolis, and what it must add up to.

Twelve assets are dropped at two collection points, travel as one cage to a workshop,
then go either to a shop and a buyer (reuse) or to a recycler. Stock is inventoried every
day; three readers report their health, one ends offline; the ingest reports every hour.
Expectations are computed here from the script itself, never from InfluxDB.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from reemploi.protocol import wire
from reemploi.server.timeseries import (
    CustodyTransfer,
    DeviceHealth,
    GeoPoint,
    IngestMetrics,
    StockSnapshot,
)

T0 = datetime(2025, 3, 3, 7, 0, tzinfo=UTC)
END = T0 + timedelta(days=16)

SITES = {
    # site: (organisation, position)
    "mairie-echirolles": ("ville-echirolles", GeoPoint(45.1436, 5.7184)),
    "dechetterie-meylan": ("grenoble-alpes-metropole", GeoPoint(45.2096, 5.78)),
    "atelier-fontaine": ("asso-atelier", GeoPoint(45.1927, 5.6857)),
    "boutique-grenoble": ("asso-atelier", GeoPoint(45.1885, 5.7245)),
    "recyclage-pont-de-claix": ("recycleur-alpes", GeoPoint(45.1214, 5.6981)),
    "acheteur-cd38": ("departement-isere", GeoPoint(45.1665, 5.7655)),
}
CATEGORIES = {
    # category: (weight kg, manufacturing footprint kg CO2e, ADEME/Arcep 2022)
    "laptop": (2.0, 170.0),
    "screen": (4.5, 65.0),
    "phone": (0.2, 83.0),
}
GRADES = ("A", "C")
DEVICES = {
    "r-echirolles-1": "mairie-echirolles",
    "r-meylan-1": "dechetterie-meylan",
    "r-fontaine-1": "atelier-fontaine",
}
OFFLINE_AT_END = "r-meylan-1"


@dataclass
class Flow:
    transfers: list[CustodyTransfer] = field(default_factory=list)
    stocks: list[StockSnapshot] = field(default_factory=list)
    devices: list[DeviceHealth] = field(default_factory=list)
    ingest: list[IngestMetrics] = field(default_factory=list)
    grade_of: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[object]:
        return [*self.transfers, *self.stocks, *self.devices, *self.ingest]


def _transfer(
    flow: Flow,
    asset: str,
    category: str,
    step: str,
    from_site: str,
    to_site: str,
    when: datetime,
    previous: CustodyTransfer | None,
) -> CustodyTransfer:
    weight, footprint = CATEGORIES[category]
    transfer = CustodyTransfer(
        time=when,
        asset_id=asset,
        category=category,
        step=step,
        from_site=from_site,
        to_site=to_site,
        from_org=SITES[from_site][0],
        to_org=SITES[to_site][0],
        weight_kg=weight,
        co2e_avoided_kg=footprint if step == "retail_selling" else 0.0,
        ledger_seq=len(flow.transfers) + 1,
        previous_time=previous.time if previous else None,
        previous_step=previous.step if previous else None,
        from_location=SITES[from_site][1],
        to_location=SITES[to_site][1],
    )
    flow.transfers.append(transfer)
    return transfer


def build_flow() -> Flow:
    flow = Flow()
    cage_arrival = T0 + timedelta(days=2)  # one cage: six assets received at the same instant
    for i in range(12):
        asset = f"https://id.reemploi.example/8004/0614141{i:06d}"
        category = list(CATEGORIES)[i % 3]
        origin = "mairie-echirolles" if i % 2 == 0 else "dechetterie-meylan"
        recycled = i % 4 == 3
        flow.grade_of[asset] = "C" if recycled else "A"
        collected = _transfer(
            flow, asset, category, "collecting", origin, origin, T0 + timedelta(hours=i), None
        )
        arrival = cage_arrival if i < 6 else cage_arrival + timedelta(hours=i)
        received = _transfer(
            flow, asset, category, "receiving", origin, "atelier-fontaine", arrival, collected
        )
        if recycled:
            _transfer(
                flow,
                asset,
                category,
                "https://ref.gs1.org/cbv/BizStep-disassembling",
                "atelier-fontaine",
                "recyclage-pont-de-claix",
                arrival + timedelta(days=4),
                received,
            )
        else:
            shipped = _transfer(
                flow,
                asset,
                category,
                "shipping",
                "atelier-fontaine",
                "boutique-grenoble",
                arrival + timedelta(days=5),
                received,
            )
            _transfer(
                flow,
                asset,
                category,
                "retail_selling",
                "boutique-grenoble",
                "acheteur-cd38",
                shipped.time + timedelta(days=3, hours=i),
                shipped,
            )
    for day in range(15):
        moment = T0 + timedelta(days=day, hours=20)
        held = holdings(flow, moment)
        for site in SITES:
            for category in CATEGORIES:
                for grade in GRADES:
                    flow.stocks.append(
                        StockSnapshot(
                            moment,
                            site,
                            category,
                            grade,
                            held[(site, category, grade)],
                            org=SITES[site][0],
                            location=SITES[site][1],
                        )
                    )
    for hour in range(0, 15 * 24, 6):
        moment = T0 + timedelta(hours=hour)
        for n, (device, site) in enumerate(DEVICES.items()):
            status = wire.Status(
                device,
                "online",
                fw="1.0.3",
                uptime=hour * 3600 + 60,
                heap=80_000 - n,
                queue=(hour // 6 + n) % 4,
                drops=n,
                wifi_rssi=-60 - n,
                reset="power_on",
            )
            decoded = wire.decode_status(wire.encode_status(status))
            flow.devices.append(DeviceHealth.from_status(decoded, site, moment))
    last = T0 + timedelta(days=15)
    offline = wire.decode_status(wire.offline_status(OFFLINE_AT_END))
    flow.devices.append(DeviceHealth.from_status(offline, DEVICES[OFFLINE_AT_END], last))
    for hour in range(15 * 24):
        flow.ingest.append(
            IngestMetrics(
                T0 + timedelta(hours=hour),
                3600.0,
                scans_received=10 + hour % 5,
                scans_accepted=9 + hour % 5,
                scans_duplicate=1,
                scans_rejected=hour % 2,
                custody_events=9 + hour % 5,
                ack_p50_ms=1.5,
                ack_p99_ms=4.0 + hour % 3,
            )
        )
    return flow


def holdings(flow: Flow, moment: datetime) -> Counter[tuple[str, str, str]]:
    """(site, category, grade) → assets whose latest transfer before ``moment`` ends there."""
    latest: dict[str, CustodyTransfer] = {}
    for transfer in flow.transfers:
        if transfer.time <= moment:
            latest[transfer.asset_id] = transfer
    counts: Counter[tuple[str, str, str]] = Counter()
    for asset, transfer in latest.items():
        counts[(transfer.to_site, transfer.category, flow.grade_of[asset])] += 1
    return counts


def step_of(transfer: CustodyTransfer) -> str:
    return transfer.step.rsplit("BizStep-", 1)[-1]


def outcome(transfer: CustodyTransfer) -> str:
    step = step_of(transfer)
    return {"retail_selling": "reuse", "disassembling": "recycling"}.get(step, "chain")


def nearest_rank(values: list[float], percent: float) -> float:
    """InfluxQL's percentile(): the value at rank ceil-ish(n * p / 100), no interpolation."""
    ordered = sorted(values)
    rank = int(len(ordered) * percent / 100 + 0.5) - 1
    return ordered[max(0, min(rank, len(ordered) - 1))]


def waits(flow: Flow) -> dict[str, list[float]]:
    by_step: dict[str, list[float]] = defaultdict(list)
    for transfer in flow.transfers:
        if transfer.previous_time is not None:
            waited = (transfer.time - transfer.previous_time).total_seconds()
            by_step[transfer.previous_step or ""].append(waited)
    return by_step


def waits_by_site(flow: Flow) -> dict[str, float]:
    by_site: dict[str, list[float]] = defaultdict(list)
    for transfer in flow.transfers:
        if transfer.previous_time is not None:
            by_site[transfer.from_site].append(
                (transfer.time - transfer.previous_time).total_seconds()
            )
    return {site: statistics.mean(values) for site, values in by_site.items()}
