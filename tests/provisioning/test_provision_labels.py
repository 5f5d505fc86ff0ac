"""Label PDFs rendered to PNG (pdftoppm) and every QR decoded back (zbarimg)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from reemploi.domain.digital_link import giai_uri
from reemploi.provisioning.labels import LAYOUTS, LabelItem, LabelLayout, render_labels


def _zbar(png: Path) -> list[str]:
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "run scripts/install-provisioning-tools.sh"
    result = subprocess.run(
        [zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 4), result.stderr  # 4: no symbol found
    return [line for line in result.stdout.splitlines() if line]


def _decode_each_label(pdf: Path, layout: LabelLayout, count: int, folder: Path) -> list[str]:
    """Render at 300 dpi, cut out every label slot and decode it on its own.

    Cutting proves each QR sits in its own label (and zbar misses codes now and then
    when asked to find dozens on one A4 page).
    """
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "run scripts/install-provisioning-tools.sh"
    subprocess.run([pdftoppm, "-r", "300", "-png", str(pdf), str(folder / "page")], check=True)
    pages = sorted(folder.glob("page-*.png"))
    dots = 300 / 25.4
    decoded: list[str] = []
    for index in range(count):
        page, slot = divmod(index, layout.per_page)
        x, y = layout.origin_mm(slot)
        top = layout.page_height_mm - y - layout.label_height_mm
        box = (
            round(x * dots),
            round(top * dots),
            round((x + layout.label_width_mm) * dots),
            round((top + layout.label_height_mm) * dots),
        )
        crop = folder / f"label-{index}.png"
        with Image.open(pages[page]) as image:
            image.crop(box).save(crop)
        found = _zbar(crop)
        decoded.append(found[0] if len(found) == 1 else f"<{len(found)} codes>")
    return decoded


@pytest.mark.parametrize("layout_name", sorted(LAYOUTS))
def test_every_qr_decodes_to_the_exact_digital_link(layout_name: str, tmp_path: Path) -> None:
    layout = LAYOUTS[layout_name]
    count = layout.per_page + 2 if layout.per_page > 1 else 3  # more than one page
    giais = [f"4012345PC{i:05d}" for i in range(count - 1)] + ["4012345A/B+C"]
    items = [
        LabelItem(giai_uri(g), g, "Portable Dell Latitude 5490 écran 14 pouces") for g in giais
    ]
    seen: list[int] = []
    pdf = tmp_path / "labels.pdf"
    pages = render_labels(items, layout, pdf, progress=lambda done, total: seen.append(done))
    assert seen == list(range(1, count + 1))
    assert pages == -(-count // layout.per_page)
    decoded = _decode_each_label(pdf, layout, count, tmp_path)
    assert decoded == [item.qr_text for item in items]
    assert decoded[-1] == "https://id.gs1.org/8004/4012345A%2FB%2BC"


def test_empty_batch_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_labels([], LAYOUTS["thermique-50x25"], tmp_path / "x.pdf")
