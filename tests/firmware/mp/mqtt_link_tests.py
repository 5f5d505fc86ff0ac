# MQTT client against a real Mosquitto (host/port/tls given by the pytest side).
from reader import mqtt_packet as mp
from reader.mqtt_client import ConnectRefused, MqttClient, MqttError, tls_context
from reader.portable import asyncio


def _client(p, client_id="rd-1", **kw):
    tls = None
    port = p["port"]
    if p.get("cafile"):
        tls = tls_context({"cafile": p["cafile"]})
        port = p["tls_port"]
    return MqttClient(
        p["host"], port, client_id, user=p.get("user"), password=p.get("password"), tls=tls, **kw
    )


def test_packets_are_byte_exact(p):
    # CONNECT, clean session, keepalive 60, will retained QoS 1, user + password
    pkt = mp.connect("c", 60, "u", "pw", "t", b"x", True, 1)
    assert pkt == bytes.fromhex("101a00044d51545404ee003c00016300017400017800017500027077"), pkt
    assert mp.publish("a/b", b"hi", 1, False, True, 10) == bytes.fromhex("3a090003612f62000a6869")
    assert mp.subscribe(1, [("a/#", 1)]) == bytes.fromhex("820800010003612f2301")
    assert mp.puback(0x1234) == b"\x40\x02\x12\x34"
    assert mp.pingreq() == b"\xc0\x00"
    # remaining length 321 = 0xC1 0x02
    assert mp._remaining_length(321) == b"\xc1\x02"
    it = iter(b"\xc1\x02")
    assert mp.decode_remaining_length(lambda: next(it)) == 321


def test_broker_garbage_raises_protocol_error_only(p):
    bad = [
        (0x30, b"\x00"),
        (0x30, b"\x00\x05ab"),
        (0x20, b"\x00"),
        (0x40, b""),
        (0x90, b"\x00"),
        (0xD0, b"\x00"),
        (0xF0, b""),
        (0x36, b"\x00\x01a"),
        (0x32, b"\x00\x01a\x00"),
    ]
    for first, body in bad:
        try:
            mp.parse(first, body)
            raise AssertionError("accepted " + str(first))
        except mp.MqttProtocolError:
            pass
    assert mp.parse(0x32, b"\x00\x01a\x00\x07xy") == (mp.PUBLISH, "a", b"xy", 1, 7, False, False)


async def test_publish_qos1_round_trip_and_subscription(p):
    got = []
    sub = _client(p, "rd-sub", on_message=lambda t, m: got.append((t, m)))
    await sub.connect()
    await sub.subscribe([(p["topic_prefix"] + "/scan", 1)])
    pub = _client(p, "rd-pub")
    await pub.connect()
    for i in range(5):
        await pub.publish(p["topic_prefix"] + "/scan", b"m" + str(i).encode(), 1)
    for _ in range(50):
        if len(got) == 5:
            break
        await asyncio.sleep(0.05)
    assert [m for _, m in got] == [b"m0", b"m1", b"m2", b"m3", b"m4"], got
    await pub.disconnect()
    await sub.disconnect()


async def test_last_will_is_published_retained_when_link_dies(p):
    got = []
    watcher = _client(p, "rd-watch", on_message=lambda t, m: got.append((t, m)))
    await watcher.connect()
    await watcher.subscribe([(p["topic_prefix"] + "/will", 1)])
    dying = _client(
        p, "rd-dying", keepalive_s=2, will=(p["topic_prefix"] + "/will", b"offline", True)
    )
    await dying.connect()
    # kill the socket without DISCONNECT: the broker must send the will
    dying._writer.close()
    dying.connected = False
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.05)
    assert got == [(p["topic_prefix"] + "/will", b"offline")], got
    # retained: a late subscriber still gets it
    late = []
    c = _client(p, "rd-late", on_message=lambda t, m: late.append(m))
    await c.connect()
    await c.subscribe([(p["topic_prefix"] + "/will", 1)])
    for _ in range(40):
        if late:
            break
        await asyncio.sleep(0.05)
    assert late == [b"offline"], late
    await c.disconnect()
    await watcher.disconnect()


async def test_keepalive_pings_keep_an_idle_link_up(p):
    c = _client(p, "rd-idle", keepalive_s=1)
    await c.connect()
    await asyncio.sleep(3.2)  # the broker drops a silent client after 1.5 x keepalive
    assert c.connected
    await c.publish(p["topic_prefix"] + "/scan", b"still here", 1)
    await c.disconnect()


async def test_bad_credentials_are_refused_with_code(p):
    if not p.get("user"):
        return
    c = MqttClient(p["host"], p["port"], "rd-bad", user=p["user"], password="wrong")
    try:
        await c.connect()
        raise AssertionError("connected with a wrong password")
    except ConnectRefused as exc:
        assert exc.code in (4, 5), exc.code


async def test_connection_refused_port_is_an_mqtt_error(p):
    c = MqttClient(p["host"], p["closed_port"], "rd-x", connect_timeout_ms=2000)
    try:
        await c.connect()
        raise AssertionError("connected to a closed port")
    except MqttError:
        pass
