"""Dashboards as code: the committed files are what the code generates, and every panel's
InfluxQL, run against a real InfluxDB filled by the real writer from a scripted flow,
returns the series the panel expects."""

from __future__ import annotations

import json
import os
import shutil
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from influx_target import InfluxTarget
from scripted_flow import (
    CATEGORIES,
    DEVICES,
    END,
    OFFLINE_AT_END,
    SITES,
    T0,
    Flow,
    build_flow,
    holdings,
    nearest_rank,
    outcome,
    step_of,
    waits,
    waits_by_site,
)
from support.services import InfluxDB1

from reemploi.server.timeseries import InfluxV1Sink, TimeSeriesWriter
from reemploi.server.timeseries.dashboards import flows
from reemploi.server.timeseries.dashboards.influxql import DATASOURCE_UID
from reemploi.server.timeseries.dashboards.publish import (
    differences,
    generated_files,
    push_payloads,
    write_generated,
)
from reemploi.server.timeseries.dashboards_cli import main as dashboards_main

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
Results = dict[str, list[dict[str, Any]]]

# ------------------------------------------------------------------ generated files


def test_committed_dashboards_and_provisioning_are_exactly_what_the_code_generates() -> None:
    assert differences(DASHBOARDS_DIR) == []
    assert dashboards_main(["check", "--dir", str(DASHBOARDS_DIR)]) == 0


def test_check_fails_on_an_edited_or_stale_file(tmp_path: Path) -> None:
    write_generated(tmp_path)
    assert differences(tmp_path) == []
    target = tmp_path / "json" / "reemploi-flux.json"
    target.write_text(target.read_text().replace("Flux de la métropole", "Flux"))
    (tmp_path / "json" / "old.json").write_text("{}")
    (tmp_path / "provisioning" / "dashboards" / "reemploi.yaml").unlink()
    problems = differences(tmp_path)
    assert any("reemploi-flux.json" in p for p in problems)
    assert any("old.json" in p for p in problems)
    assert any("reemploi.yaml" in p for p in problems)
    assert dashboards_main(["check", "--dir", str(tmp_path)]) == 1


def _dashboards() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((DASHBOARDS_DIR / "json").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["uid"]] = data
    return out


def test_dashboards_are_french_with_units_descriptions_and_our_datasource() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == {
        "reemploi-flux",
        "reemploi-stock",
        "reemploi-delais",
        "reemploi-devenir",
        "reemploi-impact",
        "reemploi-lecteurs",
    }
    assert dashboards["reemploi-flux"]["title"] == "Flux de la métropole"
    for dashboard in dashboards.values():
        assert dashboard["tags"] == ["reemploi"]
        for panel in dashboard["panels"]:
            assert panel["title"] and len(panel["description"]) > 30, panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert panel["datasource"]["uid"] == DATASOURCE_UID
            for target in panel["targets"]:
                assert target["rawQuery"] is True and target["datasource"]["uid"] == DATASOURCE_UID
                assert "$timeFilter" in target["query"] or target["query"] == flows.SITES_QUERY
    english = ("Stock by", "Lead time", "Devices", "Offline", "Flows")
    text = json.dumps(dashboards, ensure_ascii=False)
    assert not any(word in text for word in english)


def test_geomap_draws_sites_and_flow_lines_weighted_by_volume() -> None:
    panel = _panel("reemploi-flux", "Carte des flux de la métropole")
    assert panel["type"] == "geomap"
    network, markers = panel["options"]["layers"]
    assert network["type"] == "network"
    assert network["config"]["arrow"] == 1
    assert network["config"]["edgeStyle"]["size"]["field"] == "mainstat"
    assert network["location"] == {
        "mode": "coords",
        "latitude": "latitude",
        "longitude": "longitude",
    }
    assert markers["type"] == "markers" and markers["filterData"]["options"] == "A"
    [organize] = panel["transformations"]
    assert organize["id"] == "organize"
    assert organize["options"]["renameByName"] == flows.MAP_RENAMES


