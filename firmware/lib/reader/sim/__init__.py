# The reader simulator: the real firmware logic (reader.app.Reader) on simulated hardware,
# under CPython or the MicroPython unix port. Used by tests, the demo and load tests.
#
#     from reader.sim import run_reader
#     results = asyncio.run(run_reader(config_dict, ["https://id.gs1.org/8004/..."]))
#
# Each tap places a simulated NTAG213 holding that URI (or an NTAG 424 DNA for a SUN URL
# given as ("sun", uri), or a bare UID as ("uid", "04A2...")) on the simulated antenna,
# waits for the reader to read it and for the feedback pattern, then removes it.
from reader import config as config_mod
from reader.app import Reader
from reader.portable import asyncio, sleep_ms
from reader.sim.hardware import Rebooted, SimHardware
from reader.sim.tags import Ntag21x, Ntag424Dna, TypeATag

try:
    from binascii import unhexlify
except ImportError:  # pragma: no cover
    from ubinascii import unhexlify  # type: ignore


def tag_for(tap, index=0):
    """A simulated tag for one tap: a URI, ("sun", uri) or ("uid", hex)."""
    uid = bytes((0x04, 0x52, 0x45, (index >> 16) & 0xFF, (index >> 8) & 0xFF, index & 0xFF, 0x80))
    if isinstance(tap, (tuple, list)):
        kind, value = tap
        if kind == "sun":
            return Ntag424Dna(uid, value)
        if kind == "uid":
            tag = TypeATag(unhexlify(value))
            tag.sak = 0x08
            return tag
        raise ValueError("tap kind must be 'sun' or 'uid'")
    return Ntag21x.with_uri(uid, tap)


class SimulatedReader:
    """A running simulated reader: place tags, feed beacons, inspect what happened.

    Like the board, it reads its settings at every boot from the config given here plus
    the ``set`` overrides saved in ``data_dir``; a reset (``reboot`` command, watchdog)
    stops every task and boots a new Reader on the same data (queue, sequence,
    overrides), with the reset cause the chip would report. ``unchecked`` values are
    written over the built config without validation (tests: a 600 ms watchdog)."""

    def __init__(self, cfg, data_dir="", hw=None, unchecked=None):
        if not isinstance(cfg, dict) or "broker" not in cfg or not isinstance(cfg["broker"], dict):
            raise ValueError("config must be a dict with a broker section")
        self.given = cfg
        self.data_dir = data_dir
        self.unchecked = unchecked or {}
        self.hw = hw or SimHardware()
        self.hw.on_reset = self._on_reset
        self.boots = 0
        self.reader = self._boot()
        self.cfg = self.reader.cfg
        self._tasks = []
        self._timer = None
        self._restarting = None

    def _boot(self):
        overrides = config_mod.read_overrides(self._path(config_mod.OVERRIDES_PATH))
        built, problems = config_mod.build(self.given, overrides)
        config_mod.report(problems)
        for key, value in self.unchecked.items():
            built[key] = value
        self.boots += 1
        self.hw.watchdog.start(built["watchdog_ms"])
        return Reader(built, self.hw, self.data_dir)

    def _path(self, name):
        return self.data_dir + "/" + name if self.data_dir else name

    def start(self):
        self._tasks = [asyncio.create_task(t) for t in self.reader.tasks()]
        if self._timer is None:
            self._timer = asyncio.create_task(self._watchdog_timer())

    async def _watchdog_timer(self):
        while True:
            await sleep_ms(20)
            self.hw.watchdog.check()

    def _on_reset(self):
        if self._restarting is None:
            self._restarting = asyncio.create_task(self._restart())

    async def _restart(self):
        old = self.reader
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = []
        if old.mqtt is not None:
            await old.mqtt.abort()  # a reset sends no DISCONNECT: the broker sends the will
        await sleep_ms(50)
        self.reader = self._boot()
        self.cfg = self.reader.cfg
        self._restarting = None
        self.start()

    async def stop(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.reader.mqtt is not None:
            try:
                await self.reader.mqtt.disconnect()
            except Exception:
                pass
        for task in self._tasks:
            task.cancel()
        await sleep_ms(10)

    async def wait_connected(self, timeout_ms=10000):
        waited = 0
        while self.reader.mqtt is None or not self.reader.mqtt.connected:
            if waited >= timeout_ms:
                return False
            await sleep_ms(20)
            waited += 20
        return True

    async def wait_boots(self, count, timeout_ms=10000):
        """Wait until the reader has booted ``count`` times in all; True when it has."""
        waited = 0
        while self.boots < count or self._restarting is not None:
            if waited >= timeout_ms:
                return False
            await sleep_ms(20)
            waited += 20
        return True

    async def tap(self, tap, index=0, hold_ms=None):
        """Present one tag until the reader has played its feedback; returns the pattern."""
        before = len(self.reader.feedback.played)
        scans = self.reader.counters["scans"]
        self.hw.field.place(tag_for(tap, index))
        limit = self.cfg["ack_timeout_ms"] + self.cfg["nfc"]["poll_ms"] + 3000
        waited = 0
        while len(self.reader.feedback.played) == before or self.reader.feedback._busy:
            if waited > limit:
                break
            await sleep_ms(10)
            waited += 10
        self.hw.field.remove()
        if hold_ms:
            await sleep_ms(hold_ms)
        if self.reader.counters["scans"] == scans:
            return None
        return self.reader.feedback.played[-1]


async def run_reader(cfg, taps, data_dir="", gap_ms=0, connect_timeout_ms=10000):
    """Run one simulated reader with ``cfg`` (a config.json dict), tap each item of
    ``taps`` in turn, and return the feedback pattern played for each ("accept",
    "refuse", "unknown", "queued", "error", or None when nothing was read)."""
    sim = SimulatedReader(cfg, data_dir)
    sim.start()
    try:
        await sim.wait_connected(connect_timeout_ms)
        results = []
        for index, tap in enumerate(taps):
            results.append(await sim.tap(tap, index))
            if gap_ms:
                await sleep_ms(gap_ms)
        return results
    finally:
        await sim.stop()


__all__ = ["Rebooted", "SimHardware", "SimulatedReader", "run_reader", "tag_for"]
