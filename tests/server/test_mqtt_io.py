"""The ingest's buffered paho client on a real Mosquitto: every message arrives whole and
in order, from far fewer socket reads than messages, including packets larger than one
read and across a broker restart."""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from support.services import MosquittoSettings

from reemploi.server.ingest.mqtt import BrokerAddress, make_client
from reemploi.server.ingest.mqtt_io import CHUNK, BufferedClient

TOPIC = "reemploi/v1/test-site/test-device/scan"


class Collector:
    def __init__(self, broker: Any, client_id: str) -> None:
        self.payloads: list[bytes] = []
        self.connected = threading.Event()
        self.lock = threading.Lock()
        self.client = make_client(
            BrokerAddress(broker.host, broker.port, False), client_id, BufferedClient
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10)

    def _on_connect(self, client: mqtt.Client, *_a: Any) -> None:
        client.subscribe(TOPIC, qos=1)

    def _on_subscribe(self, *_a: Any) -> None:
        self.connected.set()  # subscribed: nothing published from now on can be missed

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.payloads.append(bytes(msg.payload))

    def wait_for(self, n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.payloads) < n:
            time.sleep(0.02)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _publisher(broker: Any, client_id: str) -> mqtt.Client:
    client = make_client(BrokerAddress(broker.host, broker.port, False), client_id)
    client.connect(broker.host, broker.port, keepalive=30)
    client.loop_start()
    return client


def test_burst_arrives_whole_and_in_order_from_few_socket_reads(make_mosquitto) -> None:  # type: ignore[no-untyped-def]
    # broker queues large enough for the burst (deploy/ allows 10,000; the defaults drop it)
    broker = make_mosquitto(MosquittoSettings(max_queued_messages=0, max_inflight_messages=0))
    sink = Collector(broker, "buffered-sink-1")
    source = _publisher(broker, "buffered-source-1")
    try:
        sent = [f"scan {i:05d} ".encode() * (1 + i % 7) for i in range(3000)]
        sent[1500] = b"x" * (3 * CHUNK + 17)  # one packet longer than several reads
        infos = [source.publish(TOPIC, payload, qos=1) for payload in sent]
        for info in infos:
            info.wait_for_publish(10)
        sink.wait_for(len(sent))
        assert sink.payloads == sent
        reads = sink.client.socket_reads
        assert reads < len(sent) // 4, reads  # paho alone: about three per message
        assert sink.client.buffered() == 0
    finally:
        source.disconnect()
        source.loop_stop()
        sink.close()


def test_a_restart_drops_the_buffer_and_parsing_resumes_cleanly(fresh_mosquitto) -> None:  # type: ignore[no-untyped-def]
    sink = Collector(fresh_mosquitto, "buffered-sink-2")
    try:
        source = _publisher(fresh_mosquitto, "buffered-source-2")
        source.publish(TOPIC, b"before", qos=1).wait_for_publish(10)
        sink.wait_for(1)
        source.disconnect()
        source.loop_stop()
        sink.connected.clear()
        fresh_mosquitto.restart()
        assert sink.connected.wait(30), "no reconnection after the broker restart"
        source = _publisher(fresh_mosquitto, "buffered-source-3")
        for i in range(50):
            source.publish(TOPIC, f"after {i}".encode(), qos=1).wait_for_publish(10)
        sink.wait_for(51)
        assert sink.payloads == [b"before"] + [f"after {i}".encode() for i in range(50)]
        source.disconnect()
        source.loop_stop()
    finally:
        sink.close()


def test_packets_queued_together_leave_in_order_in_few_sends(make_mosquitto) -> None:  # type: ignore[no-untyped-def]
    broker = make_mosquitto(MosquittoSettings(max_queued_messages=0, max_inflight_messages=0))
    sink = Collector(broker, "plain-sink")
    sender = make_client(BrokerAddress(broker.host, broker.port, False), "sender", BufferedClient)
    sender.connect(broker.host, broker.port, keepalive=30)
    sender.loop_start()
    try:
        sent = [f"ack {i:05d}".encode() * (1 + i % 5) for i in range(4000)]
        infos = []
        for start in range(0, len(sent), 500):  # as the ingest writer does, batch by batch
            with sender.held_wakeups():
                infos += [sender.publish(TOPIC, p, qos=1) for p in sent[start : start + 500]]
        for info in infos:
            info.wait_for_publish(10)
        sink.wait_for(len(sent))
        assert sink.payloads == sent
        assert 0 < sender.socket_writes < len(sent) // 10, sender.socket_writes
        assert not sender._out_messages  # every PUBACK came back
    finally:
        sender.disconnect()
        sender.loop_stop()
        sink.close()


