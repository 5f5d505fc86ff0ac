"""The quote of a lot as a PDF in French, with the platform's legal mentions (reportlab)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .config import MarketSettings

CATEGORY_FR = {
    "laptop": "ordinateur portable",
    "desktop": "ordinateur fixe",
    "screen": "écran",
    "phone": "smartphone",
    "tablet": "tablette",
    "server": "serveur",
    "network": "équipement réseau",
}
VAT_RATE = 0.20


def euros(cents: int) -> str:
    whole, rest = divmod(abs(cents), 100)
    text = f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"
    return "-" + text if cents < 0 else text


def _date(value: datetime) -> str:
    return value.strftime("%d/%m/%Y")


def quote_pdf(lot: Any, buyer_name: str, units: list[dict[str, Any]], cfg: MarketSettings) -> bytes:
    """Render the quote of ``lot`` (a row of ``market_lots``) for ``buyer_name``."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Devis {lot.quote_number}",
        author=cfg.operator_name,
        lang="fr-FR",
        pageCompression=0,  # plain text streams: searchable, and checked by the tests
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    criteria = lot.criteria
    category = CATEGORY_FR.get(criteria["category"], criteria["category"])
    quantity = len(units)
    total_ht = quantity * lot.unit_price_cents
    vat = round(total_ht * VAT_RATE)
    spec = (
        f", {criteria['min_ram_gb']} Go de mémoire vive minimum"
        if criteria.get("min_ram_gb")
        else ""
    )
    story: list[Any] = [
        Paragraph(cfg.operator_name, styles["Title"]),
        Paragraph(f"Devis n° {lot.quote_number}", styles["Heading2"]),
        Paragraph(
            f"Émis le {_date(lot.created_at)} — valable jusqu'au {_date(lot.quote_valid_until)}",
            styles["BodyText"],
        ),
        Paragraph(f"Client : {buyer_name}", styles["BodyText"]),
        Spacer(1, 6 * mm),
        Table(
            [
                ["Désignation", "Grade", "Quantité", "Prix unitaire HT", "Total HT"],
                [
                    f"Lot homogène : {category} reconditionné{spec}",
                    criteria["grade"],
                    str(quantity),
                    euros(lot.unit_price_cents),
                    euros(total_ht),
                ],
                ["", "", "", "TVA 20 %", euros(vat)],
                ["", "", "", "Total TTC", euros(total_ht + vat)],
            ],
            colWidths=[70 * mm, 16 * mm, 20 * mm, 34 * mm, 30 * mm],
            style=TableStyle(
                [
                    ("GRID", (0, 0), (-1, 1), 0.5, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("FONTNAME", (3, 3), (-1, 3), "Helvetica-Bold"),
                ]
            ),
        ),
        Spacer(1, 6 * mm),
        Paragraph(
            f"Garantie commerciale : {lot.warranty_months} mois pièces et main-d'œuvre, en plus "
            "des garanties légales. Chaque unité est tracée de sa déclaration à sa remise "
            "(chaîne de garde EPCIS 2.0) et ses données ont été effacées avant reconditionnement.",
            styles["BodyText"],
        ),
        Paragraph(
            "Unités réservées à l'acceptation : "
            + ", ".join(u["epc"].rsplit("/", 1)[-1] for u in units),
            small,
        ),
        Spacer(1, 8 * mm),
        Paragraph("Mentions légales", styles["Heading4"]),
        Paragraph(
            f"{cfg.operator_name} — {cfg.operator_address} — SIREN {cfg.operator_siren}. "
            "Biens issus du réemploi ou intégrant des matières recyclées au sens de l'article 58 "
            "de la loi n° 2020-105 du 10 février 2020 relative à la lutte contre le gaspillage et "
            "à l'économie circulaire (AGEC). Prix en euros. Devis gratuit. L'acceptation du devis "
            "vaut réservation des unités pour la durée indiquée sur la plateforme ; passé ce "
            "délai, la réservation est levée sans frais. Données personnelles : seules les "
            "données nécessaires à la commande sont conservées (RGPD, art. 5).",
            small,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
