"""A full outbox, then a really full disk: new reader messages stay on the local broker
(unacknowledged), what was queued is kept, the alarm shows in health and `status`, and
everything arrives once, in per-device order, when room comes back."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gateway_harness import GatewayProcess, LedgerRecorder, publish_readers, reader_scans
from support.services import Mosquitto, MosquittoSettings

from reemploi.gateway.outbox import (
    ALARM_OUTBOX_FULL,
    ALARM_OUTBOX_HIGH,
    DEFER_DISK,
    Entry,
    Outbox,
)

BROKER = MosquittoSettings(persistence=True, max_queued_messages=0)


def assert_all_once_in_order(recorder: LedgerRecorder, scans: dict[str, list]) -> None:
    assert recorder.malformed == 0
    assert recorder.keys == {s.key for batch in scans.values() for s in batch}
    for device, batch in scans.items():
        assert recorder.seqs(device) == [s.seq for s in batch], f"{device}: order"


@pytest.fixture
def brokers(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> tuple[Mosquitto, Mosquitto]:
    return make_mosquitto(BROKER), make_mosquitto(BROKER)


def test_outbox_defers_until_drained_below_high_water() -> None:
    box = Outbox(max_bytes=1000, window=10)
    for i in range(1, 11):
        box.accept(Entry(i, 0.0, 100), now=0.0)
    assert not box.fits(1)
    box.defer_local()
    assert box.deferring and ALARM_OUTBOX_FULL in box.alarms()
    box.link_changed(True, 1.0)
    for mid, entry in enumerate(box.next_batch(1.0), start=1):
        box.sent(entry.id, mid)
    box.acked(1)
    assert not box.resume_due(), "high water is 800 bytes: 900 still queued"
    box.acked(2)
    assert box.resume_due()
    box.resumed()
    assert box.alarms() == [ALARM_OUTBOX_HIGH]  # 800 bytes: nearly full, no longer full
    assert box.counters.deferred == 1 and box.counters.drops == 0

    box.defer_local(3, DEFER_DISK)  # the disk refused: retried by the bridge's timer
    box.defer_local()  # a later budget refusal does not turn it into a budget stop
    assert box.deferring == DEFER_DISK and not box.resume_due()
    assert ALARM_OUTBOX_FULL not in box.alarms()


def test_budget_reached_defers_new_scans_on_the_local_broker_then_recovers(
    brokers: tuple[Mosquitto, Mosquitto], tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    central.stop()
    gateway = GatewayProcess(
        tmp_path / "gw", local.port, central.port, outbox_max_bytes="12000"
    ).start()
    try:
        gateway.wait_health(lambda h: h["local_link"] == "up")
        scans = {d: reader_scans(d, 60) for d in ("reader-a", "reader-b")}
        publish_readers(local.host, local.port, scans)  # the local broker took all 120
        full = gateway.wait_health(lambda h: "outbox_full" in h["alarms"] and h["deferred"] > 0)
        assert 0 < full["queue"] < 120 and full["outbox_bytes"] <= 12000
        assert full["drops"] == 0 and full["delivered"] == 0
        status = gateway.cli("status")
        assert status.returncode == 1
        assert "ALARME : file d'attente pleine" in status.stdout

        central.start()  # the queue drains, then the deferred scans come back, in order
        assert recorder.wait_for(120, timeout=30), f"{recorder.distinct()} of 120"
        after = gateway.wait_health(lambda h: h["queue"] == 0 and h["delivered"] >= 120)
        assert_all_once_in_order(recorder, scans)
        assert "outbox_full" not in after["alarms"] and after["deferring"] is None
        assert after["local_resumes"] >= 1 and after["drops"] == 0
    finally:
        gateway.stop()
        recorder.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a file system that really fills up (ENOSPC). Needs root."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"mount tmpfs impossible ici / not permitted here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Write until the file system says ENOSPC; returns the filler to delete later."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_real_enospc_keeps_queued_scans_defers_new_ones_and_recovers(
    brokers: tuple[Mosquitto, Mosquitto], tiny_disk: Path, tmp_path: Path
) -> None:
    local, central = brokers
    recorder = LedgerRecorder(central.host, central.port).start()
    central.stop()
    gateway = GatewayProcess(
        tiny_disk / "gw",
        local.port,
        central.port,
        health_file=str(tmp_path / "health.json"),  # on another file system, as in /run
        disk_retry_s="0.5",
    )
    gateway.log_path = tmp_path / "gateway.log"
    gateway.start()
    filler: Path | None = None
    try:
        gateway.wait_health(lambda h: h["local_link"] == "up")
        first = {"reader-a": reader_scans("reader-a", 30)}
        publish_readers(local.host, local.port, first)
        gateway.wait_health(lambda h: h["queue"] == 30)

        filler = fill(tiny_disk)
        second = {"reader-a": reader_scans("reader-a", 30, start=30)}
        publish_readers(local.host, local.port, second)
        full = gateway.wait_health(lambda h: "disk_full" in h["alarms"])
        assert full["queue"] == 30, "what was queued is still there"
        assert full["deferred"] >= 1 and full["drops"] == 0
        assert "full" in str(full["disk_error"])
        status = gateway.cli("status")
        assert status.returncode == 1 and "ALARME : disque plein" in status.stdout

        filler.unlink()
        filler = None
        freed = gateway.wait_health(lambda h: h["queue"] == 60)  # deferred ones taken back
        assert "disk_full" not in freed["alarms"] and freed["local_resumes"] >= 1

        central.start()
        assert recorder.wait_for(60, timeout=30), f"{recorder.distinct()} of 60"
        assert_all_once_in_order(recorder, {"reader-a": first["reader-a"] + second["reader-a"]})
    finally:
        if filler is not None:
            with contextlib.suppress(OSError):
                filler.unlink()
        gateway.stop()
        recorder.stop()
