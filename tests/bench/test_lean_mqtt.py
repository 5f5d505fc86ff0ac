"""bench/_lean_mqtt: the simulated readers' MQTT client (the firmware's codec, the bench's
sockets) — a stream split into packets, and a reader's whole life against a real
Mosquitto (connect, subscribe, publish at QoS 1, a message forwarded and acknowledged,
keep-alive, disconnect)."""

from __future__ import annotations

import select
import time

import paho.mqtt.client as mqtt
import pytest
from _lean_mqtt import (
    Frames,
    LeanClient,
    MqttError,
    MqttProtocolError,
    packets,
    publish_packet,
)
from support.mosquitto import Mosquitto, MosquittoSettings

from reemploi.server.ingest.mqtt import BrokerAddress, make_client


def test_frames_cut_anywhere_come_out_whole_and_in_order() -> None:
    big = b"x" * 300  # a two-byte remaining length
    stream = publish_packet("t/a", b"hello", 7) + packets.puback(9) + publish_packet("t/b", big, 8)
    kinds = [packets.PUBLISH, packets.PUBACK, packets.PUBLISH]
    for cut in range(1, len(stream)):
        frames = Frames()
        got = [packets.parse(*f) for f in frames.feed(stream[:cut]) + frames.feed(stream[cut:])]
        assert [p[0] for p in got] == kinds, cut
        assert (got[0][1], got[0][2], got[0][4]) == ("t/a", b"hello", 7)
        assert got[1] == (packets.PUBACK, 9)
        assert (got[2][1], got[2][2], got[2][4]) == ("t/b", big, 8)
    frames = Frames()  # one byte at a time: each packet comes out once, when it is whole
    pieces = [frames.feed(bytes([b])) for b in stream]
    whole = [i for i, got in enumerate(pieces) if got]
    assert [first >> 4 for got in pieces for first, _ in got] == kinds
    assert whole == [13, 17, len(stream) - 1]  # the last byte of each packet


def test_a_malformed_or_oversized_length_is_an_error() -> None:
    with pytest.raises(MqttProtocolError, match="longer than 4 bytes"):
        Frames().feed(b"\x30\xff\xff\xff\xff\x01")
    oversized = packets.MAX_PACKET + 1  # two length bytes: 0x81, then the rest
    assert oversized < 128 * 128
    with pytest.raises(MqttProtocolError, match="too large"):
        Frames().feed(b"\x30" + bytes([oversized & 0x7F | 0x80, oversized >> 7]))


def _pump(client: LeanClient, until: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not until():  # type: ignore[operator]
        assert time.monotonic() < deadline, "rien reçu à temps"
        ready, _, _ = select.select([client.fileno()], [], [], 0.05)
        if ready:
            client.read()


def test_a_reader_connects_subscribes_publishes_and_is_forwarded_its_acks() -> None:
    with Mosquitto() as broker:
        received: list[bytes] = []
        reader = LeanClient(broker.host, broker.port, "lean-reader", received.append, 60)
        reader.open("site/dev/ack")
        # the system's side: a paho client that reads the scans and answers on the ack topic
        seen: list[mqtt.MQTTMessage] = []
        system = make_client(BrokerAddress(broker.host, broker.port, False), "lean-system")
        system.on_message = lambda _c, _u, msg: seen.append(msg)
        system.connect(broker.host, broker.port)
        system.subscribe("site/dev/scan", qos=1)
        system.loop_start()
        try:
            time.sleep(0.3)  # the subscription in place
            for i in range(1, 4):
                reader.publish(publish_packet("site/dev/scan", b"scan-%d" % i, reader.packet_id()))
            assert reader.unacked == 3
            _pump(reader, lambda: reader.unacked == 0)  # the broker's PUBACKs, counted
            deadline = time.monotonic() + 5
            while len(seen) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert [m.payload for m in seen] == [b"scan-1", b"scan-2", b"scan-3"]
            assert all(m.qos == 1 for m in seen)
            for i in range(1, 4):
                system.publish("site/dev/ack", b"ack-%d" % i, qos=1).wait_for_publish(5)
            _pump(reader, lambda: len(received) == 3)
            assert received == [b"ack-1", b"ack-2", b"ack-3"]
            # every forwarded QoS 1 message was acknowledged: the broker holds none for us
            reader.keepalive(time.monotonic() + 3600)  # a ping goes out and is answered
            _pump(reader, lambda: not reader.pending, 1.0)
        finally:
            system.loop_stop()
            system.disconnect()
            reader.close()
        assert reader.sock is None


def test_a_refused_connection_says_so_and_a_password_is_sent() -> None:
    settings = MosquittoSettings(allow_anonymous=False, passwords={"lecteur": "s3cret-lean"})
    with Mosquitto(settings) as broker:
        anonymous = LeanClient(broker.host, broker.port, "lean-anon", lambda _p: None, 60)
        with pytest.raises(MqttError, match="connexion refusée"):
            anonymous.open("site/dev/ack")
        anonymous.close()
        wrong = LeanClient(
            broker.host, broker.port, "lean-wrong", lambda _p: None, 60, "lecteur", "non"
        )
        with pytest.raises(MqttError, match="connexion refusée"):
            wrong.open("site/dev/ack")
        wrong.close()
        known = LeanClient(
            broker.host, broker.port, "lean-known", lambda _p: None, 60, "lecteur", "s3cret-lean"
        )
        known.open("site/dev/ack")
        known.close()


def test_a_broker_gone_mid_run_is_an_error() -> None:
    with Mosquitto() as broker:
        reader = LeanClient(broker.host, broker.port, "lean-orphan", lambda _p: None, 60)
        reader.open("site/dev/ack")
        broker.stop()
        with pytest.raises(MqttError, match=r"fermée|perdue"):
            _pump(reader, lambda: False)
        reader.close()
