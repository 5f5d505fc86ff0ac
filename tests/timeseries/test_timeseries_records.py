"""Records → points (pure, deterministic), the outbox on disk, and the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.protocol import wire
from reemploi.server.timeseries import (
    CustodyTransfer,
    DeviceHealth,
    GeoPoint,
    InvalidPoint,
    Outbox,
    StockSnapshot,
    TimeSeriesConfigError,
    TimeSeriesSettings,
    encode_point,
    points_of,
)
from reemploi.server.timeseries.lines import lines_of

T = datetime(2025, 4, 1, 9, 30, 15, 123456, tzinfo=UTC)
SALE = CustodyTransfer(
    time=T,
    asset_id="https://id.reemploi.example/8004/0614141000001",
    category="laptop",
    step="https://ref.gs1.org/cbv/BizStep-retail_selling",
    from_site="boutique-grenoble",
    to_site="acheteur-cd38",
    from_org="asso-atelier",
    to_org="departement-isere",
    weight_kg=2.0,
    co2e_avoided_kg=170.0,
    ledger_seq=42,
    previous_time=T - timedelta(days=3),
    previous_step="shipping",
    from_location=GeoPoint(45.1885, 5.7245),
    to_location=GeoPoint(45.1875, 5.7357),
)


def test_a_sale_becomes_a_transfer_a_stage_duration_and_two_site_positions() -> None:
    lines = [encode_point(p) for p in points_of(SALE)]
    at = "1743499815123000042"  # the millisecond of the sale + ledger_seq nanoseconds
    day = "1743465600000000000"  # site positions: one point per site and UTC day
    assert lines == [
        "custody_transfer,category=laptop,flow=boutique-grenoble>acheteur-cd38,"
        "from_org=asso-atelier,from_site=boutique-grenoble,outcome=reuse,step=retail_selling,"
        "to_org=departement-isere,to_site=acheteur-cd38 "
        f"count=1i,weight_kg=2.0,co2e_avoided_kg=170.0,reused=1i,recycled=0i {at}",
        "stage_duration,category=laptop,site=boutique-grenoble,step=shipping "
        f"duration_s=259200.0 {at}",
        f"site,org=asso-atelier,site=boutique-grenoble lat=45.1885,lon=5.7245 {day}",
        f"site,org=departement-isere,site=acheteur-cd38 lat=45.1875,lon=5.7357 {day}",
    ]


def test_the_same_transfer_always_gives_the_same_points_in_any_time_zone() -> None:
    paris = SALE.time.astimezone(timezone(timedelta(hours=2)))
    assert points_of(replace(SALE, time=paris, previous_time=SALE.previous_time)) == points_of(SALE)
    assert points_of(SALE) == points_of(SALE)


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=2, max_size=50, unique=True))
def test_transfers_of_one_instant_with_distinct_ledger_rows_get_distinct_timestamps(
    seqs: list[int],
) -> None:
    stamps = {points_of(replace(SALE, ledger_seq=s))[0].time_ns for s in seqs}
    distinct = {s % 1_000_000 for s in seqs}
    assert len(stamps) == len(distinct)


def test_recycling_and_chain_outcomes_follow_the_cbv_step() -> None:
    recycled = points_of(replace(SALE, step="disassembling", co2e_avoided_kg=0.0))[0]
    assert recycled.tags["outcome"] == "recycling"
    assert recycled.fields["recycled"] == 1 and recycled.fields["reused"] == 0
    moved = points_of(replace(SALE, step="shipping"))[0]
    assert moved.tags["outcome"] == "chain"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time": datetime(2025, 1, 1)}, "time zone"),
        ({"weight_kg": -1.0}, "weight_kg"),
        ({"co2e_avoided_kg": float("nan")}, "finite"),
        ({"outcome": "perdu"}, "outcome"),
        ({"previous_time": T + timedelta(days=1)}, "previous_time"),
        ({"to_site": ""}, "both sites"),
        ({"ledger_seq": -1}, "ledger_seq"),
    ],
)
def test_impossible_transfers_are_refused(change: dict, message: str) -> None:
    with pytest.raises(InvalidPoint, match=message):
        [encode_point(p) for p in points_of(replace(SALE, **change))]


def test_device_health_mirrors_the_wire_status_message() -> None:
    status = wire.decode_status(
        wire.encode_status(
            wire.Status(
                "r-fontaine-1",
                "online",
                fw="1.0.3",
                uptime=3600,
                heap=81234,
                queue=2,
                drops=0,
                wifi_rssi=-61,
                reset="power_on",
            )
        )
    )
    health = DeviceHealth.from_status(status, "atelier-fontaine", T)
    assert encode_point(points_of(health)[0]) == (
        "device_status,device=r-fontaine-1,site=atelier-fontaine online=1i,uptime_s=3600i,"
        'heap_bytes=81234i,queue=2i,drops=0i,wifi_rssi=-61i,fw="1.0.3",reset="power_on" '
        "1743499815123456000"
    )
    offline = DeviceHealth.from_status(
        wire.decode_status(wire.offline_status("r-fontaine-1")), "atelier-fontaine", T
    )
    assert points_of(offline)[0].fields == {"online": 0}


def test_a_stock_snapshot_with_a_position_also_places_the_site() -> None:
    snapshot = StockSnapshot(
        T, "atelier-fontaine", "screen", "B", 7, "asso-atelier", GeoPoint(45.1927, 5.6857)
    )
    stock, site = points_of(snapshot)
    assert stock.fields == {"count": 7} and stock.tags["grade"] == "B"
    assert site.measurement == "site" and site.fields == {"lat": 45.1927, "lon": 5.6857}
    with pytest.raises(InvalidPoint):
        GeoPoint(95.0, 5.0)


def test_outbox_keeps_batches_across_reopening_and_sets_rejected_ones_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    outbox = Outbox(path)
    outbox.append([("m f=1i 1", 1), ("m f=2i 2\nm f=3i 3", 2), ("m f=4i 4", 1)])
    outbox.close()
    outbox = Outbox(path)
    assert outbox.stats().pending_points == 4
    first_two = outbox.take(3)
    assert [b.points for b in first_two] == [1, 2]
    assert [b.points for b in outbox.take(1)] == [1]  # always at least one batch
    outbox.reject([first_two[0].id], "400 bad")
    outbox.mark_failed([first_two[1].id], "down")
    stats = outbox.stats()
    assert (stats.pending_batches, stats.pending_points, stats.rejected_points) == (2, 3, 1)
    assert outbox.rejected_errors() == ["400 bad"]
    assert outbox.take(10)[0].attempts == 1
    assert outbox.requeue_rejected() == 1
    assert outbox.stats().pending_points == 4 and outbox.stats().rejected_batches == 0
    outbox.close()


def test_settings_need_org_bucket_and_token_for_v2_and_never_default_a_secret() -> None:
    assert not TimeSeriesSettings.from_env({}).enabled
    with pytest.raises(TimeSeriesConfigError, match="REEMPLOI_INFLUX_TOKEN"):
        TimeSeriesSettings.from_env(
            {
                "REEMPLOI_INFLUX_URL": "http://influxdb:8086",
                "REEMPLOI_INFLUX_ORG": "o",
                "REEMPLOI_INFLUX_BUCKET": "b",
            }
        )
    v1 = TimeSeriesSettings.from_env(
        {
            "REEMPLOI_INFLUX_URL": "http://influxdb:8086",
            "REEMPLOI_INFLUX_API": "v1",
            "REEMPLOI_INFLUX_DATABASE": "reemploi",
        }
    )
    assert v1.make_sink().describe() == "http://influxdb:8086/write?db=reemploi"
    with pytest.raises(TimeSeriesConfigError, match="v1 ou v2"):
        TimeSeriesSettings.from_env(
            {"REEMPLOI_INFLUX_URL": "http://x", "REEMPLOI_INFLUX_API": "v3"}
        )


_site_ids = st.sampled_from(["mairie-echirolles", "atelier fontaine", "b,=x", "acheteur-cd38"])


@given(
    category=st.sampled_from(["laptop", "screen", "écran plat"]),
    step=st.sampled_from(
        ["receiving", "retail_selling", "https://ref.gs1.org/cbv/BizStep-destroying"]
    ),
    sites=st.tuples(_site_ids, _site_ids),
    orgs=st.tuples(st.sampled_from(["", "asso-atelier"]), st.sampled_from(["ville", "x y"])),
    weight=st.floats(min_value=0, max_value=500),
    co2e=st.floats(allow_nan=False, allow_infinity=False, width=32),
    seq=st.integers(min_value=0, max_value=2**40),
    waited=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
    placed=st.booleans(),
)
def test_the_writers_fast_lines_are_exactly_the_generic_encoding(
    category: str,
    step: str,
    sites: tuple[str, str],
    orgs: tuple[str, str],
    weight: float,
    co2e: float,
    seq: int,
    waited: int | None,
    placed: bool,
) -> None:
    transfer = replace(
        SALE,
        category=category,
        step=step,
        from_site=sites[0],
        to_site=sites[1],
        from_org=orgs[0],
        to_org=orgs[1],
        weight_kg=weight,
        co2e_avoided_kg=co2e,
        ledger_seq=seq,
        previous_time=None if waited is None else SALE.time - timedelta(seconds=waited),
        from_location=SALE.from_location if placed else None,
        to_location=SALE.to_location if placed else None,
    )
    assert lines_of(transfer) == [encode_point(p) for p in points_of(transfer)]
    assert lines_of(transfer) == lines_of(transfer)  # and again, from the cache


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0])
def test_the_fast_lines_refuse_what_the_generic_encoding_refuses(weight: float) -> None:
    with pytest.raises(InvalidPoint):
        lines_of(replace(SALE, weight_kg=weight))
