"""Panel factories shared by the dashboards: French title and description, unit, queries."""

from __future__ import annotations

from typing import Any, TypeVar

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    common,
    piechart,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import piechart as piechart_models

from .influxql import DATASOURCE_TYPE, DATASOURCE_UID, InfluxQL

# Variables every dashboard offers; "All" is the regex .* so queries stay simple.
CATEGORY_FILTER = '"category" =~ /^$categorie$/'
SITE_FILTER = '"site" =~ /^$site$/'


def _datasource() -> models.DataSourceRef:
    return models.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


P = TypeVar("P")


def _finish(panel: P, title: str, description: str, unit: str, queries: list[InfluxQL]) -> P:
    built: Any = panel
    built = built.title(title).description(description).unit(unit).datasource(_datasource())
    for query in queries:
        built = built.with_target(query)
    return panel


def _reduce(calc: str) -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs([calc]).values(False)


def rename(
    names: dict[str, str], exclude: tuple[str, ...] = ("Time",)
) -> models.DataTransformerConfig:
    """Grafana's "organize fields" transformation: rename columns, drop others."""
    return models.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": dict.fromkeys(exclude, True),
            "renameByName": names,
            "indexByName": {},
        },
    )


def display_names(panel: Any, names: dict[str, str]) -> Any:
    """Show stable codes (``reuse``) under French names (``Réemploi``)."""
    for code, label in names.items():
        panel = panel.override_by_name(
            code, [models.DynamicConfigValue(id_val="displayName", value=label)]
        )
    return panel


def time_series(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    stacked: bool = False,
    bars: bool = False,
    width: int = 12,
    height: int = 8,
) -> timeseries.Panel:
    panel = timeseries.Panel().span(width).height(height).fill_opacity(20 if stacked else 10)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common_models.GraphDrawStyle.BARS).fill_opacity(70)
    panel = panel.legend(
        common.VizLegendOptions()
        .display_mode(common_models.LegendDisplayMode.LIST)
        .placement(common_models.LegendPlacement.BOTTOM)
        .show_legend(True)
    )
    return _finish(panel, title, description, unit, queries)


def single_stat(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    calc: str = "lastNotNull",
    no_value: str = "0",
    width: int = 6,
    height: int = 5,
    decimals: int | None = None,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .span(width)
        .height(height)
        .reduce_options(_reduce(calc))
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .no_value(no_value)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _finish(panel, title, description, unit, queries)


def bar_gauge(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    width: int = 12,
    height: int = 8,
) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .span(width)
        .height(height)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(_reduce("lastNotNull"))
    )
    return _finish(panel, title, description, unit, queries)


def bar_chart(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    x_field: str,
    width: int = 12,
    height: int = 8,
) -> barchart.Panel:
    panel = (
        barchart.Panel()
        .span(width)
        .height(height)
        .x_field(x_field)
        .show_value(common_models.VisibilityMode.AUTO)
        .orientation(common_models.VizOrientation.HORIZONTAL)
    )
    return _finish(panel, title, description, unit, queries)


def pie(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    width: int = 8,
    height: int = 8,
) -> piechart.Panel:
    panel = (
        piechart.Panel()
        .span(width)
        .height(height)
        .pie_type(piechart_models.PieChartType.DONUT)
        .reduce_options(_reduce("sum"))
        .display_labels([piechart_models.PieChartLabels.PERCENT])
    )
    return _finish(panel, title, description, unit, queries)


def data_table(
    title: str,
    description: str,
    unit: str,
    queries: list[InfluxQL],
    *,
    width: int = 12,
    height: int = 8,
) -> table.Panel:
    panel = table.Panel().span(width).height(height).cell_height(common_models.TableCellHeight.SM)
    return _finish(panel, title, description, unit, queries)


def unit_override(panel: Any, field: str, unit: str) -> Any:
    return panel.override_by_name(field, [models.DynamicConfigValue(id_val="unit", value=unit)])
