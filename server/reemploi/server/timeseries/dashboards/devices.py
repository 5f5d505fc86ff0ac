"""« Santé des lecteurs »: which readers are offline, their queues, and the ingest."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as models

from .influxql import InfluxQL
from .panels import SITE_FILTER, data_table, display_names, rename, single_stat, time_series

_LATEST_STATE = (
    'SELECT last("online") AS "online" FROM "device_status" '
    f'WHERE $timeFilter AND {SITE_FILTER} GROUP BY "device"'
)


def _online_mapping() -> list[models.ValueMapping]:
    return [
        models.ValueMap(
            options={
                "0": models.ValueMappingResult(text="hors ligne", color="red", index=0),
                "1": models.ValueMappingResult(text="en ligne", color="green", index=1),
            }
        )
    ]


def _red_from(value: float) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps(
            [
                models.Threshold(value=None, color="green"),
                models.Threshold(value=value, color="red"),
            ]
        )
    )


def device_panels() -> list[Any]:
    offline = single_stat(
        "Lecteurs hors ligne",
        "Lecteurs et passerelles dont le dernier état connu est « hors ligne » (message de "
        "dernière volonté MQTT ou arrêt annoncé).",
        "short",
        [InfluxQL(f'SELECT count("online") FROM ({_LATEST_STATE}) WHERE "online" = 0')],
        width=6,
    ).thresholds(_red_from(1))
    online = single_stat(
        "Lecteurs en ligne",
        "Lecteurs et passerelles dont le dernier état connu est « en ligne ».",
        "short",
        [InfluxQL(f'SELECT sum("online") FROM ({_LATEST_STATE})')],
        width=6,
    )
    state = (
        data_table(
            "État des lecteurs",
            "Dernier état connu de chaque lecteur : en ligne ou non, scans en attente "
            "d'acquittement, scans perdus depuis le démarrage, signal Wi-Fi, version du "
            "micrologiciel.",
            "short",
            [
                InfluxQL(
                    'SELECT last("online") AS "online", last("queue") AS "queue", '
                    'last("drops") AS "drops", last("wifi_rssi") AS "wifi_rssi", '
                    'last("uptime_s") AS "uptime_s", last("fw") AS "fw" FROM "device_status" '
                    f'WHERE $timeFilter AND {SITE_FILTER} GROUP BY "site", "device"',
                    table=True,
                )
            ],
            width=12,
            height=10,
        )
        .with_transformation(
            rename(
                {
                    "site": "Site",
                    "device": "Lecteur",
                    "online": "État",
                    "queue": "En attente",
                    "drops": "Perdus",
                    "wifi_rssi": "Wi-Fi",
                    "uptime_s": "Allumé depuis",
                    "fw": "Micrologiciel",
                }
            )
        )
        .override_by_name(
            "État",
            [
                models.DynamicConfigValue(id_val="mappings", value=_online_mapping()),
                models.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
            ],
        )
        .override_by_name("Wi-Fi", [models.DynamicConfigValue(id_val="unit", value="dBm")])
        .override_by_name("Allumé depuis", [models.DynamicConfigValue(id_val="unit", value="s")])
    )
    ingest = time_series(
        "Scans reçus par le serveur",
        "Scans reçus, acceptés, en double (renvoyés après une coupure, ignorés sans perte) et "
        "refusés par le serveur, par intervalle.",
        "short",
        [
            InfluxQL(
                'SELECT sum("received") AS "received", sum("accepted") AS "accepted", '
                'sum("duplicates") AS "duplicates", sum("rejected") AS "rejected" '
                'FROM "ingest" WHERE $timeFilter GROUP BY time($__interval) fill(0)',
                alias="$col",
            )
        ],
    )
    ack = time_series(
        "Délai d'acquittement des scans",
        "Temps entre la réception d'un scan et l'acquittement renvoyé au lecteur "
        "(médiane et 99 % des scans).",
        "ms",
        [
            InfluxQL(
                'SELECT mean("ack_p50_ms") AS "p50", max("ack_p99_ms") AS "p99" '
                'FROM "ingest" WHERE $timeFilter GROUP BY time($__interval) fill(none)',
                alias="$col",
            )
        ],
    )
    return [
        offline,
        online,
        state,
        time_series(
            "Scans en attente sur les lecteurs",
            "Scans qu'un lecteur garde en mémoire faute d'acquittement (réseau coupé ?).",
            "short",
            [
                InfluxQL(
                    'SELECT max("queue") FROM "device_status" '
                    f"WHERE $timeFilter AND {SITE_FILTER} "
                    'GROUP BY time($__interval), "device" fill(none)',
                    alias="$tag_device",
                )
            ],
        ),
        time_series(
            "Scans perdus par les lecteurs",
            "Scans abandonnés par un lecteur dont la mémoire d'attente était pleine, "
            "cumulés depuis son démarrage. Doit rester à zéro.",
            "short",
            [
                InfluxQL(
                    'SELECT max("drops") FROM "device_status" '
                    f"WHERE $timeFilter AND {SITE_FILTER} "
                    'GROUP BY time($__interval), "device" fill(none)',
                    alias="$tag_device",
                )
            ],
        ),
        display_names(
            ingest,
            {
                "received": "Reçus",
                "accepted": "Acceptés",
                "duplicates": "En double",
                "rejected": "Refusés",
            },
        ),
        display_names(ack, {"p50": "Médiane", "p99": "99 %"}),
    ]
