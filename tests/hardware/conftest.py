"""Fixtures of the hardware checks: kicad-cli (KiCad 9) run on the reader project."""

from __future__ import annotations

import json
import shutil

import pytest
from kicad_project import PROJECT, WAIVERS, KicadCli


@pytest.fixture(scope="session")
def kicad_cli(tmp_path_factory: pytest.TempPathFactory) -> KicadCli:
    executable = shutil.which("kicad-cli")
    if executable is None:
        pytest.fail(
            "kicad-cli (KiCad 9) is not installed: run `make test`, which installs it "
            "(scripts/install-kicad.sh, from bookworm-backports)"
        )
    cli = KicadCli(executable, tmp_path_factory.mktemp("kicad-home"))
    version = cli.version()
    assert version.split(".")[0] == "9", f"KiCad 9 expected, found {version}"
    return cli


@pytest.fixture(scope="session")
def waivers() -> list[dict[str, str]]:
    data = json.loads(WAIVERS.read_text(encoding="utf-8"))
    for waiver in data["waivers"]:
        assert waiver.get("reason", "").strip(), f"waiver without a reason: {waiver}"
        assert waiver["check"] in ("erc", "drc"), waiver
    return data["waivers"]


@pytest.fixture(scope="session")
def netlist_text(kicad_cli: KicadCli, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("netlist") / "reader.net"
    kicad_cli.run(
        "sch",
        "export",
        "netlist",
        "--format",
        "kicadsexpr",
        "--output",
        str(out),
        str(PROJECT / "reader.kicad_sch"),
    )
    return out.read_text(encoding="utf-8")
