"""The Mosquitto configuration docker-compose.yml mounts is the one provisioning writes
(`broker files --for-compose`), and every file it names is in the broker folder that
provisioning fills and compose mounts on /mosquitto/secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reemploi.provisioning.cli import main
from reemploi.provisioning.mosquitto_files import BROKER_SECRET_FILES, COMPOSE_LAYOUT

ROOT = Path(__file__).resolve().parents[2]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host source of a service's short-syntax volumes."""
    mounts = {}
    for volume in service["volumes"]:
        source, target = re.match(r"^(\$\{[^}]+\}|[^:]+):([^:]+)", volume).groups()  # type: ignore[union-attr]
        mounts[target] = source
    return mounts


def test_broker_files_for_compose_writes_the_configuration_compose_mounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "var/provisioning"
    out = tmp_path / "deploy/mosquitto"
    init = ["--state", str(state), "broker", "init", "--platform-url", "https://r.test"]
    assert main([*init, "--host", "mqtt.r.test", "--host", "mosquitto"]) == 0
    assert main(["--state", str(state), "broker", "files", "--for-compose", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"MOSQUITTO_SECRETS_DIR={state / 'broker'}" in said
    generated = (out / "mosquitto.conf").read_text()

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = _mounts(compose["services"]["mosquitto"])
    mounted_conf = ROOT / mounts["/mosquitto/config/mosquitto.conf"]
    assert mounted_conf == ROOT / "deploy/mosquitto/mosquitto.conf"
    assert mounted_conf.read_text() == generated  # byte for byte: generated, not hand-written

    # Every path the configuration names lives where compose mounts it, and every
    # secret file it names is one provisioning wrote in the broker folder.
    named = re.findall(r"^\w+ (/mosquitto/\S+)$", generated, flags=re.MULTILINE)
    secrets = mounts[COMPOSE_LAYOUT.folder]
    assert secrets.startswith("${MOSQUITTO_SECRETS_DIR:?")
    for path in named:
        folder, _, name = path.rstrip("/").rpartition("/")
        if folder == COMPOSE_LAYOUT.folder:
            assert name in BROKER_SECRET_FILES
            assert (state / "broker" / name).is_file(), name
        else:
            assert path.rstrip("/") in mounts, path  # /mosquitto/data: the volume
    assert sorted(p.rpartition("/")[2] for p in named if "/secrets/" in p) == sorted(
        BROKER_SECRET_FILES
    )
    # .env.example points compose at the broker folder of `--state var/provisioning`.
    env = (ROOT / ".env.example").read_text()
    assert "MOSQUITTO_SECRETS_DIR=./var/provisioning/broker" in env.splitlines()


def test_for_compose_refuses_an_uninitialised_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--state", str(tmp_path / "vide"), "broker", "files", "--for-compose", "x"])
    assert code == 1 and "n'est pas initialisé" in capsys.readouterr().err
    assert not (Path("x") / "mosquitto.conf").exists()
