"""`reemploi-gateway doctor`, run as a program: every check's line, French first, and its
exit code, with everything in order, then with each thing broken in turn."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gateway_harness import GATEWAY, GatewayProcess
from gpsd_feed import Gpsd, NmeaFeed
from lot_recordings import EDDYSTONE, recording
from support.lifecycle import running
from support.services import Mosquitto, MosquittoSettings

RIGHT = "doctor-secret"


def lines(output: str) -> dict[str, str]:
    """``{check name: "[OK] …" line}`` from doctor's output."""
    found = {}
    for line in output.splitlines():
        status, _, rest = line.partition("] ")
        name = rest.split(":", 1)[0]
        found[name] = f"{status}] {rest}"
    return found


@pytest.fixture
def gpsd() -> Iterator[Gpsd]:
    feed = NmeaFeed("3d")
    try:
        yield from running(lambda: Gpsd(feed))
    finally:
        feed.close()


def test_doctor_reports_each_check_and_fails_on_each_broken_one(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto], gpsd: Gpsd, tmp_path: Path
) -> None:
    local = make_mosquitto(MosquittoSettings())
    central = make_mosquitto(MosquittoSettings(allow_anonymous=False, passwords={GATEWAY: RIGHT}))
    replay = recording(tmp_path / "ads.jsonl", EDDYSTONE)
    doctor = GatewayProcess(
        tmp_path / "gw",
        local.port,
        central.port,
        central_password=RIGHT,
        gpsd_host="127.0.0.1",
        gpsd_port=str(gpsd.port),
        ble_enabled="true",
        ble_eddystone_namespaces=json.dumps(["52454D504C4F49000001"]),
        ble_replay_file=str(replay),
    )

    healthy = doctor.cli("doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    got = lines(healthy.stdout)
    assert (
        got["dossier d'état / state dir"] == f"[OK] dossier d'état / state dir: {tmp_path / 'gw'}"
    )
    assert got["file d'attente / outbox"] == "[OK] file d'attente / outbox: 0 en attente / queued"
    assert (
        got["broker local / local broker"]
        == f"[OK] broker local / local broker: 127.0.0.1:{local.port}"
    )
    assert got["broker central / central broker"].startswith("[OK]")
    assert got["identité au broker central / central broker login"] == (
        f"[OK] identité au broker central / central broker login: acceptée / accepted ({GATEWAY})"
    )
    assert got["lecteur MFRC522 / MFRC522 reader"] == (
        "[OK] lecteur MFRC522 / MFRC522 reader: non configuré / not configured (pi_reader_device)"
    )
    assert got["bleak (BLE)"] == "[OK] bleak (BLE): importable"
    assert got["enregistrement BLE / BLE recording"].endswith(": 18 annonces / ads")
    assert got["gpsd"].startswith(f'[OK] gpsd: 127.0.0.1:{gpsd.port}: {{"class":"VERSION"')
    assert len(got) == 9

    doctor.env["REEMPLOI_GATEWAY_CENTRAL_PASSWORD"] = "wrong"
    doctor.env["REEMPLOI_GATEWAY_PI_READER_DEVICE"] = "pi-lecteur-1"
    broken = doctor.cli("doctor")
    assert broken.returncode == 1
    got = lines(broken.stdout)
    assert got["identité au broker central / central broker login"].startswith(
        "[ÉCHEC/FAIL] identité au broker central / central broker login: "
        "le broker central refuse la connexion : "
    )
    assert got["lecteur MFRC522 / MFRC522 reader"].startswith(
        "[ÉCHEC/FAIL] lecteur MFRC522 / MFRC522 reader: paquet mfrc522 absent (pip install mfrc522)"
    )
    assert got["broker local / local broker"].startswith("[OK]")

    local.stop()
    gpsd.close()
    down = doctor.cli("doctor")
    assert down.returncode == 1
    got = lines(down.stdout)
    assert got["broker local / local broker"].startswith(
        f"[ÉCHEC/FAIL] broker local / local broker: 127.0.0.1:{local.port}: "
    )
    assert "refused" in got["broker local / local broker"]
    assert got["gpsd"].startswith("[ÉCHEC/FAIL] gpsd")

    doctor.env.pop("REEMPLOI_GATEWAY_CENTRAL_HOST")
    unconfigured = doctor.cli("doctor")
    assert unconfigured.returncode == 2
    assert "configuration invalide / invalid configuration" in unconfigured.stderr
    assert "central_host" in unconfigured.stderr
