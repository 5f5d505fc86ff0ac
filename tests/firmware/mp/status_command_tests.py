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


def command(ident, cmd, args=None):
    return wire.encode_command(wire.Command(ident, cmd, args))


async def until(check, timeout_ms=8000):
    waited = 0
    while not check():
        if waited >= timeout_ms:
            return False
        await sleep_ms(20)
        waited += 20
    return True


def read_json(path):
    with open(path) as f:
        return json.loads(f.read())


async def test_commands_identify_set_report_reboot_and_bad_ones(p):
    device = "rd-cmd"
    status_topic = wire.topic(SITE, device, "status")
    cmd_topic = wire.topic(SITE, device, "cmd")
    folder = data_dir(p, "cmd")
    platform = Platform(p, "platform-cmd")
    await platform.start([status_topic])
    sim = SimulatedReader(cfg(p, device), folder)
    sim.start()
    assert await sim.wait_connected()
    assert await platform.wait_for(status_topic, 1)
    first = sim.reader
    counters = first.counters

    async def send(payload):
        await platform.client.publish(cmd_topic, payload, 1)

    # identify: blinks blue
    await send(command("c-1", "identify"))
    assert await until(lambda: "identify" in first.feedback.played), first.feedback.played
    assert (0, 0, 1) in sim.hw.led.history
    assert await until(lambda: not first.feedback._busy)

    # set: validated, applied at once, persisted, status published after it
    statuses = len(platform.on(status_topic))
    await send(
        command(
            "c-2",
            "set",
            {"volume": 80, "buzzer": False, "status_interval_s": 30, "same_tag_holdoff_ms": 500},
        )
    )
    assert await until(lambda: first.cfg["feedback"]["volume"] == 80)
    assert first.cfg["feedback"]["buzzer"] is False and first.cfg["status_interval_s"] == 30
    assert first.nfc.holdoff_ms == 500
    saved = read_json(folder + "/overrides.json")
    assert saved == {
        "volume": 80,
        "buzzer": False,
        "status_interval_s": 30,
        "same_tag_holdoff_ms": 500,
    }, saved
    assert await platform.wait_for(status_topic, statuses + 1)

    # refused whole, nothing changed: out of range, not settable, wrong type, one bad of two
    for i, args in enumerate(
        (
            {"volume": 500},
            {"broker_host": "evil.example"},
            {"led": "yes"},
            {"volume": 10, "watchdog_ms": 1000},
            {},
        )
    ):
        await send(command("bad-set-" + str(i), "set", args))
    # malformed or not a command this reader knows
    for payload in (
        b"not json",
        b'{"v":1,"id":"c-9","cmd":"format"}',
        b'{"v":1,"id":"c-10","cmd":"set","args":[1]}',
        b'{"v":1,"cmd":"identify"}',
        command("c-11", "reboot", {"now": True}),
        b'{"v":2,"id":"c-12","cmd":"identify"}',
    ):
        await send(payload)
    assert await until(lambda: counters["commands_refused"] == 11), counters
    assert first.cfg["feedback"]["volume"] == 80 and first.cfg["feedback"]["led"] is True
    assert read_json(folder + "/overrides.json") == saved
    # a command delivered twice runs once
    played = first.feedback.played.count("identify")
    await send(command("c-1", "identify"))
    assert await until(lambda: counters["commands_repeated"] == 1), counters
    # still alive and well: reads a tag, runs the next command
    assert await sim.tap("https://id.gs1.org/8004/4012345CMD1", 1) == "queued"
    await send(command("c-13", "identify"))
    assert await until(lambda: first.feedback.played.count("identify") == played + 1)
    assert counters["commands_failed"] == 0 and counters["commands"] == 3, counters
    assert first.watchdog.stuck is None

    # report: a status at once
    statuses = len(platform.on(status_topic))
    await send(command("c-14", "report"))
    assert await platform.wait_for(status_topic, statuses + 1)

    # reboot: last status, clean disconnect, reset; boots on the same data
    seq = first.seq.peek()
    await send(command("c-15", "reboot"))
    assert await sim.wait_boots(2), sim.boots
    assert sim.hw.reset_cause() == "soft_reset" and sim.hw.reboots == 1
    assert sim.reader is not first
    assert await sim.wait_connected()
    after = await platform.wait_for(status_topic, len(platform.on(status_topic)) + 1)
    assert wire.decode_status(after[-1][1]).reset == "soft_reset"
    # the settings survived the reboot, the sequence goes on
    assert sim.reader.cfg["feedback"]["volume"] == 80 and sim.reader.cfg["status_interval_s"] == 30
    assert sim.reader.nfc.holdoff_ms == 500
    assert sim.reader.seq.peek() >= seq
    assert len(sim.reader.queue) == 1  # the queued scan is still there
    # the same reboot delivered again (QoS 1, or retained by mistake) does not loop
    await send(command("c-15", "reboot"))
    assert await until(lambda: sim.reader.counters["commands_repeated"] == 1)
    await sleep_ms(500)
    assert sim.boots == 2
    # a later set keeps the earlier values in overrides.json
    await send(command("c-16", "set", {"led": False}))
    assert await until(lambda: sim.reader.cfg["feedback"]["led"] is False)
    saved["led"] = False
    assert read_json(folder + "/overrides.json") == saved
    await sim.stop()
    await platform.stop()


async def test_report_answer_carries_every_error_counter(p):
    device = "rd-report"
    report_topic = wire.topic(SITE, device, "report")
    cmd_topic = wire.topic(SITE, device, "cmd")
    platform = Platform(p, "platform-report")
    old_topic = wire.topic(SITE, device, "status") + "/report"  # before protocol v1's report
    await platform.start([report_topic, old_topic])
    sim = SimulatedReader(cfg(p, device), data_dir(p, "report"))
    sim.start()
    assert await sim.wait_connected()
    reader = sim.reader
    # some activity to count: a queued scan, a refused command, a CRC error, two tags
    assert await sim.tap("https://id.gs1.org/8004/4012345REP1", 1) == "queued"
    await platform.client.publish(cmd_topic, b"garbage", 1)
    assert await until(lambda: reader.counters["commands_refused"] == 1)
    from reader.sim.tags import Ntag21x

    sim.hw.field.place(
        Ntag21x.with_uri(bytes.fromhex("04010203040506"), "https://a.example/1", corrupt_crc=True)
    )
    assert await until(lambda: reader.nfc.errors["crc"] >= 1)
    sim.hw.field.remove()
    await platform.client.publish(cmd_topic, command("rep-1", "report"), 1)
    got = await platform.wait_for(report_topic, 1)
    assert len(got) == 1, got
    answer = wire.decode_report(got[0][1])  # a protocol v1 message, nothing else
    assert answer.device == device and answer.id == "rep-1", answer
    assert answer.clock is None or answer.clock > 0
    counters = answer.counters
    assert counters["commands"] == 1, counters
    assert counters["commands_refused"] == 1 and counters["scans"] == 1, counters
    assert counters["queued_feedback"] == 1 and counters["nfc_crc"] >= 1, counters
    assert counters["mqtt_connects"] == 1 and counters["queue_flash_errors"] == 0, counters
    for name in (
        "nfc_collision",
        "nfc_collisions_resolved",
        "nfc_timeout",
        "nfc_removed",
        "nfc_ndef",
        "nfc_chip",
        "seq_flash_errors",
        "queue_corrupt_lines",
        "mqtt_refused",
        "mqtt_retransmits",
        "bad_messages",
        "publish_failures",
    ):
        assert isinstance(counters[name], int), (name, counters)
    assert platform.on(old_topic) == []
    await sim.stop()
    await platform.stop()
