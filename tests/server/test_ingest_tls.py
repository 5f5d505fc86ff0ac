"""The ingest's one-thread loop over TLS (a real Mosquitto TLS listener, certificates made
by the test): the broker's bytes arrive decrypted in buffers ``select`` cannot see, and
none of them may wait for the next packet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from server_reader import TestReader
from server_world import COUNTER, LAPTOP_URI, World, start_ingest
from support.services import Mosquitto, MosquittoSettings, MosquittoTls
from support.tls_files import make_pki

from reemploi.protocol import wire


@pytest.mark.parametrize("writer", ["hybrid", "local"])
def test_ingest_over_tls_acks_every_scan_once(
    world: World,
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
    tmp_path: Path,
    writer: str,
) -> None:
    pki = make_pki(tmp_path / "pki", client_cn="unused")
    broker = make_mosquitto(
        MosquittoSettings(
            tls=MosquittoTls(pki.ca, pki.server_cert, pki.server_key), max_queued_messages=0
        )
    )
    assert broker.tls_port is not None
    service = start_ingest(
        world.engine, broker.host, broker.tls_port, writer, local_max=4, ca_file=str(pki.ca)
    )
    reader = TestReader(broker.host, broker.port, *COUNTER)  # the reader on the plain port
    try:
        reader.tap(1, wire.KIND_NDEF_URI, LAPTOP_URI)
        assert reader.next_ack().result == wire.RESULT_ACCEPTED
        for seq in range(2, 302):  # a burst: many records in one TLS read
            reader.tap(seq, wire.KIND_NFC_UID, f"04{seq:06X}")
        acks = [reader.next_ack(timeout=30) for _ in range(300)]
        assert sorted(ack.seq for ack in acks) == list(range(2, 302))
        assert all(ack.result == wire.RESULT_UNKNOWN_TAG for ack in acks)
        assert reader.no_ack(wait=1.0)
        assert service.wait_idle(10) and service.processed == service.received == 301
    finally:
        reader.close()
        service.stop()
