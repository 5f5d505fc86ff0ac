"""Records → line protocol, the writer's hot path.

``lines_of(record)`` gives exactly ``[encode_point(p) for p in points_of(record)]`` (a
test compares them on generated records), but writes a custody transfer's lines without
building the intermediate points: the tag part of its main line depends only on a few
repeating values (sites, organisations, category, step), so it is computed once and
remembered. Every other record goes through the generic path.
"""

from __future__ import annotations

from .lineprotocol import InvalidPoint, Point, encode_point
from .records import (
    _NS_PER_DAY,
    OUTCOMES,
    CustodyTransfer,
    GeoPoint,
    Record,
    outcome_of,
    points_of,
    step_name,
    transfer_extra_points,
    transfer_points,
    transfer_time_ns,
)

_CACHE_LIMIT = 20_000
_series_by_values: dict[tuple[str, str, str, str, str, str, str], str] = {}


def _transfer_series(transfer: CustodyTransfer, step: str, outcome: str) -> str:
    key = (
        transfer.category,
        step,
        outcome,
        transfer.from_site,
        transfer.to_site,
        transfer.from_org,
        transfer.to_org,
    )
    series = _series_by_values.get(key)
    if series is None:
        # encode a reference point once and keep its "measurement,tags" part
        reference = transfer_points(transfer)[0]
        series = encode_point(reference._replace(fields={"count": 1}, time_ns=0))[
            : -len(" count=1i 0")
        ]
        if len(_series_by_values) >= _CACHE_LIMIT:
            _series_by_values.clear()
        _series_by_values[key] = series
    return series


def _transfer_lines(transfer: CustodyTransfer) -> list[str]:
    step = step_name(transfer.step)
    outcome = transfer.outcome or outcome_of(step)
    weight = float(transfer.weight_kg)
    co2e = float(transfer.co2e_avoided_kg)
    if (
        outcome not in OUTCOMES
        or not transfer.from_site
        or not transfer.to_site
        or not weight >= 0  # also refuses NaN
        or co2e - co2e != 0  # NaN or infinite
        or weight - weight != 0
    ):
        # let the generic path raise the precise InvalidPoint
        return [encode_point(point) for point in transfer_points(transfer)]
    at_ns = transfer_time_ns(transfer)
    reused = "1i" if outcome == "reuse" else "0i"
    recycled = "1i" if outcome == "recycling" else "0i"
    lines = [
        f"{_transfer_series(transfer, step, outcome)} count=1i,weight_kg={weight!r},"
        f"co2e_avoided_kg={co2e!r},reused={reused},recycled={recycled} {at_ns}"
    ]
    if transfer.previous_time is not None:
        waited = (transfer.time - transfer.previous_time).total_seconds()
        if waited < 0:
            return [encode_point(point) for point in transfer_points(transfer)]  # raises
        series = _stage_series(transfer)
        lines.append(f"{series} duration_s={waited!r} {at_ns}")
    day_ns = at_ns - at_ns % _NS_PER_DAY
    for site, org, location in (
        (transfer.from_site, transfer.from_org, transfer.from_location),
        (transfer.to_site, transfer.to_org, transfer.to_location),
    ):
        if location is not None:
            lines.append(_site_line(site, org, location, day_ns))
    return lines


_stage_series_cache: dict[tuple[str, str, str | None], str] = {}
_site_lines: dict[tuple[str, str, GeoPoint, int], str] = {}


def _stage_series(transfer: CustodyTransfer) -> str:
    key = (transfer.category, transfer.from_site, transfer.previous_step)
    series = _stage_series_cache.get(key)
    if series is None:
        [point] = [p for p in transfer_extra_points(transfer, 0) if p.measurement != "site"]
        series = encode_point(point._replace(fields={"d": 1}))[: -len(" d=1i 0")]
        if len(_stage_series_cache) >= _CACHE_LIMIT:
            _stage_series_cache.clear()
        _stage_series_cache[key] = series
    return series


def _site_line(site: str, org: str, location: GeoPoint, day_ns: int) -> str:
    key = (site, org, location, day_ns)
    line = _site_lines.get(key)
    if line is None:
        line = encode_point(
            Point(
                "site",
                {"site": site, "org": org},
                {"lat": location.lat, "lon": location.lon},
                day_ns,
            )
        )
        if len(_site_lines) >= _CACHE_LIMIT:
            _site_lines.clear()
        _site_lines[key] = line
    return line


def lines_of(record: Record) -> list[str]:
    """The line-protocol lines of one record (raises :class:`InvalidPoint` like points_of)."""
    if type(record) is CustodyTransfer:
        return _transfer_lines(record)
    return [encode_point(point) for point in points_of(record)]


__all__ = ["InvalidPoint", "lines_of"]
