"""Stock, lead times per stage, reuse versus recycling, and environmental impact."""

from __future__ import annotations

from typing import Any

from .influxql import InfluxQL
from .panels import (
    CATEGORY_FILTER,
    SITE_FILTER,
    bar_chart,
    bar_gauge,
    data_table,
    display_names,
    pie,
    rename,
    single_stat,
    time_series,
    unit_override,
)

OUTCOME_NAMES = {"reuse": "Réemploi", "recycling": "Recyclage"}


def _current_stock(group_by: str = "") -> str:
    """Sum over grades (and more) of the latest snapshot of each (site, category, grade)."""
    inner = (
        'SELECT last("count") AS "count" FROM "stock" '
        f"WHERE $timeFilter AND {SITE_FILTER} AND {CATEGORY_FILTER} "
        'GROUP BY "site", "category", "grade"'
    )
    outer = f'SELECT sum("count") AS "stock" FROM ({inner}) WHERE $timeFilter'
    return f"{outer} GROUP BY {group_by}" if group_by else outer


# ------------------------------------------------------------------ stock


def stock_panels() -> list[Any]:
    # One inventory = one instant per site: sum it per minute, then keep the latest per
    # interval. (InfluxDB 1.x does not merge series of a subquery grouped more finely
    # than the outer query when both group by time, hence the per-site inner query.)
    history = (
        'SELECT last("total") FROM (SELECT sum("count") AS "total" FROM "stock" '
        f"WHERE $timeFilter AND {SITE_FILTER} AND {CATEGORY_FILTER} "
        'GROUP BY time(1m), "site" fill(none)) '
        'WHERE $timeFilter GROUP BY time($__interval), "site" fill(previous)'
    )
    by_site_category = data_table(
        "Stock actuel par site et catégorie",
        "Dernier inventaire connu de chaque site, tous états (grades) confondus.",
        "short",
        [InfluxQL(_current_stock('"site", "category"'), table=True)],
    ).with_transformation(rename({"site": "Site", "category": "Catégorie", "stock": "Stock"}))
    return [
        single_stat(
            "Stock total",
            "Équipements présents sur l'ensemble des sites sélectionnés, d'après le dernier "
            "inventaire de chaque site.",
            "short",
            [InfluxQL(_current_stock())],
        ),
        bar_gauge(
            "Stock actuel par site",
            "Équipements présents sur chaque site d'après son dernier inventaire.",
            "short",
            [InfluxQL(_current_stock('"site"'), alias="$tag_site")],
            width=9,
        ),
        bar_gauge(
            "Stock actuel par catégorie",
            "Portables, ordinateurs fixes, écrans, téléphones… sur les sites sélectionnés.",
            "short",
            [InfluxQL(_current_stock('"category"'), alias="$tag_category")],
            width=9,
        ),
        by_site_category,
        time_series(
            "Évolution du stock par site",
            "Stock de chaque site au fil du temps (inventaires périodiques).",
            "short",
            [InfluxQL(history, alias="$tag_site")],
        ),
    ]


# ------------------------------------------------------------------ lead times


def lead_time_panels() -> list[Any]:
    source = f'FROM "stage_duration" WHERE $timeFilter AND {CATEGORY_FILTER}'
    table = data_table(
        "Délais par étape : moyenne, médiane et 90 % des équipements",
        "Pour chaque étape, le temps passé par les équipements avant l'étape suivante. "
        "« 90 % » : 9 équipements sur 10 ont attendu moins que cette durée.",
        "s",
        [
            InfluxQL(
                'SELECT mean("duration_s") AS "moyenne", median("duration_s") AS "mediane", '
                'percentile("duration_s", 90) AS "p90", count("duration_s") AS "equipements" '
                f'{source} GROUP BY "step"',
                table=True,
            )
        ],
        width=24,
        height=7,
    ).with_transformation(
        rename(
            {
                "step": "Étape",
                "moyenne": "Moyenne",
                "mediane": "Médiane",
                "p90": "90 % en moins de",
                "equipements": "Équipements",
            }
        )
    )
    return [
        bar_gauge(
            "Attente moyenne par étape",
            "Temps moyen passé dans chaque étape (collecte, transport, tri, effacement, "
            "reconditionnement, réservation…) avant de passer à la suivante.",
            "s",
            [InfluxQL(f'SELECT mean("duration_s") {source} GROUP BY "step"', alias="$tag_step")],
        ),
        bar_gauge(
            "Attente moyenne par site",
            "Temps moyen qu'un équipement reste sur un site avant d'en partir.",
            "s",
            [InfluxQL(f'SELECT mean("duration_s") {source} GROUP BY "site"', alias="$tag_site")],
        ),
        unit_override(table, "Équipements", "short"),
        time_series(
            "Évolution de l'attente moyenne par étape",
            "Le délai moyen de chaque étape, mesuré au moment où les équipements en sortent.",
            "s",
            [
                InfluxQL(
                    f'SELECT mean("duration_s") {source} '
                    'GROUP BY time($__interval), "step" fill(none)',
                    alias="$tag_step",
                )
            ],
            width=24,
        ),
    ]