def test_provisioning_points_grafana_at_influxdb_with_the_token_from_the_environment() -> None:
    datasource = yaml.safe_load(
        (DASHBOARDS_DIR / "provisioning/datasources/reemploi-influxdb.yaml").read_text()
    )
    [source] = datasource["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "influxdb"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUXDB_TOKEN}"
    assert source["jsonData"]["dbName"] == "${INFLUXDB_BUCKET}"
    provider = yaml.safe_load(
        (DASHBOARDS_DIR / "provisioning/dashboards/reemploi.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/reemploi"


def test_push_payloads_overwrite_each_dashboard_in_the_reemploi_folder() -> None:
    payloads = push_payloads()
    assert len(payloads) == 6
    assert {p["dashboard"]["uid"] for p in payloads} == set(_dashboards())
    assert all(p["overwrite"] is True and p["folderUid"] == "reemploi" for p in payloads)
    assert len(generated_files()) == 8


def _panel(uid: str, title: str) -> dict[str, Any]:
    [panel] = [p for p in _dashboards()[uid]["panels"] if p["title"] == title]
    return panel


# ------------------------------------------------------------------ queries against InfluxDB

START = T0 - timedelta(days=1)


def interpolate(query: str, categorie: str = ".*", site: str = ".*", interval: str = "1h") -> str:
    """What Grafana sends for ``query`` (All selected: the variables' allValue ``.*``)."""
    start_ms = int(START.timestamp() * 1000)
    end_ms = int(END.timestamp() * 1000)
    return (
        query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
        .replace("$__interval", interval)
        .replace("$categorie", categorie)
        .replace("$site", site)
    )


@pytest.fixture(scope="module")
def filled(
    influxdb: InfluxDB1, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[InfluxTarget, Flow]]:
    influxdb.create_database("dashboards")
    target = InfluxTarget(influxdb.url, "dashboards")
    flow = build_flow()
    outbox = tmp_path_factory.mktemp("outbox") / "outbox.db"
    writer = TimeSeriesWriter(InfluxV1Sink(influxdb.url, "dashboards"), outbox, batch_size=500)
    writer.start()
    writer.record_many(flow.records())  # type: ignore[arg-type]
    assert writer.flush(60), writer.health()
    assert writer.health().invalid_records == 0
    writer.close()
    yield target, flow


def rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grafana's table format: one row per value, tags as columns."""
    out = []
    for one in series:
        for values in one["values"]:
            out.append({**one.get("tags", {}), **dict(zip(one["columns"], values, strict=True))})
    return out


def by_tag(series: list[dict[str, Any]], tag: str) -> dict[str, list[Any]]:
    """Series per tag value → the non-null values (time-series format)."""
    return {one["tags"][tag]: [v[1] for v in one["values"] if v[1] is not None] for one in series}


def single(series: list[dict[str, Any]]) -> Any:
    [one] = series
    [value] = [v[1] for v in one["values"]]
    return value


def _transfers_sum(flow: Flow, key: Callable[[Any], Any], value: Callable[[Any], float]) -> dict:
    totals: dict[Any, float] = defaultdict(float)
    for transfer in flow.transfers:
        totals[key(transfer)] += value(transfer)
    return dict(totals)


def _final_stock(flow: Flow) -> Counter[tuple[str, str, str]]:
    last = max(snapshot.time for snapshot in flow.stocks)
    return holdings(flow, last)


def _approx(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value), key


# Each check receives the results by refId, the scripted flow and the panel.


def check_map(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    renames = panel["transformations"][0]["options"]["renameByName"]
    nodes = [{renames.get(k, k): v for k, v in row.items()} for row in rows(results["A"])]
    edges = [{renames.get(k, k): v for k, v in row.items()} for row in rows(results["B"])]
    layer = panel["options"]["layers"][0]
    lat, lon = layer["location"]["latitude"], layer["location"]["longitude"]
    positions = {node["id"]: (node[lat], node[lon]) for node in nodes}
    assert positions == {site: (p.lat, p.lon) for site, (_, p) in SITES.items()}
    volumes = {(e["source"], e["target"]): e["mainstat"] for e in edges}
    assert volumes == Counter((t.from_site, t.to_site) for t in flow.transfers)
    assert all(e["source"] in positions and e["target"] in positions for e in edges)
    assert all(e["id"] == f"{e['source']}>{e['target']}" for e in edges)
    weights = {(e["source"], e["target"]): e["secondarystat"] for e in edges}
    _approx(
        weights, _transfers_sum(flow, lambda t: (t.from_site, t.to_site), lambda t: t.weight_kg)
    )


def check_moved_total(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == len(flow.transfers)


def check_weight_total(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == pytest.approx(sum(t.weight_kg for t in flow.transfers))


def check_flows_table(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {
        (r["from_site"], r["to_site"]): (r["equipements"], r["poids_kg"])
        for r in rows(results["A"])
    }
    counts = Counter((t.from_site, t.to_site) for t in flow.transfers)
    weights = _transfers_sum(flow, lambda t: (t.from_site, t.to_site), lambda t: t.weight_kg)
    assert set(got) == set(counts)
    for pair, (count, weight) in got.items():
        assert count == counts[pair] and weight == pytest.approx(weights[pair])


def check_moves_by_step(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    sums = {step: sum(values) for step, values in by_tag(results["A"], "step").items()}
    assert sums == Counter(step_of(t) for t in flow.transfers)


def check_stock_total(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == sum(_final_stock(flow).values()) == 12


def _stock_by(flow: Flow, index: int) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for key in {(s.site, s.category, s.grade) for s in flow.stocks}:
        totals[key[index]] += _final_stock(flow)[key]
    return dict(totals)


def check_stock_by_site(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {site: values[-1] for site, values in by_tag(results["A"], "site").items()}
    assert got == _stock_by(flow, 0)
    assert got["acheteur-cd38"] == 9 and got["recyclage-pont-de-claix"] == 3


def check_stock_by_category(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {cat: values[-1] for cat, values in by_tag(results["A"], "category").items()}
    assert got == _stock_by(flow, 1) == {"laptop": 4, "screen": 4, "phone": 4}


def check_stock_table(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {(r["site"], r["category"]): r["stock"] for r in rows(results["A"])}
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for (site, category, _), count in _final_stock(flow).items():
        expected[(site, category)] += count
    assert {k: v for k, v in got.items() if v} == dict(expected)
    assert set(got) == {(site, category) for site in SITES for category in CATEGORIES}


def check_stock_history(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    history = by_tag(results["A"], "site")
    assert set(history) == set(SITES)
    assert {site: values[-1] for site, values in history.items()} == _stock_by(flow, 0)
    assert max(history["atelier-fontaine"]) == 12  # the whole lot at the workshop


def check_wait_by_step(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {step: values[-1] for step, values in by_tag(results["A"], "step").items()}
    _approx(got, {step: statistics.mean(v) for step, v in waits(flow).items()})


def check_wait_by_site(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {site: values[-1] for site, values in by_tag(results["A"], "site").items()}
    _approx(got, waits_by_site(flow))


def check_wait_table(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    expected = waits(flow)
    got = {r["step"]: r for r in rows(results["A"])}
    assert set(got) == set(expected) == {"collecting", "receiving", "shipping"}
    for step, values in expected.items():
        assert got[step]["moyenne"] == pytest.approx(statistics.mean(values))
        assert got[step]["mediane"] == pytest.approx(statistics.median(values))
        assert got[step]["p90"] == pytest.approx(nearest_rank(values, 90))
        assert got[step]["equipements"] == len(values)


def check_wait_history(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    history = by_tag(results["A"], "step")
    expected = waits(flow)
    assert set(history) == set(expected)
    for step, values in history.items():
        assert min(expected[step]) <= min(values) and max(values) <= max(expected[step])


def _outcomes(flow: Flow) -> Counter[str]:
    return Counter(outcome(t) for t in flow.transfers if outcome(t) != "chain")


def check_outcome_pie(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {name: sum(values) for name, values in by_tag(results["A"], "outcome").items()}
    assert got == _outcomes(flow) == {"reuse": 9, "recycling": 3}
    names = {
        o["matcher"]["options"]: o["properties"][0]["value"]
        for o in panel["fieldConfig"]["overrides"]
    }
    assert names == {"reuse": "Réemploi", "recycling": "Recyclage"}


def check_reuse_rate(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == pytest.approx(75.0)


def check_outcome_history(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {name: sum(values) for name, values in by_tag(results["A"], "outcome").items()}
    assert got == _outcomes(flow)


def check_outcome_by_category(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {r["category"]: (r["reuse"], r["recycling"]) for r in rows(results["A"])}
    expected: dict[str, list[int]] = {c: [0, 0] for c in CATEGORIES}
    for transfer in flow.transfers:
        if outcome(transfer) == "reuse":
            expected[transfer.category][0] += 1
        elif outcome(transfer) == "recycling":
            expected[transfer.category][1] += 1
    assert got == {c: tuple(v) for c, v in expected.items()}
    assert panel["options"]["xField"] == "category"


def check_co2(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == pytest.approx(sum(t.co2e_avoided_kg for t in flow.transfers))
    assert panel["fieldConfig"]["defaults"]["unit"] == "masskg"


def check_reused_count(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == 9


def check_reused_weight(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    expected = sum(t.weight_kg for t in flow.transfers if outcome(t) == "reuse")
    assert single(results["A"]) == pytest.approx(expected)


def check_co2_cumulative(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    [series] = results["A"]
    values = [v[1] for v in series["values"]]
    assert values == sorted(values)
    assert values[-1] == pytest.approx(sum(t.co2e_avoided_kg for t in flow.transfers))


def check_co2_by_category(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {c: values[-1] for c, values in by_tag(results["A"], "category").items()}
    _approx(got, _transfers_sum(flow, lambda t: t.category, lambda t: t.co2e_avoided_kg))


def _last_status(flow: Flow) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for health in sorted(flow.devices, key=lambda h: h.time):
        row = latest[health.device]
        row["online"] = int(health.state == "online")
        for name in ("queue", "drops", "wifi_rssi", "uptime_s", "fw"):
            if getattr(health, name) is not None:
                row[name] = getattr(health, name)
    return latest


def check_offline(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == 1
    assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["color"] == "red"


def check_online(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    assert single(results["A"]) == len(DEVICES) - 1


def check_device_table(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {r["device"]: r for r in rows(results["A"])}
    expected = _last_status(flow)
    assert set(got) == set(DEVICES)
    for device, row in expected.items():
        assert got[device]["site"] == DEVICES[device]
        for name, value in row.items():
            assert got[device][name] == value, (device, name)
    assert got[OFFLINE_AT_END]["online"] == 0


def check_device_queue(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {d: max(values) for d, values in by_tag(results["A"], "device").items()}
    expected: dict[str, int] = defaultdict(int)
    for health in flow.devices:
        if health.queue is not None:
            expected[health.device] = max(expected[health.device], health.queue)
    assert got == dict(expected)


def check_device_drops(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    got = {d: set(values) for d, values in by_tag(results["A"], "device").items()}
    assert got == {device: {n} for n, device in enumerate(DEVICES)}


def check_ingest(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    [series] = results["A"]
    columns = series["columns"]
    totals = {c: sum(v[i] for v in series["values"]) for i, c in enumerate(columns) if c != "time"}
    assert totals == {
        "received": sum(m.scans_received for m in flow.ingest),
        "accepted": sum(m.scans_accepted for m in flow.ingest),
        "duplicates": sum(m.scans_duplicate for m in flow.ingest),
        "rejected": sum(m.scans_rejected for m in flow.ingest),
    }


def check_ack(results: Results, flow: Flow, panel: dict[str, Any]) -> None:
    [series] = results["A"]
    p50 = [v[1] for v in series["values"] if v[1] is not None]
    p99 = [v[2] for v in series["values"] if v[2] is not None]
    assert set(p50) == {1.5} and max(p99) == 6.0 and len(p99) == len(flow.ingest)


CHECKS: dict[tuple[str, str], Callable[[Results, Flow, dict[str, Any]], None]] = {
    ("reemploi-flux", "Carte des flux de la métropole"): check_map,
    ("reemploi-flux", "Équipements transférés"): check_moved_total,
    ("reemploi-flux", "Poids transporté"): check_weight_total,
    ("reemploi-flux", "Flux entre sites"): check_flows_table,
    ("reemploi-flux", "Équipements transférés par étape"): check_moves_by_step,
    ("reemploi-stock", "Stock total"): check_stock_total,
    ("reemploi-stock", "Stock actuel par site"): check_stock_by_site,
    ("reemploi-stock", "Stock actuel par catégorie"): check_stock_by_category,
    ("reemploi-stock", "Stock actuel par site et catégorie"): check_stock_table,
    ("reemploi-stock", "Évolution du stock par site"): check_stock_history,
    ("reemploi-delais", "Attente moyenne par étape"): check_wait_by_step,
    ("reemploi-delais", "Attente moyenne par site"): check_wait_by_site,
    (
        "reemploi-delais",
        "Délais par étape : moyenne, médiane et 90 % des équipements",
    ): check_wait_table,
    ("reemploi-delais", "Évolution de l'attente moyenne par étape"): check_wait_history,
    ("reemploi-devenir", "Réemploi et recyclage"): check_outcome_pie,
    ("reemploi-devenir", "Taux de réemploi"): check_reuse_rate,
    ("reemploi-devenir", "Réemploi et recyclage dans le temps"): check_outcome_history,
    ("reemploi-devenir", "Réemploi et recyclage par catégorie"): check_outcome_by_category,
    ("reemploi-impact", "CO2e évité"): check_co2,
    ("reemploi-impact", "Équipements réemployés"): check_reused_count,
    ("reemploi-impact", "Poids réemployé"): check_reused_weight,
    ("reemploi-impact", "CO2e évité cumulé"): check_co2_cumulative,
    ("reemploi-impact", "CO2e évité par catégorie"): check_co2_by_category,
    ("reemploi-lecteurs", "Lecteurs hors ligne"): check_offline,
    ("reemploi-lecteurs", "Lecteurs en ligne"): check_online,
    ("reemploi-lecteurs", "État des lecteurs"): check_device_table,
    ("reemploi-lecteurs", "Scans en attente sur les lecteurs"): check_device_queue,
    ("reemploi-lecteurs", "Scans perdus par les lecteurs"): check_device_drops,
    ("reemploi-lecteurs", "Scans reçus par le serveur"): check_ingest,
    ("reemploi-lecteurs", "Délai d'acquittement des scans"): check_ack,
}


def test_every_panel_of_every_dashboard_has_a_query_check() -> None:
    panels = {(uid, p["title"]) for uid, d in _dashboards().items() for p in d["panels"]}
    assert panels == set(CHECKS)


@pytest.mark.parametrize(("uid", "title"), sorted(CHECKS))
def test_panel_query_returns_the_expected_series(
    filled: tuple[InfluxTarget, Flow], uid: str, title: str
) -> None:
    target, flow = filled
    panel = _panel(uid, title)
    results = {t["refId"]: target.query(interpolate(t["query"])) for t in panel["targets"]}
    assert all(results.values()), f"a query of {title!r} returned no series"
    CHECKS[(uid, title)](results, flow, panel)


def test_category_and_site_variables_filter_the_queries(filled: tuple[InfluxTarget, Flow]) -> None:
    target, flow = filled
    table = _panel("reemploi-flux", "Flux entre sites")["targets"][0]["query"]
    only = rows(target.query(interpolate(table, categorie="(laptop|phone)")))
    assert sum(r["equipements"] for r in only) == sum(
        1 for t in flow.transfers if t.category in ("laptop", "phone")
    )
    stock = _panel("reemploi-stock", "Stock actuel par site")["targets"][0]["query"]
    series = target.query(interpolate(stock, site="(boutique-grenoble|acheteur-cd38)"))
    assert {one["tags"]["site"] for one in series} == {"boutique-grenoble", "acheteur-cd38"}


def test_dashboard_variables_list_the_values_present(filled: tuple[InfluxTarget, Flow]) -> None:
    target, _ = filled
    for dashboard in _dashboards().values():
        for variable in dashboard["templating"]["list"]:
            values = {row["value"] for row in rows(target.query(variable["query"]))}
            expected = set(CATEGORIES) if variable["name"] == "categorie" else set(SITES)
            assert values == expected, variable["name"]
            assert variable["allValue"] == ".*" and variable["includeAll"] is True


PREVIEW = Path(__file__).resolve().parents[2] / "docs" / "images" / "flux-apercu.svg"


def test_flow_map_preview_in_the_docs_is_drawn_from_the_panel_queries(
    filled: tuple[InfluxTarget, Flow], tmp_path: Path
) -> None:
    target, flow = filled
    out = tmp_path / "map.svg"
    argv = [
        "preview",
        "--influx-url",
        target.url,
        "--database",
        target.database,
        "--start",
        START.isoformat(),
        "--end",
        END.isoformat(),
        "--out",
        str(out),
    ]
    assert dashboards_main(argv) == 0
    svg = out.read_text(encoding="utf-8")
    for site in SITES:
        assert f"<title>{site}</title>" in svg
    moves = Counter((t.from_site, t.to_site) for t in flow.transfers if t.from_site != t.to_site)
    assert svg.count("<line ") == len(moves)
    assert "atelier-fontaine → boutique-grenoble : 9 équipements" in svg
    if os.environ.get("REEMPLOI_UPDATE_PREVIEW"):
        PREVIEW.write_text(svg, encoding="utf-8")
    assert PREVIEW.read_text(encoding="utf-8") == svg, "REEMPLOI_UPDATE_PREVIEW=1 to refresh"


def test_generate_command_writes_into_a_folder(tmp_path: Path) -> None:
    assert dashboards_main(["generate", "--dir", str(tmp_path)]) == 0
    assert differences(tmp_path) == []
    shutil.rmtree(tmp_path)
