# The watchdog: fed while every loop of the reader makes progress, not fed when the event
# loop is blocked or one loop hangs on an await; the simulated chip timer then resets the
# board and the reader boots again with reset cause "watchdog". No broker needed.
import os
import time

from reader.portable import asyncio, sleep_ms, ticks_ms
from reader.sim import SimulatedReader, tag_for
from reader.watchdog import LoopWatchdog

WATCHDOG_MS = 600  # below the config's 5 s floor: given to the simulator unchecked


def cfg():
    # no broker host: the reader runs unconfigured (no MQTT), every loop still runs
    return {
        "site": "cp-test",
        "device": "rd-wdt",
        "broker": {"host": None},
        "ack_timeout_ms": 200,
        "nfc": {"poll_ms": 30},
    }


def data_dir(p, name):
    path = p.get("data", "/tmp") + "/fw-" + name
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


def make(p, name):
    return SimulatedReader(cfg(), data_dir(p, name), unchecked={"watchdog_ms": WATCHDOG_MS})


class Chip:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


def test_loop_watchdog_feeds_only_while_every_loop_beats_in_time(p):
    chip = Chip()
    dog = LoopWatchdog(chip, 1000)
    dog.beat("nfc", 100)
    dog.beat("sender", 5000)
    assert dog.feed_if_healthy() and chip.feeds == 1
    later = ticks_ms() + 200
    assert dog.late(later) == "nfc"
    assert dog.late(ticks_ms() + 50) is None
    dog.beat("nfc", 10)
    time.sleep(0.05)
    assert not dog.feed_if_healthy() and dog.stuck == "nfc" and chip.feeds == 1
    dog.beat("nfc", 100)
    assert dog.feed_if_healthy() and dog.stuck is None and chip.feeds == 2


async def test_watchdog_is_fed_while_healthy(p):
    sim = make(p, "wdt-ok")
    sim.start()
    await sleep_ms(1500)
    dog = sim.hw.watchdog
    assert dog.fired == 0 and sim.boots == 1, (dog.fired, sim.boots)
    assert dog.feeds >= 6, dog.feeds  # every 150 ms
    assert dog.longest_gap_ms < WATCHDOG_MS, dog.longest_gap_ms
    assert sim.reader.watchdog.stuck is None
    assert sim.hw.reset_cause() == "power_on"
    await sim.stop()


async def test_blocked_event_loop_is_not_fed_and_resets_the_board(p):
    sim = make(p, "wdt-block")
    sim.start()
    await sleep_ms(400)
    feeds = sim.hw.watchdog.feeds
    assert feeds >= 2, feeds
    first = sim.reader
    sim.hw.chip.stall_ms = 1200  # the next SPI transaction spins for 1.2 s
    await sleep_ms(200)
    assert await sim.wait_boots(2), sim.boots
    dog = sim.hw.watchdog
    assert dog.fired == 1, dog.fired
    assert sim.hw.reset_cause() == "watchdog"
    assert sim.reader is not first
    # booted again: fed again
    feeds = dog.feeds
    await sleep_ms(500)
    assert dog.feeds > feeds and dog.fired == 1, (dog.feeds, dog.fired)
    assert sim.reader.status().reset == "watchdog"
    await sim.stop()


async def test_loop_stuck_on_an_await_stops_feeding_and_resets_the_board(p):
    sim = make(p, "wdt-stuck")
    sim.start()
    await sleep_ms(300)
    first = sim.reader

    async def hangs(kind, data, rssi=None, wait_feedback=True):
        await asyncio.Event().wait()  # a bug: this await never ends

    first.handle_tag = hangs
    sim.hw.field.place(tag_for("https://id.gs1.org/8004/4012345STUCK"))
    # the nfc loop may take ack 200 + poll 30 + 2000 ms per turn: then feeding stops
    await sleep_ms(1500)
    assert sim.reader is first and sim.hw.watchdog.fired == 0
    feeds = sim.hw.watchdog.feeds
    assert feeds >= 8, feeds  # still fed while the turn is within its allowance
    assert await sim.wait_boots(2, 5000), (sim.boots, first.watchdog.stuck)
    assert first.watchdog.stuck == "nfc", first.watchdog.stuck
    assert sim.hw.watchdog.fired == 1 and sim.hw.reset_cause() == "watchdog"
    sim.hw.field.remove()
    feeds = sim.hw.watchdog.feeds
    await sleep_ms(500)
    assert sim.hw.watchdog.feeds > feeds and sim.reader.watchdog.stuck is None
    await sim.stop()
