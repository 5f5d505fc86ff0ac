"""Pictures of the installers' guide (``docs/images``), drawn from the code they show.

* ``cablage-rc522-raspberry-pi.svg``: the RC522 → Raspberry Pi wiring of
  :data:`reemploi.provisioning.pi_mfrc522.RC522_WIRING`;
* ``memoire-ntag213.svg``: an NTAG213 after ``tag write``, page by page, with the write
  order, from the page-level tag model written by the real ``write_asset_tag``;
* the label pictures (PNG, with ``--labels``: needs ``pdftoppm``), rendered by
  :func:`reemploi.provisioning.labels.render_labels`.

``python -m reemploi.provisioning.guide_pictures docs/images [--labels]`` rewrites them;
the tests check the committed SVGs are exactly what this module draws.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reemploi.domain.digital_link import giai_uri

from .claim import claim_url
from .labels import LAYOUTS, LabelItem, claim_label_items, render_labels
from .ntag21x import CC_PAGE, FIRST_USER_PAGE, MODELS, PAGE_BYTES, plan_asset_tag, tag_password
from .pi_mfrc522 import RC522_WIRING
from .tag_sim import SimulatedNtag
from .tag_writer import write_asset_tag

__all__ = ["GUIDE_GIAI", "PICTURES", "memory_map_svg", "wiring_svg", "write_pictures"]

GUIDE_GIAI = "4012345PC0001"
GUIDE_UID = bytes.fromhex("04A1B2C3D4E5F6")
GUIDE_SECRET = b"secret-de-demonstration"
GUIDE_CLAIM_CODE = "7K3M-Q9TX-2HBD"
GUIDE_PLATFORM = "https://reemploi.example.org"
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"
MONO = "font-family='DejaVu Sans Mono, Courier New, monospace'"
WIRE_COLOURS = ("#e6194b", "#f58231", "#3cb44b", "#4363d8", "#999999", "#000000", "#911eb4")


def _text(
    x: float, y: float, text: str, size: int = 12, anchor: str = "start", **style: str
) -> str:
    font = MONO if style.pop("mono", "") else FONT
    extra = "".join(f" {key.replace('_', '-')}='{value}'" for key, value in style.items())
    return (
        f"<text x='{x:g}' y='{y:g}' font-size='{size}' text-anchor='{anchor}' {font}{extra}>"
        f"{escape(text)}</text>"
    )


def _svg(width: int, height: int, body: list[str]) -> str:
    head = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>"
    )
    background = f"<rect width='{width}' height='{height}' fill='white'/>"
    return "\n".join([head, background, *body, "</svg>"]) + "\n"


def wiring_svg() -> str:
    """RC522 pins, one wire each to its Raspberry Pi signal, and the 40-pin header map."""
    body = [
        _text(20, 28, "Câblage RC522 → Raspberry Pi (3,3 V seulement, jamais 5 V)", 16,
              font_weight="bold"),
        "<rect x='20' y='45' width='150' height='260' rx='6' fill='#1f5fa8'/>",
        _text(95, 68, "RC522", 14, "middle", fill="white", font_weight="bold"),
        _text(95, 84, "(MFRC522)", 11, "middle", fill="white"),
    ]  # fmt: skip
    colours = iter(WIRE_COLOURS)
    used: dict[int, str] = {}
    for index, (pin, signal, header_pin) in enumerate(RC522_WIRING):
        y = 104 + index * 25
        body.append(_text(160, y + 4, pin, 12, "end", fill="white"))
        body.append(f"<circle cx='170' cy='{y}' r='5' fill='#d4af37'/>")
        if header_pin is None:
            body.append(
                f"<line x1='175' y1='{y}' x2='230' y2='{y}' stroke='#bbbbbb' stroke-width='3' "
                "stroke-dasharray='5,4'/>"
            )
            body.append(_text(240, y + 4, signal, 12, fill="#777777"))
            continue
        colour = next(colours)
        used[header_pin] = colour
        body.append(
            f"<line x1='175' y1='{y}' x2='330' y2='{y}' stroke='{colour}' stroke-width='4'/>"
        )
        body.append(_text(340, y + 4, f"broche {header_pin} · {signal}", 12))
    # the 40-pin header: odd pins on the left column, even on the right, pin 1 square
    body.append(_text(607, 52, "En-tête 40 broches", 11, "middle"))
    for number in range(1, 41):
        row, column = (number - 1) // 2, (number - 1) % 2
        x, y = 600 + column * 14, 66 + row * 12
        fill = used.get(number, "#dddddd")
        if number == 1:
            body.append(f"<rect x='{x - 4}' y='{y - 4}' width='8' height='8' fill='{fill}'/>")
        else:
            body.append(f"<circle cx='{x}' cy='{y}' r='4' fill='{fill}'/>")
        if number in used:
            side_x, anchor = (590, "end") if column == 0 else (624, "start")
            body.append(_text(side_x, y + 4, str(number), 10, anchor))
    body.append(_text(607, 318, "broche 1 : pastille carrée", 10, "middle"))
    body.append(
        _text(20, 330, "Activer SPI : sudo raspi-config → Interface Options → SPI, puis redémarrer",
              12, fill="#333333")
    )  # fmt: skip
    return _svg(680, 345, body)


PURPOSE_FR = {
    "ndef-empty": "NDEF vide d'abord",
    "ndef": "message NDEF",
    "ndef-commit": "début du NDEF, en dernier",
    "pack": "PACK (relu 00)",
    "pwd": "PWD (relu 00)",
    "cfg1": "CFG1 : ACCESS",
    "cfg0": "CFG0 : AUTH0 = 04",
}
FILL = {"fixe": "#e0e0e0", "cc": "#cfe2f3", "ndef": "#d9ead3", "commit": "#fce5cd",
        "config": "#e4d7f5", "libre": "#ffffff"}  # fmt: skip


def memory_map_svg() -> str:
    """NTAG213 pages after ``tag write`` of the guide's example, with the write order."""
    model = MODELS["NTAG213"]
    uri = giai_uri(GUIDE_GIAI)
    tag = SimulatedNtag(GUIDE_UID, model.name)
    write_asset_tag(tag, uri, GUIDE_SECRET)
    plan = plan_asset_tag(model, uri, tag_password(GUIDE_SECRET, GUIDE_UID))
    order: dict[int, list[int]] = {}
    purpose: dict[int, str] = {}
    for number, write in enumerate(plan.writes, start=1):
        order.setdefault(write.page, []).append(number)
        purpose.setdefault(write.page, PURPOSE_FR[write.purpose])
    purpose[FIRST_USER_PAGE] = "NDEF vide d'abord, vrai début en dernier"
    fixed = {0: "UID", 1: "UID", 2: "UID, verrous statiques", CC_PAGE: "conteneur de capacité"}
    fixed[model.dynamic_lock_page] = "verrous dynamiques"
    row = 14
    top = 96
    body = [
        _text(20, 24, f"NTAG213 après « tag write » : {GUIDE_GIAI}", 15, font_weight="bold"),
        _text(20, 42, f"UID {GUIDE_UID.hex().upper()} · n° = ordre d'écriture", 11),
        _text(20, 56, "Retirée en cours d'écriture, l'étiquette se relit vide, "
              "jamais comme un autre équipement.", 11),
        _text(20, 80, "page", 11, font_weight="bold"),
        _text(150, 80, "octets (hex)", 11, font_weight="bold"),
        _text(330, 80, "n°", 11, font_weight="bold"),
        _text(380, 80, "rôle", 11, font_weight="bold"),
    ]  # fmt: skip
    for page in range(model.pages):
        y = top + page * row
        data = bytes(tag.memory[page * PAGE_BYTES : (page + 1) * PAGE_BYTES])
        if page in fixed:
            kind, role = ("cc" if page == CC_PAGE else "fixe"), fixed[page]
        elif page == FIRST_USER_PAGE:
            kind, role = "commit", purpose[page]
        elif page in order and page > model.user_last_page:
            kind, role = "config", purpose[page]
        elif page in order:
            kind, role = "ndef", purpose[page]
        elif page > model.user_last_page:
            kind, role = "config", "réservé"
        else:
            kind, role = "libre", "libre (zéros)"
        body.append(
            f"<rect x='16' y='{y - 11}' width='620' height='{row}' fill='{FILL[kind]}' "
            "stroke='#ffffff'/>"
        )
        body.append(_text(20, y, f"{page:2d}  {page:02X}h", 11, mono="1"))
        body.append(_text(150, y, data.hex(" ").upper(), 11, mono="1"))
        body.append(_text(330, y, ", ".join(map(str, order.get(page, []))), 11))
        body.append(_text(380, y, role, 11))
    legend_y = top + model.pages * row + 10
    legend = (("commit", "écrit deux fois"), ("ndef", "message NDEF (URI)"),
              ("config", "configuration"), ("fixe", "fixé en usine"))  # fmt: skip
    for index, (kind, label) in enumerate(legend):
        x = 20 + index * 155
        body.append(
            f"<rect x='{x}' y='{legend_y}' width='14' height='14' fill='{FILL[kind]}' "
            "stroke='#999999'/>"
        )
        body.append(_text(x + 20, legend_y + 12, label, 11))
    return _svg(660, legend_y + 30, body)


