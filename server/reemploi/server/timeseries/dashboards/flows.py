"""« Flux de la métropole »: the map of sites and of the flows between them."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common, geomap
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import geomap as geomap_models

from .influxql import InfluxQL
from .panels import (
    CATEGORY_FILTER,
    _finish,
    data_table,
    rename,
    single_stat,
    time_series,
    unit_override,
)

# Nodes: every known site with its latest position (one point per site and day, so
# the whole history is small; not limited to the period, a quiet site stays on the map).
SITES_QUERY = (
    'SELECT last("lat") AS "latitude", last("lon") AS "longitude" FROM "site" GROUP BY "site"'
)
# Edges: one per (from, to) pair, "mainstat" = assets moved, "secondarystat" = kg.
FLOWS_QUERY = (
    'SELECT sum("count") AS "mainstat", sum("weight_kg") AS "secondarystat" '
    f'FROM "custody_transfer" WHERE $timeFilter AND {CATEGORY_FILTER} '
    'GROUP BY "flow", "from_site", "to_site"'
)
# Grafana's network layer reads nodes (id + location) and edges (id, source, target).
MAP_RENAMES = {"site": "id", "flow": "id", "from_site": "source", "to_site": "target"}


def _text(field: str) -> dict[str, Any]:
    return {"mode": "field", "field": field, "fixed": ""}


def _coords() -> common.FrameGeometrySource:
    return (
        common.FrameGeometrySource()
        .mode(common_models.FrameGeometrySourceMode.COORDS)
        .latitude("latitude")
        .longitude("longitude")
    )


def _layers() -> list[cogbuilder.Builder[common_models.MapLayerOptions]]:
    network = (
        common.MapLayerOptions()
        .type("network")
        .name("Flux entre sites")
        .tooltip(True)
        .config(
            {
                "arrow": 1,
                "showLegend": False,
                "style": {
                    "color": {"fixed": "dark-green"},
                    "opacity": 0.9,
                    "size": {"fixed": 8, "min": 4, "max": 16},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "text": _text("id"),
                    "textConfig": {
                        "fontSize": 12,
                        "offsetX": 0,
                        "offsetY": -16,
                        "textAlign": "center",
                        "textBaseline": "bottom",
                    },
                },
                "edgeStyle": {
                    "color": {"fixed": "blue"},
                    "opacity": 0.7,
                    # the network layer draws each edge this wide: assets on the flow
                    "size": {"field": "mainstat", "fixed": 2, "min": 1, "max": 14},
                    "text": _text("mainstat"),
                    "textConfig": {"fontSize": 11, "textAlign": "center"},
                },
            }
        )
    )
    sites = (
        common.MapLayerOptions()
        .type("markers")
        .name("Sites")
        .tooltip(True)
        .filter_data({"id": "byRefId", "options": "A"})
        .config(
            {
                "showLegend": False,
                "style": {
                    "color": {"fixed": "orange"},
                    "opacity": 0.8,
                    "size": {"fixed": 6},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                    "text": _text("id"),
                },
            }
        )
    )
    return [network.location(_coords()), sites.location(_coords())]


def flow_map() -> geomap.Panel:
    panel = (
        geomap.Panel()
        .span(24)
        .height(16)
        .view(geomap.MapViewConfig().id("fit").lat(45).lon(6).zoom(11).all_layers(True))
        .controls(
            geomap.ControlsOptions()
            .show_zoom(True)
            .mouse_wheel_zoom(True)
            .show_attribution(True)
            .show_scale(True)
        )
        .basemap(common.MapLayerOptions().type("default").name("Fond de carte").config({}))
        .layers(_layers())
        .tooltip(geomap.TooltipOptions().mode(geomap_models.TooltipMode.DETAILS))
        .with_transformation(rename(MAP_RENAMES))
    )
    return _finish(
        panel,
        "Carte des flux de la métropole",
        "Chaque point est un site (point de collecte, atelier, boutique, déchèterie) ; chaque "
        "flèche va du site qui remet les équipements au site qui les reçoit. L'épaisseur de "
        "la flèche suit le nombre d'équipements transférés sur la période choisie.",
        "short",
        [
            InfluxQL(SITES_QUERY, ref_id="A", table=True, all_time=True),
            InfluxQL(FLOWS_QUERY, ref_id="B", table=True),
        ],
    )


def flows_table() -> Any:
    panel = data_table(
        "Flux entre sites",
        "Équipements et poids transférés de chaque site vers chaque autre sur la période.",
        "short",
        [
            InfluxQL(
                'SELECT sum("count") AS "equipements", sum("weight_kg") AS "poids_kg" '
                f'FROM "custody_transfer" WHERE $timeFilter AND {CATEGORY_FILTER} '
                'GROUP BY "from_site", "to_site"',
                table=True,
            )
        ],
    ).with_transformation(
        rename(
            {
                "from_site": "Depuis",
                "to_site": "Vers",
                "equipements": "Équipements",
                "poids_kg": "Poids (kg)",
            }
        )
    )
    return unit_override(panel, "Poids (kg)", "masskg")


def moves_by_step() -> Any:
    return time_series(
        "Équipements transférés par étape",
        "Nombre d'équipements ayant changé de main, par étape de la chaîne (collecte, "
        "transport, réception, vente…), par intervalle de temps.",
        "short",
        [
            InfluxQL(
                'SELECT sum("count") FROM "custody_transfer" '
                f"WHERE $timeFilter AND {CATEGORY_FILTER} "
                'GROUP BY time($__interval), "step" fill(0)',
                alias="$tag_step",
            )
        ],
        stacked=True,
        bars=True,
        width=12,
    )


def moved_total() -> Any:
    return single_stat(
        "Équipements transférés",
        "Nombre total de transferts de garde sur la période (un équipement compte à chaque étape).",
        "short",
        [
            InfluxQL(
                'SELECT sum("count") FROM "custody_transfer" '
                f"WHERE $timeFilter AND {CATEGORY_FILTER}"
            )
        ],
    )


def weight_total() -> Any:
    return single_stat(
        "Poids transporté",
        "Somme des poids des équipements transférés sur la période.",
        "masskg",
        [
            InfluxQL(
                'SELECT sum("weight_kg") FROM "custody_transfer" '
                f"WHERE $timeFilter AND {CATEGORY_FILTER}"
            )
        ],
    )


def panels() -> list[Any]:
    return [flow_map(), moved_total(), weight_total(), flows_table(), moves_by_step()]
