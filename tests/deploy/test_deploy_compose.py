"""docker-compose.yml: valid against the Compose Specification's JSON schema, every secret
required from the environment, healthchecks and ordered start-up, named volumes, the
"terrain" profile, and every file it mounts present and matching what it configures."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reemploi.provisioning.mosquitto_files import BrokerLayout, mosquitto_conf
from reemploi.server.timeseries.dashboards.provisioning import CONTAINER_DASHBOARDS_PATH

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SECRET = re.compile(r"PASSWORD|TOKEN")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
CORE = {"mosquitto", "influxdb", "postgres", "server", "grafana"}
TERRAIN = {"site-broker", "gateway", "readers"}


def _errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return sorted(error.message for error in validator.iter_errors(document))


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    assert _errors(COMPOSE) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["server"].update(depends_on={"postgres": {"condition": 1}}),
        lambda c: c["services"]["grafana"].update(helthcheck={"test": ["CMD", "true"]}),
        lambda c: c.update(volumes=["not", "a", "mapping"]),
    ],
)
def test_schema_catches_a_broken_compose_file(breakage: Any) -> None:
    broken = copy.deepcopy(COMPOSE)
    breakage(broken)
    assert _errors(broken)


MOUNT = re.compile(r"^(\$\{[^}]*\}|[^:]+):([^:]+)(?::ro)?$")


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target in the container → source (named volume, ./path or ${VARIABLE})."""
    out = {}
    for volume in service.get("volumes", []):
        match = MOUNT.match(volume)
        assert match, volume
        out[match.group(2)] = match.group(1)
    return out


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    return {str(k): str(v) for k, v in env.items()}


def test_every_secret_is_required_from_the_environment_never_written() -> None:
    found = 0
    for name, service in COMPOSE["services"].items():
        for key, value in _environment(service).items():
            if SECRET.search(key) or "password" in value.lower().split("@")[0]:
                found += 1
                assert re.search(r"\$\{[A-Z0-9_]+:\?", value), f"{name}.{key} = {value}"
    assert found >= 8
    # The gateway's secret is in its provisioning bundle (gateway.toml), not in .env.
    gateway = _environment(COMPOSE["services"]["gateway"])
    assert not [key for key in gateway if "PASSWORD" in key or "USERNAME" in key]
    url = _environment(COMPOSE["services"]["server"])["REEMPLOI_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD:?" in url


def test_services_have_healthchecks_and_start_in_order() -> None:
    services = COMPOSE["services"]
    assert set(services) == CORE | TERRAIN
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
    assert services["server"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "mosquitto": {"condition": "service_healthy"},
        "influxdb": {"condition": "service_started"},
    }
    assert services["grafana"]["depends_on"] == {"influxdb": {"condition": "service_healthy"}}
    for service in services.values():
        for dependency in service.get("depends_on", {}).values():
            assert dependency["condition"] in {"service_healthy", "service_started"}


def test_data_lives_in_named_volumes_and_bind_mounts_exist_in_the_repository() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for service in COMPOSE["services"].values():
        for source in _mounts(service).values():
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
            elif not source.startswith("${"):
                used.add(source)
    assert used == declared


def test_terrain_profile_adds_a_gateway_and_simulated_readers() -> None:
    services = COMPOSE["services"]
    assert {n for n, s in services.items() if s.get("profiles") == ["terrain"]} == TERRAIN
    assert all("profiles" not in services[name] for name in CORE)
    gateway = _environment(services["gateway"])
    assert gateway["REEMPLOI_GATEWAY_LOCAL_HOST"] == "site-broker"
    assert gateway["REEMPLOI_GATEWAY_CENTRAL_PORT"] == "8883"
    # Its identity comes from the bundle `reemploi-provision gateway enroll` writes
    # (tests/provisioning/test_provision_compose.py loads it as compose configures it).
    assert gateway["REEMPLOI_GATEWAY_CONFIG_FILE"] == "/etc/reemploi/gateway/gateway.toml"
    assert _mounts(services["gateway"])["/etc/reemploi/gateway"].startswith(
        "${GATEWAY_BUNDLE_DIR:?"
    )
    assert not {"REEMPLOI_GATEWAY_GATEWAY_ID", "REEMPLOI_GATEWAY_SITE"} & set(gateway)
    assert "mqtt://site-broker:1883" in services["readers"]["command"]


def test_env_example_lists_exactly_the_variables_compose_reads() -> None:
    used = set(VARIABLE.findall((ROOT / "docker-compose.yml").read_text()))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert used == example
    secrets = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and SECRET.search(line.split("=", 1)[0])
    }
    assert secrets and all(value == "" for value in secrets.values())  # no default secret


DEPLOY_LAYOUT = BrokerLayout(
    folder="/mosquitto/secrets",
    plain_port=1883,
    plain_bind="0.0.0.0",
    tls_port=8883,
    tls_bind="0.0.0.0",
    persistence_folder="/mosquitto/data",
)


def test_mosquitto_configuration_is_the_one_provisioning_writes_and_fits_the_mounts() -> None:
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert conf == mosquitto_conf(DEPLOY_LAYOUT)
    mosquitto = COMPOSE["services"]["mosquitto"]
    targets = _mounts(mosquitto)
    assert targets["/mosquitto/config/mosquitto.conf"] == "./deploy/mosquitto/mosquitto.conf"
    assert targets["/mosquitto/secrets"].startswith("${MOSQUITTO_SECRETS_DIR:?")
    assert targets["/mosquitto/data"] == "mosquitto-data"
    assert mosquitto["ports"] == ["${MQTT_TLS_PORT:-8883}:8883"]  # plain 1883 stays internal


def test_grafana_mounts_the_generated_provisioning_and_gets_the_variables_it_uses() -> None:
    grafana = COMPOSE["services"]["grafana"]
    targets = _mounts(grafana)
    assert targets[CONTAINER_DASHBOARDS_PATH] == "./dashboards/json"
    assert (
        targets["/etc/grafana/provisioning/datasources"] == "./dashboards/provisioning/datasources"
    )
    datasource = (ROOT / "dashboards/provisioning/datasources/reemploi-influxdb.yaml").read_text()
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", datasource))
    assert needed == {"INFLUXDB_URL", "INFLUXDB_BUCKET", "INFLUXDB_TOKEN"}
    assert needed <= set(_environment(grafana))
    home = _environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "dashboards/json" / Path(home).name).exists()


def test_server_writes_time_series_through_the_v2_api_to_the_bucket_grafana_reads() -> None:
    server = _environment(COMPOSE["services"]["server"])
    grafana = _environment(COMPOSE["services"]["grafana"])
    assert server["REEMPLOI_INFLUX_API"] == "v2"
    assert server["REEMPLOI_INFLUX_BUCKET"] == grafana["INFLUXDB_BUCKET"]
    assert server["REEMPLOI_INFLUX_URL"] == grafana["INFLUXDB_URL"] == "http://influxdb:8086"
    assert server["REEMPLOI_TIMESERIES_OUTBOX"].startswith("/var/lib/reemploi/")
