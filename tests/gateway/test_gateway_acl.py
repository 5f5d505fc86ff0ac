"""The central broker refuses one reader's topic by ACL (MQTT 5 PUBACK 0x87): that scan is
held with every later scan of the same reader behind it (order), the alarm is raised,
other readers keep flowing; once the ACL is fixed, `replay --release-held` lets the held
reader's scans through, once and in order."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from gateway_harness import (
    GATEWAY,
    SITE,
    GatewayProcess,
    LedgerRecorder,
    publish_readers,
    reader_scans,
)
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.outbox import ALARM_REFUSED, Entry, Outbox

BAD = "reader-bad"
OK = "reader-ok"


def acl(allowed_readers: list[str]) -> str:
    lines = [
        f"user {GATEWAY}",
        f"topic readwrite reemploi/v1/{SITE}/{GATEWAY}/#",
        f"topic read reemploi/v1/{SITE}/+/ack",
        f"topic read reemploi/v1/{SITE}/+/cmd",
        *(f"topic write reemploi/v1/{SITE}/{reader}/#" for reader in allowed_readers),
        "",
        "user recorder",
        "topic read #",
    ]
    return "\n".join(lines) + "\n"


def test_a_held_stream_blocks_only_itself_in_the_pure_outbox() -> None:
    box = Outbox(max_bytes=10_000, window=10)
    for i, stream in enumerate(["a", "b", "a", "b", "a"], start=1):
        box.accept(Entry(i, 0.0, 100, stream), now=0.0)
    box.link_changed(True, 0.0)
    box.sent(1, 101)
    box.refused(101)  # stream a: entry 1 held
    assert [e.id for e in box.next_batch(0.0)] == [2, 4], "b flows, a waits behind 1"
    assert box.held_streams == ["a"] and ALARM_REFUSED in box.alarms()
    assert box.retry_held() == 1
    assert [e.id for e in box.next_batch(0.0)] == [1, 2, 3, 4, 5]


def test_acl_refusal_holds_the_device_in_order_until_release_held(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto], tmp_path: Path
) -> None:
    local = make_mosquitto(MosquittoSettings(persistence=True, max_queued_messages=0))
    central = make_mosquitto(
        MosquittoSettings(
            allow_anonymous=False,
            passwords={GATEWAY: "gw-secret", "recorder": "recorder-secret"},
            acl=acl([OK]),
            persistence=True,
        )
    )
    recorder = LedgerRecorder(central.host, central.port, "recorder", "recorder-secret").start()
    gateway = GatewayProcess(
        tmp_path / "gw",
        local.port,
        central.port,
        central_password="gw-secret",
        held_retry_s="3600",  # only the operator releases here
    ).start()
    try:
        gateway.wait_health(lambda h: h["link"] == "up" and h["local_link"] == "up")
        first_bad = reader_scans(BAD, 1)
        publish_readers(local.host, local.port, {BAD: first_bad, OK: reader_scans(OK, 10)})
        held = gateway.wait_health(lambda h: h["held"] == 1 and h["delivered"] == 10)
        assert ALARM_REFUSED in held["alarms"] and held["refused"] == 1
        assert held["held_topics"] == [f"reemploi/v1/{SITE}/{BAD}/scan"]
        assert held["last_refusal"] == f"reemploi/v1/{SITE}/{BAD}/scan: 0x87 Not authorized"

        later_bad = reader_scans(BAD, 4, start=1)
        publish_readers(
            local.host, local.port, {BAD: later_bad, OK: reader_scans(OK, 10, start=10)}
        )
        behind = gateway.wait_health(lambda h: h["delivered"] == 20 and h["queue"] == 5)
        assert behind["held"] == 1, "the later scans wait behind, they are not even sent"
        assert behind["refused"] == 1
        time.sleep(0.5)
        assert recorder.seqs(BAD) == [] and recorder.seqs(OK) == list(range(20))
        status = gateway.cli("status")
        assert status.returncode == 1
        assert "ALARME : le broker central refuse des messages (ACL ?)" in status.stdout
        assert f"retenu / held : reemploi/v1/{SITE}/{BAD}/scan" in status.stdout

        (central.folder / "acl").write_text(acl([OK, BAD]))  # the operator fixes the ACL
        assert central.pid is not None
        os.kill(central.pid, signal.SIGHUP)  # Mosquitto reloads its ACL file
        time.sleep(0.5)
        released = gateway.cli("replay", "--release-held")
        assert released.returncode == 0, released.stderr
        assert "1 message(s) retenu(s) remis en file" in released.stdout

        assert recorder.wait_for(25, timeout=20), f"{recorder.distinct()} of 25"
        after = gateway.wait_health(lambda h: h["queue"] == 0 and h["held"] == 0)
        assert recorder.seqs(BAD) == [0, 1, 2, 3, 4], "once, in the reader's order"
        assert ALARM_REFUSED not in after["alarms"] and after["held_retries"] == 1
        assert after["refused"] == 1 and after["delivered"] == 25
    finally:
        gateway.stop()
        recorder.stop()
