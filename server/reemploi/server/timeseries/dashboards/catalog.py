"""Every Réemploi dashboard, rendered to the JSON that is committed under ``dashboards/``.

``render_dashboards()`` is deterministic (sorted keys, fixed layout), so a test can
regenerate the files and fail on any difference with what is committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models

from . import chain, devices, flows
from .influxql import DATASOURCE_TYPE, DATASOURCE_UID

TAG = "reemploi"
FOLDER = "Réemploi"


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    variables: tuple[str, ...]
    panels: Callable[[], list[Any]]

    @property
    def filename(self) -> str:
        return f"{self.uid}.json"


DASHBOARDS = (
    DashboardSpec(
        "reemploi-flux",
        "Flux de la métropole",
        "Carte des sites et des flux d'équipements entre eux ; volumes par étape.",
        ("categorie",),
        flows.panels,
    ),
    DashboardSpec(
        "reemploi-stock",
        "Stock par site",
        "Équipements présents sur chaque site, par catégorie, et leur évolution.",
        ("site", "categorie"),
        chain.stock_panels,
    ),
    DashboardSpec(
        "reemploi-delais",
        "Délais par étape",
        "Combien de temps les équipements attendent à chaque étape de la chaîne.",
        ("categorie",),
        chain.lead_time_panels,
    ),
    DashboardSpec(
        "reemploi-devenir",
        "Réemploi ou recyclage",
        "Ce que deviennent les équipements à la sortie de la chaîne.",
        ("categorie",),
        chain.outcome_panels,
    ),
    DashboardSpec(
        "reemploi-impact",
        "Impact environnemental",
        "Émissions de CO2e et déchets évités grâce au réemploi.",
        ("categorie",),
        chain.impact_panels,
    ),
    DashboardSpec(
        "reemploi-lecteurs",
        "Santé des lecteurs",
        "Lecteurs hors ligne, scans en attente ou perdus, et ingestion côté serveur.",
        ("site",),
        devices.device_panels,
    ),
)

_VARIABLES = {
    # name: (label, InfluxQL)
    "categorie": (
        "Catégorie",
        'SHOW TAG VALUES FROM "custody_transfer" WITH KEY = "category"',
    ),
    "site": ("Site", 'SHOW TAG VALUES WITH KEY = "site"'),
}


def _variable(name: str) -> dash.QueryVariable:
    label, query = _VARIABLES[name]
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(models.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID))
        .query(query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def build_dashboard(spec: DashboardSpec) -> models.Dashboard:
    builder = (
        dash.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags([TAG])
        .time("now-30d", "now")
        .timezone("browser")
        .refresh("5m")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .link(
            dash.DashboardLink("Tableaux Réemploi")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for name in spec.variables:
        builder = builder.with_variable(_variable(name))
    for panel in spec.panels():
        builder = builder.with_panel(panel)
    return builder.build()


def dashboard_json(spec: DashboardSpec) -> str:
    encoder = JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
    return encoder.encode(build_dashboard(spec)) + "\n"


def render_dashboards() -> dict[str, str]:
    """File name → JSON text, for every dashboard."""
    return {spec.filename: dashboard_json(spec) for spec in DASHBOARDS}


def load(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a dashboard is a JSON object")
    return data
