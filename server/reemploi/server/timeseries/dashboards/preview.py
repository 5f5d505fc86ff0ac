"""A rendered preview of « Carte des flux » as SVG, from the panel's own two queries.

Grafana does not run on the build machines; this draws what the Geomap network layer
shows — sites at their positions, one arrow per flow, as thick as its volume — so the
docs can show it. Deterministic: the same data always gives the same bytes.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

import httpx

from .flows import FLOWS_QUERY, SITES_QUERY

WIDTH, HEIGHT, MARGIN = 760, 520, 70


def _series_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    result = answer["results"][0]
    if "error" in result:
        raise RuntimeError(result["error"])
    rows: list[dict[str, Any]] = []
    for series in result.get("series", []):
        for values in series["values"]:
            rows.append(
                {**series.get("tags", {}), **dict(zip(series["columns"], values, strict=True))}
            )
    return rows


def query_map_data(
    url: str, database: str, start: datetime, end: datetime
) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], float]]:
    """Nodes (site → lat, lon) and edges ((from, to) → assets), as the panel asks them."""
    time_filter = (
        f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms"
    )
    with httpx.Client(timeout=30) as client:
        answers = [
            client.post(
                f"{url.rstrip('/')}/query",
                data={
                    "db": database,
                    "q": text.replace("$timeFilter", time_filter).replace("$categorie", ".*"),
                },
            ).json()
            for text in (SITES_QUERY, FLOWS_QUERY)
        ]
    nodes = {r["site"]: (r["latitude"], r["longitude"]) for r in _series_rows(answers[0])}
    edges = {(r["from_site"], r["to_site"]): r["mainstat"] for r in _series_rows(answers[1])}
    return nodes, edges


def render_flow_map(
    nodes: dict[str, tuple[float, float]],
    edges: dict[tuple[str, str], float],
    title: str = "Flux de la métropole — aperçu",
) -> str:
    lats = [lat for lat, _ in nodes.values()]
    lons = [lon for _, lon in nodes.values()]
    mid = math.radians((min(lats) + max(lats)) / 2)
    span_x = max((max(lons) - min(lons)) * math.cos(mid), 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((WIDTH - 2 * MARGIN) / span_x, (HEIGHT - 2 * MARGIN - 40) / span_y)

    def xy(site: str) -> tuple[float, float]:
        lat, lon = nodes[site]
        return (
            MARGIN + (lon - min(lons)) * math.cos(mid) * scale,
            HEIGHT - MARGIN - (lat - min(lats)) * scale,
        )

    biggest = max(edges.values(), default=1) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="fleche" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="14" '
        'markerHeight="14" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#3274d9"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f4f5f5"/>',
        f'<text x="20" y="30" font-size="18" fill="#1f1f1f">{escape(title)}</text>',
        '<text x="20" y="50" font-size="12" fill="#555">Épaisseur des flèches : nombre '
        "d'équipements transférés sur la période</text>",
    ]
    for (source, target), volume in sorted(edges.items()):
        if source == target or source not in nodes or target not in nodes:
            continue
        (x1, y1), (x2, y2) = xy(source), xy(target)
        length = math.hypot(x2 - x1, y2 - y1) or 1
        # stop short of the target's circle so the arrowhead shows
        x2, y2 = x2 - (x2 - x1) * 12 / length, y2 - (y2 - y1) * 12 / length
        width = 1.5 + 10 * volume / biggest
        out.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#3274d9" '
            f'stroke-opacity="0.75" stroke-width="{width:.1f}" marker-end="url(#fleche)">'
            f"<title>{escape(source)} → {escape(target)} : {volume:g} équipements</title></line>"
        )
        out.append(
            f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 6:.1f}" font-size="12" '
            f'fill="#1d4f91" text-anchor="middle">{volume:g}</text>'
        )
    for site in sorted(nodes):
        x, y = xy(site)
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#37872d" stroke="#fff" '
            f'stroke-width="2"><title>{escape(site)}</title></circle>'
        )
        out.append(
            f'<text x="{x + 12:.1f}" y="{y + 16:.1f}" font-size="12" '
            f'fill="#1f1f1f">{escape(site)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