def test_a_held_batch_is_sent_by_the_thread_that_queued_it(mosquitto) -> None:  # type: ignore[no-untyped-def]
    # The ingest thread publishes each batch's acks inside held_wakeups(): it sends them
    # itself, without waking the network thread to do it.
    sink = Collector(mosquitto, "direct-sink")
    sender = make_client(
        BrokerAddress(mosquitto.host, mosquitto.port, False), "direct-sender", BufferedClient
    )
    sender.connect(mosquitto.host, mosquitto.port, keepalive=30)
    sender.loop_start()
    try:
        sent = [f"ack {i}".encode() for i in range(50)]
        for payload in sent:
            with sender.held_wakeups():
                info = sender.publish(TOPIC, payload, qos=1)
            info.wait_for_publish(10)
        sink.wait_for(len(sent))
        assert sink.payloads == sent
        assert (sender.direct_writes, sender.wakeups) == (len(sent), 0)
    finally:
        sender.disconnect()
        sender.loop_stop()
        sink.close()


def test_per_topic_callbacks_still_route_by_topic(mosquitto) -> None:  # type: ignore[no-untyped-def]
    got: dict[str, list[bytes]] = {"filtered": [], "other": []}
    ready = threading.Event()
    client = make_client(
        BrokerAddress(mosquitto.host, mosquitto.port, False), "routing", BufferedClient
    )
    client.message_callback_add(
        "reemploi/v1/+/+/status", lambda _c, _u, m: got["filtered"].append(bytes(m.payload))
    )
    client.on_message = lambda _c, _u, m: got["other"].append(bytes(m.payload))
    client.on_connect = lambda c, *_a: c.subscribe("reemploi/v1/#", qos=1)
    client.on_subscribe = lambda *_a: ready.set()
    client.connect(mosquitto.host, mosquitto.port, keepalive=30)
    client.loop_start()
    source = _publisher(mosquitto, "routing-source")
    try:
        assert ready.wait(10)
        source.publish("reemploi/v1/s/d/status", b"status", qos=1).wait_for_publish(10)
        source.publish(TOPIC, b"scan", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(got["filtered"]) + len(got["other"]) < 2:
            time.sleep(0.02)
        assert got == {"filtered": [b"status"], "other": [b"scan"]}
    finally:
        source.disconnect()
        source.loop_stop()
        client.disconnect()
        client.loop_stop()


def test_qos1_messages_read_by_the_short_path_equal_what_paho_decodes(mosquitto) -> None:  # type: ignore[no-untyped-def]
    """Two subscribers with manual acks, one plain paho, one buffered: every field the
    callbacks can read is the same, for plain, empty, binary, large, retained and
    non-ASCII-topic messages."""
    topics = [TOPIC, "reemploi/v1/site-é/lecteur-ü/scan"]
    sent = [
        (topics[0], b"plain", False),
        (topics[0], b"", False),
        (topics[1], bytes(range(256)) * 3, False),
        (topics[0], b"x" * (CHUNK + 5), False),
        (topics[1], b"retained", True),
    ]
    seen: dict[str, list[tuple[Any, ...]]] = {"paho": [], "buffered": []}
    ready = {name: threading.Event() for name in seen}

    def subscriber(name: str, factory: type[mqtt.Client]) -> mqtt.Client:
        client = make_client(
            BrokerAddress(mosquitto.host, mosquitto.port, False),
            f"short-path-{name}",
            factory,
            manual_ack=True,
        )

        def on_message(c: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
            seen[name].append((m.topic, m.payload, m.qos, m.retain, m.dup, 0 < m.mid < 65536))
            c.ack(m.mid, m.qos)

        client.on_message = on_message
        client.on_connect = lambda c, *_a: c.subscribe("reemploi/v1/#", qos=1)
        client.on_subscribe = lambda *_a: ready[name].set()
        client.connect(mosquitto.host, mosquitto.port, keepalive=30)
        client.loop_start()
        return client

    source = _publisher(mosquitto, "short-path-source")
    # the retained one first, so that both subscribers receive it flagged as retained
    source.publish(topics[1], b"retained", qos=1, retain=True).wait_for_publish(10)
    plain = subscriber("paho", mqtt.Client)
    buffered = subscriber("buffered", BufferedClient)
    try:
        assert ready["paho"].wait(10) and ready["buffered"].wait(10)
        for topic, payload, retain in sent[:-1]:
            assert not retain
            source.publish(topic, payload, qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and min(len(v) for v in seen.values()) < len(sent):
            time.sleep(0.02)
        assert len(seen["paho"]) == len(sent)
        assert sorted(seen["buffered"]) == sorted(seen["paho"])
        retained = [m for m in seen["buffered"] if m[3]]
        assert retained == [(topics[1], b"retained", 1, True, False, True)]
        assert isinstance(buffered, BufferedClient) and buffered.fast_publishes == len(sent)
    finally:
        source.publish(topics[1], b"", qos=1, retain=True).wait_for_publish(10)  # unretain
        for client in (source, plain, buffered):
            client.disconnect()
            client.loop_stop()