PICTURES: dict[str, Callable[[], str]] = {
    "cablage-rc522-raspberry-pi.svg": wiring_svg,
    "memoire-ntag213.svg": memory_map_svg,
}


def _label_pictures(folder: Path) -> list[Path]:
    """The three label PNGs of the guide (``pdftoppm`` from poppler-utils)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise RuntimeError("pdftoppm manquant : scripts/install-provisioning-tools.sh")
    asset = LabelItem(giai_uri(GUIDE_GIAI), GUIDE_GIAI, "Portable Dell Latitude 5490")
    sheet = [
        LabelItem(giai_uri(f"4012345PC{n:04d}"), f"4012345PC{n:04d}", asset.caption)
        for n in range(1, 25)
    ]
    url = claim_url(GUIDE_PLATFORM, "lecteur-1", GUIDE_CLAIM_CODE)
    jobs = (
        ("etiquette-50x25", [asset], "thermique-50x25", 200),
        ("etiquette-revendication", list(claim_label_items("lecteur-1", url, GUIDE_CLAIM_CODE)),
         "thermique-50x25", 200),
        ("planche-a4-3x8", sheet, "a4-3x8-70x37", 40),
    )  # fmt: skip
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, items, layout, dpi in jobs:
            pdf = Path(scratch) / f"{name}.pdf"
            render_labels(items, LAYOUTS[layout], pdf)
            stem = folder / name
            subprocess.run(
                [pdftoppm, "-png", "-r", str(dpi), "-singlefile", str(pdf), str(stem)], check=True
            )
            written.append(stem.with_suffix(".png"))
    return written


def write_pictures(folder: Path, labels: bool = False) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in PICTURES.items():
        (folder / name).write_text(draw(), encoding="utf-8")
        written.append(folder / name)
    if labels:
        written += _label_pictures(folder)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Images du guide de l'installateur")
    parser.add_argument("folder", type=Path, help="docs/images")
    parser.add_argument("--labels", action="store_true", help="aussi les PNG d'étiquettes")
    args = parser.parse_args(argv)
    for path in write_pictures(args.folder, args.labels):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
