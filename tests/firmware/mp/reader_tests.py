# The whole reader (reader.app.Reader on simulated hardware) against a real Mosquitto and
# a platform stand-in run by the pytest side (it acks every scan). Broker stop/start is
# asked of the pytest side through files in p["control"].
import os

from reader.portable import sleep_ms
from reader.sim import SimulatedReader, run_reader

from reemploi.protocol import ble


def cfg(p, device="rd-1"):
    return {
        "site": "cp-test",
        "device": device,
        "broker": {"host": p["host"], "port": p["port"], "tls": False, "keepalive_s": 10},
        "ack_timeout_ms": 2000,
        "queue": {"max_scans": 50, "resend_s": 5},
        "nfc": {"poll_ms": 30},
        "ble": {
            "enabled": True,
            "namespace": "5265656d706c6f692d31",
            "min_interval_s": 60,
            "window_ms": 200,
            "duty_percent": 50,
        },
    }


def fresh_dir(p, name):
    path = p["data"] + "/" + name
    try:
        os.mkdir(path)
    except OSError:
        pass
    for f in ("queue.log", "seq.txt", "overrides.json"):
        try:
            os.remove(path + "/" + f)
        except OSError:
            pass
    return path


async def wait_file(path, timeout_ms=20000):
    waited = 0
    while waited < timeout_ms:
        try:
            os.stat(path)
            return True
        except OSError:
            await sleep_ms(50)
            waited += 50
    raise AssertionError("timed out waiting for " + path)


def signal(p, name):
    with open(p["control"] + "/" + name, "w") as f:
        f.write("1")


async def test_taps_get_accept_refuse_unknown_feedback(p):
    results = await run_reader(
        cfg(p, "rd-fb"),
        [
            "https://id.gs1.org/8004/4012345ABC345",
            "https://id.gs1.org/8004/4012345REFUSE",
            "https://id.gs1.org/8004/4012345UNKNOWN",
            ("uid", "04A1B2C3D4E5F6"),
        ],
        fresh_dir(p, "fb"),
    )
    assert results == ["accept", "refuse", "unknown", "accept"], results


async def test_broker_restart_loses_no_queued_scan_and_sequence_survives_reboot(p):
    data = fresh_dir(p, "restart")
    sim = SimulatedReader(cfg(p, "rd-restart"), data)
    sim.start()
    assert await sim.wait_connected()
    assert await sim.tap("https://id.gs1.org/8004/4012345A0", 0) == "accept"
    signal(p, "stop_broker")
    await wait_file(p["control"] + "/broker_stopped")
    await sleep_ms(300)
    patterns = []
    for i in range(1, 4):
        patterns.append(await sim.tap("https://id.gs1.org/8004/4012345A" + str(i), i))
    assert patterns == ["queued", "queued", "queued"], patterns
    assert len(sim.reader.queue) == 3
    # reboot while the broker is still down: the queue and the sequence are on flash
    await sim.stop()
    last_seq = sim.reader.seq.peek()
    sim2 = SimulatedReader(cfg(p, "rd-restart"), data)
    assert len(sim2.reader.queue) == 3, len(sim2.reader.queue)
    assert sim2.reader.seq.peek() >= last_seq
    sim2.start()
    signal(p, "start_broker")
    assert await sim2.wait_connected(30000)
    waited = 0
    while len(sim2.reader.queue) and waited < 30000:
        await sleep_ms(100)
        waited += 100
    assert len(sim2.reader.queue) == 0, "queued scans were not all acknowledged"
    assert await sim2.tap("https://id.gs1.org/8004/4012345A4", 4) == "accept"
    assert sim2.reader.queue.drops == 0
    await sim2.stop()
    signal(p, "done")


async def test_ble_beacon_of_our_namespace_is_published_once(p):
    sim = SimulatedReader(cfg(p, "rd-ble"), fresh_dir(p, "ble"))
    sim.start()
    assert await sim.wait_connected()
    ours = ble.EddystoneUid(-20, bytes.fromhex("5265656d706c6f692d31"), b"\x00\x00\x00\x00\x00\x07")
    theirs = ble.EddystoneUid(-20, b"\x11" * 10, b"\x00\x00\x00\x00\x00\x08")
    for uid in (ours, theirs, ours, ours):
        sim.hw.ble_radio.advertise(
            ble.advertising_payload(
                service_data={ble.EDDYSTONE_UUID: ble.encode_eddystone_uid(uid)}
            )
        )
    sim.hw.ble_radio.advertise(b"\x05\xff\x4c\x00\x02")  # truncated iBeacon: counted
    await sleep_ms(1500)
    assert sim.reader.counters["scans"] == 1, sim.reader.counters
    assert sim.reader.ble.foreign == 1 and sim.reader.ble.malformed == 1
    waited = 0
    while len(sim.reader.queue) and waited < 5000:
        await sleep_ms(50)
        waited += 50
    assert len(sim.reader.queue) == 0
    await sim.stop()
