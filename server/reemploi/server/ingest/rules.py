"""Site rules and time checks for ingest, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reemploi.domain.custody import Step

# What a tap on a reader means, by the kind of site and the reader's role there. A device
# may override it (``devices.tap_step``); a reader with no step only records sightings.
TAP_STEPS: dict[tuple[str, str], Step] = {
    ("collection_point", "counter"): Step.COLLECT,
    ("sorting_centre", "dock"): Step.RECEIVE,
    ("sorting_centre", "diagnostic"): Step.INSPECT,
    ("workshop", "dock"): Step.RECEIVE,
    ("workshop", "diagnostic"): Step.INSPECT,
    ("workshop", "erasure"): Step.ERASE_DATA,
    ("workshop", "repair"): Step.REFURBISH,
    ("workshop", "shop"): Step.LIST,
    ("reseller", "shop"): Step.LIST,
    ("recycler", "dock"): Step.RECYCLE,
}

SITE_KINDS_FR = {
    "collection_point": "point de collecte",
    "sorting_centre": "centre de tri",
    "workshop": "atelier de reconditionnement",
    "reseller": "revendeur",
    "recycler": "recycleur",
    "depot": "dépôt logistique",
}


def tap_step(site_kind: str, role: str, override: str | None) -> Step | None:
    if override:
        return Step(override)
    return TAP_STEPS.get((site_kind, role))


def event_time(
    device_clock_ms: int | None,
    received_at: datetime,
    tolerance_s: int,
    max_age_s: int,
) -> tuple[datetime, str | None]:
    """When the tap happened: the device's clock when plausible, else our receive time.

    A clock ahead of ours by more than ``tolerance_s`` or older than ``max_age_s`` is
    reported as the anomaly ``clock_skew``; a missing clock is ``no_clock`` (the reader
    has not synchronised yet), not an anomaly worth an alarm but still recorded.
    """
    if device_clock_ms is None:
        return received_at, None
    device_time = datetime.fromtimestamp(device_clock_ms / 1000, tz=UTC)
    if device_time > received_at + timedelta(seconds=tolerance_s):
        return received_at, "clock_skew"
    if device_time < received_at - timedelta(seconds=max_age_s):
        return received_at, "clock_skew"
    return device_time, None
