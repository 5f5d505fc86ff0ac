"""Enrolment reaches the platform's device registry (`--database-url`), end to end with
the real server ingest on a real Mosquitto loaded with the generated files; and the
enrolment and the registration change together or not at all (real SQLite failures)."""

from __future__ import annotations

import json
import queue
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from provision_broker_harness import GeneratedBroker, new_state
from sqlalchemy import Engine, select, text
from support.processes import free_port

from reemploi.domain.digital_link import giai_uri
from reemploi.protocol import wire
from reemploi.provisioning.cli import main
from reemploi.provisioning.registry import PLATFORM_USER, ProvisioningState
from reemploi.server.db.engine import make_engine, migrate
from reemploi.server.db.tables import dead_letters, devices, sightings
from reemploi.server.demo.territory import ORGANISATIONS, SITES
from reemploi.server.ingest.mqtt import BrokerAddress, IngestService
from reemploi.server.ingest.pipeline import IngestOptions, IngestPipeline
from reemploi.server.registry import (
    Declaration,
    Device,
    Registry,
    add_device,
    add_organisation,
    add_site,
    declare_asset,
)

SITE = "cp-grenoble-hdv"  # a collection point of the demo territory: counter = collect
LAPTOP = "9521234LAP000001"


@dataclass
class Platform:
    url: str
    engine: Engine


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """The server's database, with its organisations and sites but no device."""
    url = f"sqlite:///{tmp_path / 'plateforme.db'}"
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for org in ORGANISATIONS:
            add_organisation(conn, org)
        for site in SITES:
            add_site(conn, site)
        declare_asset(
            conn,
            Declaration(giai_uri(LAPTOP), "laptop", "ville-grenoble", SITE),
        )
    yield Platform(url, engine)
    engine.dispose()


@pytest.fixture
def state() -> Iterator[ProvisioningState]:
    provisioning = new_state("provision-db")
    folder = provisioning.folder
    yield provisioning
    shutil.rmtree(folder, ignore_errors=True)