# ------------------------------------------------------------------ reuse vs recycling


def outcome_panels() -> list[Any]:
    concluded = f'"outcome" =~ /^(reuse|recycling)$/ AND {CATEGORY_FILTER}'
    share = pie(
        "Réemploi et recyclage",
        "Part des équipements sortis de la chaîne par le réemploi (vente, don) ou par le "
        "recyclage (démantèlement, destruction) sur la période.",
        "short",
        [
            InfluxQL(
                f'SELECT sum("count") FROM "custody_transfer" WHERE $timeFilter AND {concluded} '
                'GROUP BY "outcome"',
                alias="$tag_outcome",
            )
        ],
    )
    over_time = time_series(
        "Réemploi et recyclage dans le temps",
        "Équipements réemployés et recyclés par intervalle de temps.",
        "short",
        [
            InfluxQL(
                f'SELECT sum("count") FROM "custody_transfer" WHERE $timeFilter AND {concluded} '
                'GROUP BY time($__interval), "outcome" fill(0)',
                alias="$tag_outcome",
            )
        ],
        stacked=True,
        bars=True,
        width=10,
    )
    by_category = bar_chart(
        "Réemploi et recyclage par catégorie",
        "Pour chaque catégorie d'équipement, combien ont été réemployés et combien recyclés.",
        "short",
        [
            InfluxQL(
                'SELECT sum("reused") AS "reuse", sum("recycled") AS "recycling" '
                f'FROM "custody_transfer" WHERE $timeFilter AND {CATEGORY_FILTER} '
                'GROUP BY "category"',
                table=True,
            )
        ],
        x_field="category",
        width=24,
    )
    return [
        display_names(share, OUTCOME_NAMES),
        single_stat(
            "Taux de réemploi",
            "Équipements réemployés divisés par l'ensemble des équipements sortis de la chaîne "
            "(réemployés + recyclés). Objectif réglementaire : 50 % à partir de 2025 pour les "
            "organismes publics (décret n° 2023-266).",
            "percent",
            [
                InfluxQL(
                    'SELECT sum("reused") / (sum("reused") + sum("recycled")) * 100 '
                    f'FROM "custody_transfer" WHERE $timeFilter AND {CATEGORY_FILTER}'
                )
            ],
            width=6,
            height=8,
            decimals=1,
        ),
        display_names(over_time, OUTCOME_NAMES),
        display_names(by_category, OUTCOME_NAMES),
    ]


# ------------------------------------------------------------------ impact


def impact_panels() -> list[Any]:
    source = f'FROM "custody_transfer" WHERE $timeFilter AND {CATEGORY_FILTER}'
    return [
        single_stat(
            "CO2e évité",
            "Émissions de fabrication évitées par les équipements réemployés (facteurs "
            "ADEME/Arcep 2022, en kg équivalent CO2).",
            "masskg",
            [InfluxQL(f'SELECT sum("co2e_avoided_kg") {source}')],
            width=8,
        ),
        single_stat(
            "Équipements réemployés",
            "Équipements vendus ou donnés pour une seconde vie sur la période.",
            "short",
            [InfluxQL(f'SELECT sum("reused") {source}')],
            width=8,
        ),
        single_stat(
            "Poids réemployé",
            "Poids des équipements réemployés : autant de déchets électroniques évités.",
            "masskg",
            [InfluxQL(f'SELECT sum("weight_kg") {source} AND "outcome" = \'reuse\'')],
            width=8,
        ),
        time_series(
            "CO2e évité cumulé",
            "Total des émissions évitées depuis le début de la période.",
            "masskg",
            [
                InfluxQL(
                    f'SELECT cumulative_sum(sum("co2e_avoided_kg")) {source} '
                    "GROUP BY time($__interval) fill(0)",
                    alias="CO2e évité",
                )
            ],
        ),
        bar_gauge(
            "CO2e évité par catégorie",
            "Quelles catégories d'équipements évitent le plus d'émissions.",
            "masskg",
            [
                InfluxQL(
                    f'SELECT sum("co2e_avoided_kg") {source} GROUP BY "category"',
                    alias="$tag_category",
                )
            ],
        ),
    ]
