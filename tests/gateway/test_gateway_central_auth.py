"""The central broker refuses the gateway's credentials: the reason shows in health and
`status` (French first), scans wait on disk, and a corrected settings file applied with
SIGHUP (reload) lets everything through, once, in order. A broken file is refused."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from gateway_harness import (
    GATEWAY,
    GatewayProcess,
    LedgerRecorder,
    publish_readers,
    reader_scans,
)
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.central_link import ALARM_CENTRAL_AUTH, connack_problem

RIGHT = "le-bon-secret"
CENTRAL = MosquittoSettings(
    allow_anonymous=False,
    passwords={GATEWAY: RIGHT, "recorder": "recorder-secret"},
    persistence=True,
    max_queued_messages=0,
)


def settings_file(path: Path, password: str) -> Path:
    path.write_text(f'central_password = "{password}"\n')
    return path


def test_refused_connack_reason_codes_read_in_french_first() -> None:
    problem = connack_problem(0x86)
    assert problem.alarm == ALARM_CENTRAL_AUTH
    assert problem.text.startswith("le broker central refuse la connexion : nom d'utilisateur")
    assert "bad user name or password" in problem.text
    assert connack_problem(0x87).alarm == ALARM_CENTRAL_AUTH
    busy = connack_problem(0x89)
    assert busy.alarm is None and busy.text.startswith("broker central : broker central surchargé")


def test_refused_credentials_are_visible_nothing_is_lost_and_a_reload_fixes_them(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto], tmp_path: Path
) -> None:
    local = make_mosquitto(MosquittoSettings(persistence=True, max_queued_messages=0))
    central = make_mosquitto(CENTRAL)
    recorder = LedgerRecorder(central.host, central.port, "recorder", "recorder-secret").start()
    config = settings_file(tmp_path / "gateway.toml", "un-mauvais-secret")
    gateway = GatewayProcess(
        tmp_path / "gw", local.port, central.port, config_file=str(config), central_password=None
    ).start()
    try:
        refused = gateway.wait_health(lambda h: ALARM_CENTRAL_AUTH in h["alarms"])
        assert refused["link"] == "down"
        reason = str(refused["central_error"])
        assert reason.startswith("le broker central refuse la connexion")
        assert "0x86" in reason or "0x87" in reason

        scans = {"reader-a": reader_scans("reader-a", 40), "reader-b": reader_scans("reader-b", 40)}
        publish_readers(local.host, local.port, scans)
        waiting = gateway.wait_health(lambda h: h["queue"] == 80)
        assert waiting["delivered"] == 0 and waiting["drops"] == 0
        status = gateway.cli("status")
        assert status.returncode == 1
        assert "le broker central refuse la connexion" in status.stdout
        assert "ALARME : le broker central refuse l'identité de la passerelle" in status.stdout

        config.write_text("central_password = \n")  # a typo: refused, nothing changes
        gateway.signal(signal.SIGHUP)
        broken = gateway.wait_health(lambda h: "reload_refused" in h["alarms"])
        assert str(broken["reload_error"]).startswith("rechargement refusé")
        assert broken["queue"] == 80

        settings_file(config, RIGHT)
        gateway.signal(signal.SIGHUP)
        assert recorder.wait_for(80, timeout=30), f"{recorder.distinct()} of 80"
        after = gateway.wait_health(lambda h: h["queue"] == 0 and h["link"] == "up")
        assert after["central_error"] is None and after["alarms"] == []
        assert after["reloads"] == 1 and after["delivered"] == 80
        assert recorder.keys == {s.key for batch in scans.values() for s in batch}
        for device, batch in scans.items():
            assert recorder.seqs(device) == [s.seq for s in batch]
    finally:
        gateway.stop()
        recorder.stop()