def _run(
    capsys: pytest.CaptureFixture[str], state: ProvisioningState, *argv: str
) -> tuple[int, str]:
    code = main(["--state", str(state.folder), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _device_row(platform: Platform, device: str) -> tuple[str, str, bool] | None:
    with platform.engine.connect() as conn:
        row = conn.execute(
            select(devices.c.site_id, devices.c.role, devices.c.revoked).where(
                devices.c.id == device
            )
        ).first()
    return None if row is None else (row.site_id, row.role, bool(row.revoked))


def _nothing_left(state: ProvisioningState, platform: Platform, device: str) -> None:
    """Neither side knows the device: no record, no bundle, no broker account, no row."""
    registry = state.load()
    assert registry.record(device) is None
    assert not (state.folder / "bundles" / device).exists()
    assert f"{device}:" not in (state.broker_folder / "passwd").read_text()
    assert f"user {device}\n" not in (state.broker_folder / "acl").read_text()
    assert _device_row(platform, device) is None


def _password(state: ProvisioningState, device: str) -> str:
    config = json.loads((state.folder / "bundles" / device / "config.json").read_text())
    return str(config["broker"]["password"])


def _gateway_password(state: ProvisioningState, gateway: str) -> str:
    for line in (state.folder / "bundles" / gateway / "gateway.toml").read_text().splitlines():
        if line.startswith("central_password = "):
            return str(json.loads(line.split(" = ", 1)[1]))
    raise AssertionError("no central_password")


def _scan(device: str, seq: int) -> wire.Scan:
    return wire.Scan(device, seq, wire.KIND_NDEF_URI, giai_uri(LAPTOP))


def _dead_letters(platform: Platform) -> list[tuple[str, str]]:
    with platform.engine.connect() as conn:
        rows = conn.execute(select(dead_letters.c.topic, dead_letters.c.reason)).all()
    return [(r.topic, r.reason) for r in rows]


def _wait_dead_letter(platform: Platform, topic: str, reason: str) -> None:
    deadline = time.monotonic() + 15
    while (topic, reason) not in _dead_letters(platform):
        assert time.monotonic() < deadline, _dead_letters(platform)
        time.sleep(0.05)


# ------------------------------------------------------------------ end to end


def test_enrolled_reader_is_acked_by_the_real_ingest_then_refused_once_revoked(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    device = "cp-hdv-comptoir-2"
    code, out = _run(
        capsys, state, "reader", "enroll", device, "--site", SITE, "--role", "counter",
        "--database-url", platform.url,
    )  # fmt: skip
    assert code == 0, out
    assert f"Inscrit au registre de la plateforme : {device}, site {SITE}, rôle counter" in out
    assert _device_row(platform, device) == (SITE, "counter", False)
    # The gap this closes: a reader enrolled on the broker only is unknown to the server.
    assert _run(capsys, state, "reader", "enroll", "hors-registre", "--site", SITE)[0] == 0
    code, out = _run(
        capsys, state, "gateway", "enroll", "gw-hdv", "--site", SITE, "--database-url", platform.url
    )
    assert code == 0 and _device_row(platform, "gw-hdv") == (SITE, "gateway", False), out

    broker = GeneratedBroker(state).start()
    platform_password = json.loads((state.folder / "platform-credentials.json").read_text())
    ingest = IngestService(
        IngestPipeline(platform.engine, Registry(ttl_s=0.0), IngestOptions()),
        BrokerAddress(
            "127.0.0.1",
            broker.plain_port,
            tls=False,
            username=PLATFORM_USER,
            password=platform_password["password"],
        ),
        client_id="server-provisioning-test",
    )
    ingest.start(wait_s=10)
    try:
        assert ingest.connected.is_set(), ingest.last_error
        own = wire.topic(SITE, device, "scan")
        with broker.probe(device, _password(state, device)) as reader:
            reader.subscribe(wire.topic(SITE, device, "ack"))
            scan = _scan(device, 1)
            assert reader.publish(own, wire.encode_scan(scan)).value in (0, 16)
            ack = wire.decode_ack(reader.next_message(timeout=15).payload)
        assert (ack.seq, ack.key, ack.result) == (1, scan.key, wire.RESULT_ACCEPTED)
        with platform.engine.connect() as conn:
            seen = conn.execute(select(sightings.c.device_id, sightings.c.result)).all()
        assert [(r.device_id, r.result) for r in seen] == [(device, wire.RESULT_ACCEPTED)]

        stranger = wire.topic(SITE, "hors-registre", "scan")
        with broker.probe("hors-registre", _password(state, "hors-registre")) as other:
            other.publish(stranger, wire.encode_scan(_scan("hors-registre", 1)))
        _wait_dead_letter(platform, stranger, "unknown_device")

        code, out = _run(capsys, state, "reader", "revoke", device, "--database-url", platform.url)
        assert code == 0 and "Marqué révoqué dans le registre de la plateforme" in out, out
        assert _device_row(platform, device) == (SITE, "counter", True)
        broker.reload()
        # The broker refuses the reader itself …
        refused = broker.probe(device, _password(state, device))
        try:
            assert refused.connect().is_failure
        finally:
            refused.client.loop_stop()
        # … and the registry refuses its scans even relayed by its site's gateway.
        with broker.probe("gw-hdv", _gateway_password(state, "gw-hdv")) as gateway:
            gateway.subscribe(wire.topic(SITE, device, "ack"))
            assert gateway.publish(own, wire.encode_scan(_scan(device, 2))).value == 0
            _wait_dead_letter(platform, own, "unknown_device")
            with pytest.raises(queue.Empty):
                gateway.next_message(timeout=1.0)  # no ack for a revoked reader
    finally:
        ingest.stop()
        broker.stop()


# ------------------------------------------------------------------ refusals


def test_unknown_site_is_refused_in_french_and_nothing_is_left(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    for group, extra in (("reader", ["--role", "dock"]), ("gateway", [])):
        code, out = _run(
            capsys, state, group, "enroll", "appareil-1", "--site", "site-inconnu", *extra,
            "--database-url", platform.url,
        )  # fmt: skip
        assert code == 1
        assert "le site « site-inconnu » n'existe pas dans le registre de la plateforme" in out
        assert "rien n'a été fait" in out
        _nothing_left(state, platform, "appareil-1")


def test_reader_role_is_required_with_a_database(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(
        capsys, state, "reader", "enroll", "lecteur-1", "--site", SITE, "--database-url",
        platform.url,
    )  # fmt: skip
    assert code == 1 and "--role est requis" in out and "counter, dock" in out
    _nothing_left(state, platform, "lecteur-1")


def test_device_already_in_the_platform_registry_is_refused(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    with platform.engine.begin() as conn:
        add_device(conn, Device("lecteur-1", SITE, "counter", None, True))
    code, out = _run(
        capsys, state, "reader", "enroll", "lecteur-1", "--site", SITE, "--role", "counter",
        "--database-url", platform.url,
    )  # fmt: skip
    assert code == 1
    assert "« lecteur-1 » existe déjà dans le registre de la plateforme" in out
    assert "révoqué" in out
    assert state.load().record("lecteur-1") is None
    assert not (state.folder / "bundles/lecteur-1").exists()


def test_id_taken_in_the_provisioning_state_leaves_the_platform_registry_alone(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, state, "gateway", "enroll", "gw-1", "--site", SITE)[0] == 0
    code, out = _run(
        capsys, state, "reader", "enroll", "gw-1", "--site", SITE, "--role", "dock",
        "--database-url", platform.url,
    )  # fmt: skip
    assert code == 1 and "existe déjà (passerelle" in out
    assert _device_row(platform, "gw-1") is None


def test_unreachable_database_refuses_before_anything(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg://reemploi:x@127.0.0.1:{free_port()}/reemploi"
    code, out = _run(
        capsys, state, "gateway", "enroll", "gw-1", "--site", SITE, "--database-url", url
    )
    assert code == 1 and "registre de la plateforme inaccessible" in out
    assert "rien n'a été fait" in out
    _nothing_left(state, platform, "gw-1")


def test_database_url_from_the_environment(
    state: ProvisioningState,
    platform: Platform,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REEMPLOI_DATABASE_URL", platform.url)
    assert _run(capsys, state, "gateway", "enroll", "gw-1", "--site", SITE)[0] == 0
    assert _device_row(platform, "gw-1") == (SITE, "gateway", False)
    code, out = _run(capsys, state, "gateway", "revoke", "gw-1")
    assert code == 0 and "Marqué révoqué" in out
    assert _device_row(platform, "gw-1") == (SITE, "gateway", True)


# ------------------------------------------------------------------ both or nothing


def test_state_write_failure_rolls_the_registration_back(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = state.folder / "bundles" / "lecteur-1"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("un fichier là où le paquet doit aller")  # the bundle cannot be written
    argv = ["reader", "enroll", "lecteur-1", "--site", SITE, "--role", "dock"]
    code, out = _run(capsys, state, *argv, "--database-url", platform.url)
    assert code == 1, out
    assert state.load().record("lecteur-1") is None
    assert "lecteur-1:" not in (state.broker_folder / "passwd").read_text()
    assert _device_row(platform, "lecteur-1") is None
    blocker.unlink()
    code, out = _run(capsys, state, *argv, "--database-url", platform.url)
    assert code == 0 and _device_row(platform, "lecteur-1") == (SITE, "dock", False), out


def _refuse_commits_of(platform: Platform, when: str) -> None:
    """A real SQLite commit failure: the trigger leaves a deferred foreign-key violation
    that SQLite reports only at COMMIT (the statement itself succeeds)."""
    with platform.engine.begin() as conn:
        conn.execute(text("CREATE TABLE commit_guard_parent (y TEXT PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE commit_guard (x TEXT REFERENCES commit_guard_parent(y) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER refuse_commit AFTER {when} ON devices "
                "BEGIN INSERT INTO commit_guard VALUES ('refusé'); END"
            )
        )


def _allow_commits(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_commit"))
        conn.execute(text("DROP TABLE commit_guard"))
        conn.execute(text("DROP TABLE commit_guard_parent"))


def test_registry_commit_failure_undoes_the_enrolment(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, state, "reader", "enroll", "lecteur-0", "--site", SITE)[0] == 0
    _refuse_commits_of(platform, "INSERT")
    argv = ["gateway", "enroll", "gw-1", "--site", SITE, "--database-url", platform.url]
    code, out = _run(capsys, state, *argv)
    assert code == 1
    assert "inscription de « gw-1 » au registre de la plateforme impossible" in out
    assert "FOREIGN KEY constraint failed" in out and "enrôlement annulé" in out
    _nothing_left(state, platform, "gw-1")
    assert state.load().record("lecteur-0") is not None  # the others are untouched
    assert "lecteur-0:" in (state.broker_folder / "passwd").read_text()
    _allow_commits(platform)
    code, out = _run(capsys, state, *argv)  # nothing half-done blocks a second try
    assert code == 0 and _device_row(platform, "gw-1") == (SITE, "gateway", False), out


def test_revocation_commit_failure_is_reported_and_the_same_command_finishes_it(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["reader", "enroll", "lecteur-1", "--site", SITE, "--role", "shop"]
    assert _run(capsys, state, *argv, "--database-url", platform.url)[0] == 0
    _refuse_commits_of(platform, "UPDATE")
    revoke = ["reader", "revoke", "lecteur-1", "--database-url", platform.url]
    code, out = _run(capsys, state, *revoke)
    assert code == 1
    assert "« lecteur-1 » est révoqué sur le broker mais PAS dans le registre" in out
    assert "relancez la même commande pour terminer" in out
    # A stolen reader stays cut off from the broker; the registry still lists it active.
    assert state.load().readers["lecteur-1"].state == "revoked"
    assert "lecteur-1:" not in (state.broker_folder / "passwd").read_text()
    assert _device_row(platform, "lecteur-1") == (SITE, "shop", False)
    _allow_commits(platform)
    code, out = _run(capsys, state, *revoke)
    assert code == 0 and "était déjà révoqué sur le broker" in out
    assert "Marqué révoqué dans le registre de la plateforme" in out
    assert _device_row(platform, "lecteur-1") == (SITE, "shop", True)
    code, out = _run(capsys, state, *revoke)
    assert code == 1 and "rien à faire" in out


def test_registry_refusing_the_update_leaves_the_broker_untouched(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["gateway", "enroll", "gw-1", "--site", SITE, "--database-url", platform.url]
    assert _run(capsys, state, *argv)[0] == 0
    with platform.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_update BEFORE UPDATE ON devices "
                "BEGIN SELECT RAISE(ABORT, 'registre en lecture seule'); END"
            )
        )
    code, out = _run(capsys, state, "gateway", "revoke", "gw-1", "--database-url", platform.url)
    assert code == 1 and "registre en lecture seule" in out
    assert "n'a été révoqué nulle part" in out
    assert state.load().gateways["gw-1"].state == "active"
    assert "gw-1:" in (state.broker_folder / "passwd").read_text()
    assert _device_row(platform, "gw-1") == (SITE, "gateway", False)


def test_revoking_a_device_the_registry_never_knew(
    state: ProvisioningState, platform: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, state, "reader", "enroll", "lecteur-1", "--site", SITE)[0] == 0
    code, out = _run(capsys, state, "reader", "revoke", "lecteur-1", "--database-url", platform.url)
    assert code == 0 and "Lecteur lecteur-1 révoqué" in out
    assert "Absent du registre de la plateforme" in out
    assert state.load().readers["lecteur-1"].state == "revoked"
    assert _device_row(platform, "lecteur-1") is None
