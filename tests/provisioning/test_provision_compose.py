"""The Mosquitto configuration docker-compose.yml mounts is the one provisioning writes
(`broker files --for-compose`), and every file it names is in the broker folder that
provisioning fills and compose mounts on /mosquitto/secrets; the compose gateway runs on
the bundle `gateway enroll` writes."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from reemploi.provisioning.cli import main
from reemploi.provisioning.mosquitto_files import (
    BROKER_SECRET_FILES,
    COMPOSE_LAYOUT,
    verify_password_line,
)

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


def test_compose_gateway_runs_on_the_bundle_gateway_enroll_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose gateway's settings are exactly: the bundle's gateway.toml (identity,
    password, certificates under the mount) + compose's broker addresses."""
    from reemploi.gateway.settings import GatewaySettings

    state = tmp_path / "var/provisioning"
    init = ["--state", str(state), "broker", "init", "--platform-url", "https://r.test"]
    assert main([*init, "--host", "mqtt.r.test", "--host", "mosquitto"]) == 0
    enroll = ["gateway", "enroll", "gw-atelier-fontaine", "--site", "atelier-fontaine"]
    assert main(["--state", str(state), *enroll]) == 0
    bundle = state / "bundles/gw-atelier-fontaine"

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    gateway = compose["services"]["gateway"]
    mounts = _mounts(gateway)
    target = next(t for t, s in mounts.items() if s.startswith("${GATEWAY_BUNDLE_DIR:?"))
    env = {str(k): str(v) for k, v in gateway["environment"].items()}
    # .env.example points at the bundle of the gateway of `--state var/provisioning`.
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["GATEWAY_BUNDLE_DIR"] == "./var/provisioning/bundles/gw-atelier-fontaine"

    def on_host(container_path: Path) -> Path:
        return bundle / container_path.relative_to(target)

    for name in list(os.environ):
        if name.startswith("REEMPLOI_GATEWAY_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Path(env["REEMPLOI_GATEWAY_CONFIG_FILE"])
    monkeypatch.setenv("REEMPLOI_GATEWAY_CONFIG_FILE", str(on_host(config)))
    settings = GatewaySettings()  # type: ignore[call-arg]

    password = tomllib.loads((bundle / "gateway.toml").read_text())["central_password"]
    assert settings.gateway_id == settings.central_username == "gw-atelier-fontaine"
    assert settings.site == "atelier-fontaine"
    assert settings.central_password is not None
    assert settings.central_password.get_secret_value() == password
    assert (settings.central_host, settings.central_port) == ("mosquitto", 8883)
    assert (settings.local_host, settings.local_port) == ("site-broker", 1883)
    assert settings.central_tls
    for path in (settings.central_cafile, settings.central_certfile, settings.central_keyfile):
        assert path is not None
        assert on_host(path).read_bytes().startswith(b"-----BEGIN "), path
    # The broker certificate answers to the name the gateway dials inside compose.
    server = x509.load_pem_x509_certificate((state / "broker/server.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert settings.central_host in names.get_values_for_type(x509.DNSName)
    # …and the generated broker files let that identity in with that password.
    passwd = (state / "broker/passwd").read_text().splitlines()
    line = next(entry for entry in passwd if entry.startswith("gw-atelier-fontaine:"))
    assert verify_password_line(line, "gw-atelier-fontaine", password)
