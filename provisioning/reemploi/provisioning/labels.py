"""Printed labels: PDF sheets with a QR code (segno) drawn as vectors (reportlab).

Layouts are data (``LAYOUTS``), repeated in ``label_specs/printed-labels.json``; the
tests check both agree. Each label: the QR code of the asset's Digital Link (error
correction M, quiet zone of 2 modules inside the label), the human-readable
identifier and a short French instruction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import segno
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

__all__ = ["LAYOUTS", "LabelItem", "LabelLayout", "render_labels"]

QR_ERROR_CORRECTION: Final = "m"
QR_QUIET_MODULES: Final = 2
ASSET_INSTRUCTION: Final = "Ne pas retirer · Scannez pour suivre"
PLATFORM_NAME: Final = "Réemploi"


@dataclass(frozen=True)
class LabelLayout:
    name: str
    description_fr: str
    page_width_mm: float
    page_height_mm: float
    label_width_mm: float
    label_height_mm: float
    columns: int = 1
    rows: int = 1
    margin_left_mm: float = 0.0
    margin_top_mm: float = 0.0
    pitch_x_mm: float = 0.0  # distance between the left edges of two columns
    pitch_y_mm: float = 0.0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def origin_mm(self, index: int) -> tuple[float, float]:
        """Bottom-left corner of label ``index`` on its page (PDF coordinates, mm)."""
        column, row = index % self.columns, index // self.columns
        x = self.margin_left_mm + column * self.pitch_x_mm
        top = self.margin_top_mm + row * self.pitch_y_mm
        return x, self.page_height_mm - top - self.label_height_mm


LAYOUTS: Final[dict[str, LabelLayout]] = {
    layout.name: layout
    for layout in (
        LabelLayout("thermique-50x25", "Rouleau thermique 50 × 25 mm", 50, 25, 50, 25),
        LabelLayout("thermique-57x32", "Rouleau thermique 57 × 32 mm", 57, 32, 57, 32),
        LabelLayout(
            "a4-3x8-70x37",
            "Planche A4, 24 étiquettes 70 × 37 mm",
            210,
            297,
            70,
            37,
            3,
            8,
            0,
            0.5,
            70,
            37,
        ),
        LabelLayout(
            "a4-3x7-63x38",
            "Planche A4, 21 étiquettes 63,5 × 38,1 mm",
            210,
            297,
            63.5,
            38.1,
            3,
            7,
            7.25,
            15.15,
            66.04,
            38.1,
        ),
    )
}


@dataclass(frozen=True)
class LabelItem:
    qr_text: str  # exactly what the QR encodes (the Digital Link)
    identifier: str  # human-readable identifier under or beside the QR
    caption: str = ""  # e.g. the asset's name; may be cut to fit
    instruction: str = ASSET_INSTRUCTION


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """The QR code as filled squares, ``size`` points wide quiet zone included."""
    code = segno.make_qr(text, error=QR_ERROR_CORRECTION, boost_error=False)
    matrix = [list(row) for row in code.matrix]
    count = len(matrix) + 2 * QR_QUIET_MODULES
    module = size / count
    canvas.setFillColorRGB(0, 0, 0)
    # One path for the whole symbol: rasterisers fill the union, so no hairline seams
    # appear between neighbouring modules (they made scanners miss codes at 300 dpi).
    path = canvas.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):  # one rectangle per run of dark modules
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect(
                x + (start + QR_QUIET_MODULES) * module,
                y + size - (r + 1 + QR_QUIET_MODULES) * module,
                (c - start) * module,
                module,
            )
    canvas.drawPath(path, stroke=0, fill=1, fillMode=1)


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> str:
    while text and canvas.stringWidth(text, font, size) > width:
        text = text[:-2] + "…"
    return text


def _draw_label(canvas: Canvas, layout: LabelLayout, item: LabelItem, x: float, y: float) -> None:
    width, height = layout.label_width_mm * mm, layout.label_height_mm * mm
    pad = 1.0 * mm
    qr_size = height - 2 * pad
    _draw_qr(canvas, item.qr_text, x + pad, y + pad, qr_size)
    text_x = x + pad + qr_size + pad
    text_width = width - (text_x - x) - pad
    scale = height / (25 * mm)
    canvas.setFont("Helvetica-Bold", 7 * scale)
    canvas.drawString(text_x, y + height - 4 * mm * scale, PLATFORM_NAME)
    canvas.setFont("Helvetica", 5.5 * scale)
    lines: list[str] = []
    for word in item.identifier.split(" "):  # a space marks a wished line break
        lines += [word[i : i + 16] for i in range(0, len(word), 16)]
    lines = lines[:3]
    for n, line in enumerate(lines):
        canvas.drawString(text_x, y + height - (8 + 2.6 * n) * mm * scale, line)
    if item.caption:
        canvas.setFont("Helvetica-Oblique", 5 * scale)
        caption = _fit(canvas, item.caption, "Helvetica-Oblique", 5 * scale, text_width)
        canvas.drawString(text_x, y + 7 * mm * scale, caption)
    canvas.setFont("Helvetica", 4.2 * scale)
    words = item.instruction.split(" · ")
    for n, line in enumerate(words[:2]):
        fitted = _fit(canvas, line, "Helvetica", 4.2 * scale, text_width)
        canvas.drawString(text_x, y + (4 - 2.2 * n) * mm * scale, fitted)


def render_labels(
    items: Sequence[LabelItem],
    layout: LabelLayout,
    output: Path,
    progress: Callable[[int, int], None] | None = None,
    title: str = "Étiquettes Réemploi",
) -> int:
    """Write the PDF; returns the number of pages. ``progress(done, total)`` per label."""
    if not items:
        raise ValueError("aucune étiquette à imprimer")
    canvas = Canvas(str(output), pagesize=(layout.page_width_mm * mm, layout.page_height_mm * mm))
    canvas.setTitle(title)
    canvas.setAuthor("reemploi-provision")
    pages = 0
    for index, item in enumerate(items):
        slot = index % layout.per_page
        if slot == 0 and index:
            canvas.showPage()
        if slot == 0:
            pages += 1
        x, y = layout.origin_mm(slot)
        _draw_label(canvas, layout, item, x * mm, y * mm)
        if progress is not None:
            progress(index + 1, len(items))
    canvas.showPage()
    canvas.save()
    return pages


def claim_label_items(device: str, claim_url: str, code: str) -> Iterable[LabelItem]:
    """The reader's claim label: QR = claim URL, code printed for typing by hand."""
    yield LabelItem(
        qr_text=claim_url,
        identifier=f"{device} {code}",
        caption="Code à usage unique",
        instruction="Revendiquer ce lecteur · sur la plateforme",
    )
