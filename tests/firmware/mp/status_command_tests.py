# The reader's status messages and commands through a real Mosquitto (host/port from the
# pytest side, which also checks the retained messages afterwards). A second MQTT client
# (the firmware's own) plays the platform: it watches status and sends commands.
import json
import os

from reader import FIRMWARE_VERSION, config
from reader.mqtt_client import MqttClient
from reader.portable import sleep_ms, ticks_diff, ticks_ms
from reader.sim import SimulatedReader

from reemploi.protocol import wire

SITE = "cp-test"


def cfg(p, device, **extra):
    out = {
        "site": SITE,
        "device": device,
        "broker": {"host": p["host"], "port": p["port"], "tls": False, "keepalive_s": 10},
        "ack_timeout_ms": 200,  # nobody acks scans here: "queued" after 200 ms
        "nfc": {"poll_ms": 30},
    }
    out.update(extra)
    return out


def data_dir(p, name):
    path = p["data"] + "/" + name
    try:
        os.mkdir(path)
    except OSError:
        pass
    for f in ("queue.log", "seq.txt", "overrides.json", "overrides.json.tmp"):
        try:
            os.remove(path + "/" + f)
        except OSError:
            pass
    return path


class Platform:
    """The firmware's MQTT client as a platform stand-in: records what it receives."""

    def __init__(self, p, client_id):
        self.messages = []  # (ticks, topic, payload)
        self.client = MqttClient(p["host"], p["port"], client_id, on_message=self._on_message)

    def _on_message(self, topic, payload):
        self.messages.append((ticks_ms(), topic, bytes(payload)))

    async def start(self, topics):
        await self.client.connect()
        await self.client.subscribe([(t, 1) for t in topics])

    def on(self, topic):
        return [(t, payload) for t, name, payload in self.messages if name == topic]

    async def wait_for(self, topic, count, timeout_ms=10000):
        waited = 0
        while len(self.on(topic)) < count and waited < timeout_ms:
            await sleep_ms(50)
            waited += 50
        return self.on(topic)

    async def stop(self):
        await self.client.disconnect()


async def test_status_every_interval_with_every_field(p):
    assert config.DEFAULTS["status_interval_s"] == 60  # on the board: once a minute
    device = "rd-status"
    status_topic = wire.topic(SITE, device, "status")
    platform = Platform(p, "platform-status")
    await platform.start([status_topic])
    sim = SimulatedReader(
        cfg(p, device, status_interval_s=2, queue={"max_scans": 1}), data_dir(p, "status")
    )
    sim.start()
    assert await sim.wait_connected()
    # two taps nobody acknowledges: both kept as "queued", the queue (max 1) drops one
    assert await sim.tap("https://id.gs1.org/8004/4012345S1", 1) == "queued"
    assert await sim.tap("https://id.gs1.org/8004/4012345S2", 2) == "queued"
    got = await platform.wait_for(status_topic, 4, 12000)
    await sim.stop()
    await platform.stop()
    assert len(got) >= 4, got
    statuses = [(t, wire.decode_status(payload)) for t, payload in got]
    # one at connect, then one every 2 s
    gaps = [ticks_diff(statuses[i + 1][0], statuses[i][0]) for i in range(1, len(statuses) - 1)]
    assert gaps and all(1500 <= g <= 3000 for g in gaps), gaps
    uptimes = [s.uptime for _, s in statuses]
    assert uptimes == sorted(uptimes) and uptimes[-1] > uptimes[0], uptimes
    last = statuses[-1][1]
    assert last.device == device and last.state == wire.STATE_ONLINE, last.fields()
    assert last.fw == FIRMWARE_VERSION
    assert last.queue == 1 and last.drops == 1, last.fields()
    assert last.wifi_rssi == -55 and last.reset == "power_on", last.fields()
    assert isinstance(last.heap, int) and last.heap > 0, last.heap
    assert last.uptime >= 4, last.uptime
    # what the pytest side will find retained
    with open(p["data"] + "/status-expected.json", "w") as f:
        f.write(json.dumps({"topic": status_topic, "queue": 1, "drops": 1, "fw": FIRMWARE_VERSION}))
