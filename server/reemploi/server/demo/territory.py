"""Demo reference data: organisations, sites and readers around Grenoble.

Places are real communes of Grenoble-Alpes Métropole with approximate coordinates; the
organisations are fictitious (marked « démo »). Identifiers live under the platform's
demonstration GS1 prefix 9521234 (GS1 keeps 952 for demonstrations).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from reemploi.domain.checkdigit import gs1_check_digit
from reemploi.domain.digital_link import gln_uri, pgln_uri

from ..db.tables import organisations
from ..registry import Device, Organisation, Site, add_device, add_organisation, add_site

PREFIX = "9521234"
RESOLVER = "https://id.reemploi.grenoble.example"


def _gs1_13(ref: int) -> str:
    body = PREFIX + f"{ref:05d}"
    return body + gs1_check_digit(body)


def org(id_: str, ref: int, name: str, kind: str) -> Organisation:
    return Organisation(id_, pgln_uri(_gs1_13(ref)), name, kind)


def site(
    id_: str, ref: int, name: str, kind: str, org_id: str, commune: str, lat: float, lon: float
) -> Site:
    return Site(id_, gln_uri(_gs1_13(ref)), name, kind, org_id, commune, lat, lon)


ORGANISATIONS = [
    org("ville-grenoble", 1, "Ville de Grenoble (démo)", "public_body"),
    org("ccas-echirolles", 2, "CCAS d'Échirolles (démo)", "public_body"),
    org("universite", 3, "Université (démo)", "public_body"),
    org("metropole", 4, "Grenoble-Alpes Métropole (démo)", "public_body"),
    org("tri-solidaire", 5, "Tri solidaire Isère (démo)", "workshop"),
    org("atelier-sud", 6, "Atelier numérique Sud (démo)", "workshop"),
    org("atelier-nord", 7, "Ressourcerie informatique Nord (démo)", "workshop"),
    org("recycleur", 8, "Recyclage DEEE Alpes (démo)", "recycler"),
]

SITES = [
    site(
        "cp-grenoble-hdv",
        101,
        "Hôtel de ville — Grenoble",
        "collection_point",
        "ville-grenoble",
        "Grenoble",
        45.1867,
        5.7355,
    ),
    site(
        "cp-echirolles-mdh",
        102,
        "Maison des habitants — Échirolles",
        "collection_point",
        "ccas-echirolles",
        "Échirolles",
        45.1437,
        5.7190,
    ),
    site(
        "cp-smh-campus",
        103,
        "Campus — Saint-Martin-d'Hères",
        "collection_point",
        "universite",
        "Saint-Martin-d'Hères",
        45.1925,
        5.7680,
    ),
    site(
        "cp-fontaine-decheterie",
        104,
        "Déchèterie — Fontaine",
        "collection_point",
        "metropole",
        "Fontaine",
        45.1930,
        5.6740,
    ),
    site(
        "tri-sassenage",
        201,
        "Centre de tri — Sassenage",
        "sorting_centre",
        "tri-solidaire",
        "Sassenage",
        45.2050,
        5.6650,
    ),
    site(
        "atelier-pont-de-claix",
        301,
        "Atelier de reconditionnement — Le Pont-de-Claix",
        "workshop",
        "atelier-sud",
        "Le Pont-de-Claix",
        45.1230,
        5.6980,
    ),
    site(
        "atelier-meylan",
        302,
        "Atelier solidaire — Meylan",
        "workshop",
        "atelier-nord",
        "Meylan",
        45.2100,
        5.7800,
    ),
    site(
        "recyclage-domene",
        401,
        "Recyclage DEEE — Domène",
        "recycler",
        "recycleur",
        "Domène",
        45.2030,
        5.8380,
    ),
]

DEVICES = [
    Device("cp-grenoble-hdv-comptoir", "cp-grenoble-hdv", "counter", None, False),
    Device("cp-echirolles-mdh-comptoir", "cp-echirolles-mdh", "counter", None, False),
    Device("cp-smh-campus-comptoir", "cp-smh-campus", "counter", None, False),
    Device("cp-fontaine-comptoir", "cp-fontaine-decheterie", "counter", None, False),
    Device("tri-sassenage-quai", "tri-sassenage", "dock", None, False),
    Device("tri-sassenage-diag", "tri-sassenage", "diagnostic", None, False),
    Device("atelier-pdc-quai", "atelier-pont-de-claix", "dock", None, False),
    Device("atelier-pdc-diag", "atelier-pont-de-claix", "diagnostic", None, False),
    Device("atelier-pdc-effacement", "atelier-pont-de-claix", "erasure", None, False),
    Device("atelier-pdc-reparation", "atelier-pont-de-claix", "repair", None, False),
    Device("atelier-pdc-boutique", "atelier-pont-de-claix", "shop", None, False),
    Device("atelier-meylan-quai", "atelier-meylan", "dock", None, False),
    Device("atelier-meylan-diag", "atelier-meylan", "diagnostic", None, False),
    Device("atelier-meylan-effacement", "atelier-meylan", "erasure", None, False),
    Device("atelier-meylan-reparation", "atelier-meylan", "repair", None, False),
    Device("atelier-meylan-boutique", "atelier-meylan", "shop", None, False),
    Device("recyclage-domene-quai", "recyclage-domene", "dock", None, False),
]

# Believable mix of what public bodies hand over (share of declarations, kg each).
CATEGORY_MIX = [
    ("laptop", 0.38, 2.0, ["Lenovo ThinkPad T480", "Dell Latitude 5490", "HP EliteBook 840 G5"]),
    ("desktop", 0.22, 6.5, ["Dell OptiPlex 7060", "HP ProDesk 600 G4", "Lenovo ThinkCentre M720"]),
    ("screen", 0.25, 4.5, ['Dell P2419H 24"', 'iiyama ProLite 22"', "HP E24 G4"]),
    ("phone", 0.12, 0.2, ["Samsung Galaxy A52", "iPhone 8", "Fairphone 3"]),
    ("tablet", 0.03, 0.5, ["iPad 6e génération", "Samsung Galaxy Tab A"]),
]


def load_territory(conn: Connection) -> bool:
    """Register the organisations, sites and readers above unless the database already
    has organisations; True when it loaded them (the demo, tests and benches use it)."""
    if conn.execute(select(func.count()).select_from(organisations)).scalar_one():
        return False
    for org in ORGANISATIONS:
        add_organisation(conn, org)
    for site in SITES:
        add_site(conn, site)
    for device in DEVICES:
        add_device(conn, device)
    return True
