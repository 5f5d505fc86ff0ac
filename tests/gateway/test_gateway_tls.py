"""TLS to the central broker with a CA, server and client certificates made by the test:
the gateway logs in with its certificate (no password) and forwards; with a wrong CA it
refuses the broker, says why, keeps everything, and a reload with the right CA fixes it."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from gateway_harness import GATEWAY, GatewayProcess, LedgerRecorder, publish_readers, reader_scans
from support.services import Mosquitto, MosquittoSettings, MosquittoTls
from support.tls_files import Pki, make_pki

from reemploi.gateway.central_link import ALARM_CENTRAL_TLS


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki", client_cn=GATEWAY)


@pytest.fixture
def central(make_mosquitto: Callable[[MosquittoSettings], Mosquitto], pki: Pki) -> Mosquitto:
    """Plain listener for the recorder; TLS listener requiring a client certificate whose
    CN becomes the MQTT user name."""
    tls = MosquittoTls(
        pki.ca, pki.server_cert, pki.server_key,
        require_certificate=True, use_identity_as_username=True,
    )  # fmt: skip
    return make_mosquitto(MosquittoSettings(tls=tls, persistence=True, max_queued_messages=0))


def tls_settings(path: Path, cafile: Path, pki: Pki) -> Path:
    path.write_text(
        "central_tls = true\n"
        f'central_cafile = "{cafile}"\n'
        f'central_certfile = "{pki.client_cert}"\n'
        f'central_keyfile = "{pki.client_key}"\n'
    )
    return path


def tls_gateway(
    tmp_path: Path, local: Mosquitto, central: Mosquitto, config: Path
) -> GatewayProcess:
    assert central.tls_port is not None
    return GatewayProcess(
        tmp_path / "gw",
        local.port,
        central.tls_port,
        config_file=str(config),
        central_password=None,  # the certificate is the identity
        central_tls=None,
    )


def test_gateway_forwards_over_tls_with_its_client_certificate(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
    central: Mosquitto,
    pki: Pki,
    tmp_path: Path,
) -> None:
    local = make_mosquitto(MosquittoSettings(persistence=True))
    recorder = LedgerRecorder(central.host, central.port).start()
    config = tls_settings(tmp_path / "gateway.toml", pki.ca, pki)
    gateway = tls_gateway(tmp_path, local, central, config).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        scans = {"reader-a": reader_scans("reader-a", 50)}
        publish_readers(local.host, local.port, scans)
        assert recorder.wait_for(50, timeout=20)
        assert recorder.seqs("reader-a") == list(range(50))
        log = central.log_path.read_text(errors="replace")
        assert f"as {GATEWAY} (p5" in log and f"u'{GATEWAY}'" in log, "certificate CN as user"
        doctor = gateway.cli("doctor")
        assert "[OK] identité au broker central / central broker login: acceptée" in doctor.stdout
    finally:
        gateway.stop()
        recorder.stop()


def test_wrong_ca_is_refused_and_reported_then_fixed_by_reload(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
    central: Mosquitto,
    pki: Pki,
    tmp_path: Path,
) -> None:
    other = make_pki(tmp_path / "other-pki", client_cn=GATEWAY, ca_name="Not our CA")
    local = make_mosquitto(MosquittoSettings(persistence=True, max_queued_messages=0))
    recorder = LedgerRecorder(central.host, central.port).start()
    config = tls_settings(tmp_path / "gateway.toml", other.ca, pki)  # the wrong CA
    gateway = tls_gateway(tmp_path, local, central, config).start()
    try:
        refused = gateway.wait_health(lambda h: ALARM_CENTRAL_TLS in h["alarms"])
        assert refused["link"] == "down"
        reason = str(refused["central_error"])
        assert reason.startswith("certificat du broker central non vérifié")
        assert "central_cafile" in reason

        scans = {"reader-a": reader_scans("reader-a", 30)}
        publish_readers(local.host, local.port, scans)
        gateway.wait_health(lambda h: h["queue"] == 30)
        status = gateway.cli("status")
        assert status.returncode == 1
        assert "ALARME : TLS refusé avec le broker central (certificat)" in status.stdout
        doctor = gateway.cli("doctor")
        assert doctor.returncode == 1
        assert "[ÉCHEC/FAIL] identité au broker central / central broker login: certificat du " \
               "broker central non vérifié" in doctor.stdout  # fmt: skip

        tls_settings(config, pki.ca, pki)
        gateway.signal(signal.SIGHUP)
        assert recorder.wait_for(30, timeout=30), f"{recorder.distinct()} of 30"
        assert recorder.seqs("reader-a") == list(range(30))
        after = gateway.wait_health(lambda h: h["link"] == "up" and h["queue"] == 0)
        assert after["alarms"] == [] and after["central_error"] is None
    finally:
        gateway.stop()
        recorder.stop()
