"""The installers' guide cannot drift: its pictures are what the code draws, its label
pictures decode to the identifiers it names, and every command it shows is accepted by
the real `reemploi-provision` parser."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from reemploi.domain.digital_link import giai_uri
from reemploi.provisioning.claim import claim_url
from reemploi.provisioning.cli import _parser
from reemploi.provisioning.guide_pictures import (
    GUIDE_CLAIM_CODE,
    GUIDE_GIAI,
    GUIDE_PLATFORM,
    PICTURES,
)
from reemploi.provisioning.pi_mfrc522 import RC522_WIRING

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs/provisioning.md"
IMAGES = ROOT / "docs/images"


def _guide() -> str:
    return GUIDE.read_text()


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_committed_pictures_are_what_the_code_draws(name: str) -> None:
    committed = (IMAGES / name).read_text(encoding="utf-8")
    assert committed == PICTURES[name](), (
        f"docs/images/{name} is stale: python -m reemploi.provisioning.guide_pictures docs/images"
    )
    ElementTree.fromstring(committed)  # well-formed SVG


def test_wiring_picture_shows_every_connected_pin() -> None:
    svg = (IMAGES / "cablage-rc522-raspberry-pi.svg").read_text(encoding="utf-8")
    for pin, signal, header_pin in RC522_WIRING:
        assert f">{pin}</text>" in svg
        if header_pin is not None:
            assert f"broche {header_pin} · {signal}" in svg


def test_every_picture_is_in_the_guide_and_every_reference_exists() -> None:
    guide = _guide()
    referenced = re.findall(r"!\[[^\]]+\]\(images/([^)]+)\)", guide)
    assert set(PICTURES) <= set(referenced)
    for name in referenced:
        assert (IMAGES / name).is_file(), name


def _zbar(png: Path) -> list[str]:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        pytest.fail("zbarimg missing: run scripts/install-provisioning-tools.sh")
    out = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(png)], capture_output=True, text=True, check=False
    ).stdout
    return out.split()


def test_label_pictures_decode_to_the_identifiers_of_the_guide() -> None:
    assert _zbar(IMAGES / "etiquette-50x25.png") == [giai_uri(GUIDE_GIAI)]
    claim = claim_url(GUIDE_PLATFORM, "lecteur-1", GUIDE_CLAIM_CODE)
    assert _zbar(IMAGES / "etiquette-revendication.png") == [claim]
    assert GUIDE_GIAI in _guide()


def _guide_commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", _guide(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("reemploi-provision "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_command_of_the_guide_is_accepted_by_the_tool() -> None:
    commands = _guide_commands()
    groups = set()
    for argv in commands:
        first = next(i for i, word in enumerate(argv) if not word.startswith("-") and (
            i == 0 or not argv[i - 1].startswith("--")))  # fmt: skip
        groups.add(tuple(argv[first : first + 2]))
    # The guide walks through enrolment, revocation, import, tag writing, compose files.
    assert {
        ("broker", "init"),
        ("broker", "files"),
        ("reader", "enroll"),
        ("reader", "revoke"),
        ("reader", "list"),
        ("gateway", "enroll"),
        ("gateway", "revoke"),
        ("gateway", "list"),
        ("assets", "import"),
        ("tag", "plan"),
        ("tag", "write"),
        ("tag", "verify"),
    } <= groups
    assert ("labels", "--plan") in groups
    parser = _parser()
    for argv in commands:
        parser.parse_args(argv)  # exits (SystemExit) on any unknown option


def test_guide_is_french_first_with_an_english_part() -> None:
    guide = _guide()
    french = guide.index("# Guide de l'installateur")
    english = guide.index("# Installer's guide (English)")
    assert french < english
    for heading in ("Enrôler un lecteur", "Révoquer un lecteur", "Importer des équipements",
                    "Écrire et vérifier les étiquettes NFC", "Imprimer les étiquettes",
                    "Raspberry Pi et RC522"):  # fmt: skip
        assert heading in guide[:english], heading
