"""Broker restart during ingest: readers keep publishing QoS 1 scans while Mosquitto
restarts; every scan ends up in the ledger exactly once and is acked."""

from __future__ import annotations

import threading
import time

from server_world import World, start_ingest
from sqlalchemy import func, select

from reemploi.protocol import wire
from reemploi.server.db.tables import sightings
from reemploi.server.demo.readers import SequenceStore, SimulatedReader
from reemploi.server.ingest.mqtt import BrokerAddress


def test_broker_restart_loses_no_scan_and_records_none_twice(
    world: World,
    fresh_mosquitto,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    broker = fresh_mosquitto
    service = start_ingest(world.engine, broker.host, broker.port)
    address = BrokerAddress(broker.host, broker.port, tls=False)
    sequences = SequenceStore(tmp_path / "seq.json")
    acked: dict[str, set[int]] = {}
    lock = threading.Lock()

    def on_ack(device: str, ack: wire.Ack) -> None:
        with lock:
            acked.setdefault(device, set()).add(ack.seq)

    readers = [
        SimulatedReader(device, site, address, sequences, on_ack)
        for site, device in (
            ("cp-grenoble-hdv", "cp-grenoble-hdv-comptoir"),
            ("cp-smh-campus", "cp-smh-campus-comptoir"),
            ("tri-sassenage", "tri-sassenage-quai"),
        )
    ]
    for reader in readers:
        reader.start()
    time.sleep(0.5)
    per_reader = 300
    try:
        for i in range(per_reader):
            for reader in readers:
                reader.tap(wire.KIND_NFC_UID, f"{0xA0000000 + i:08X}")
            if i == per_reader // 3:
                broker.restart()
            time.sleep(0.002)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                done = sum(len(s) for s in acked.values())
            if done >= per_reader * len(readers):
                break
            time.sleep(0.1)
    finally:
        for reader in readers:
            reader.client.loop_stop()
        service.stop()
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(
                sightings.c.device_id, func.count(), func.count(func.distinct(sightings.c.seq))
            ).group_by(sightings.c.device_id)
        ).all()
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        reader.device: (per_reader, per_reader) for reader in readers
    }
    assert {d: len(s) for d, s in acked.items()} == {r.device: per_reader for r in readers}
