# Simulated hardware for the reader simulator and the tests: the same interfaces as
# reader.esp32.Hardware, with a register-level MFRC522 and a BLE advertisement feeder.
from reader.portable import ticks_diff, ticks_ms
from reader.sim.ble import BleFeeder
from reader.sim.mfrc522_chip import RfField, SimulatedMfrc522, SimulatedPin, SimulatedSpi


class SimLed:
    def __init__(self):
        self.rgb = (0, 0, 0)
        self.changes = 0
        self.history = []  # last colours shown

    def color(self, r, g, b):
        self.rgb = (r, g, b)
        self.changes += 1
        self.history.append(self.rgb)
        if len(self.history) > 64:
            self.history = self.history[-32:]


class SimBuzzer:
    def __init__(self):
        self.tones = []

    def tone(self, hz, volume):
        self.tones.append(hz)
        if len(self.tones) > 64:
            self.tones = self.tones[-32:]

    def off(self):
        pass


class SimWifi:
    def __init__(self, rssi=-55):
        self.up = True
        self._rssi = rssi

    async def connect(self, networks):
        pass

    def connected(self):
        return self.up

    def rssi(self):
        return self._rssi


class SimWatchdog:
    """machine.WDT with its timer: once started, a gap between two feeds longer than the
    timeout resets the board (``on_expire()``, counted in ``fired``). The gap is seen by
    the next feed or by check(), which the simulator calls every few milliseconds; while
    the event loop is blocked nothing runs, as on the chip, and the reset happens as soon
    as the loop moves again."""

    def __init__(self):
        self.timeout_ms = None
        self.feeds = 0
        self.fired = 0
        self.longest_gap_ms = 0  # longest time between two feeds while healthy
        self.on_expire = None
        self._last = None

    def start(self, timeout_ms):
        """machine.WDT(timeout=...) at boot: the timer runs from now."""
        self.timeout_ms = timeout_ms
        self._last = ticks_ms()

    def check(self):
        """True (and the board resets) when the timer has run out."""
        if self._last is None or self.timeout_ms is None:
            return False
        if ticks_diff(ticks_ms(), self._last) <= self.timeout_ms:
            return False
        self._last = None  # stopped: the next boot starts it again
        self.fired += 1
        if self.on_expire is not None:
            self.on_expire()
        return True

    def feed(self):
        if self._last is None or self.check():
            return
        now = ticks_ms()
        self.longest_gap_ms = max(self.longest_gap_ms, ticks_diff(now, self._last))
        self._last = now
        self.feeds += 1


class Rebooted(Exception):
    """Raised by SimHardware.reboot() when no simulator restarts the reader."""


class SimHardware:
    def __init__(self, garbage_spi=False):
        self.field = RfField()
        self.chip = SimulatedMfrc522(self.field, garbage=garbage_spi)
        self.spi = SimulatedSpi(self.chip)
        self.cs = SimulatedPin(1)
        self.rst = SimulatedPin(1)
        self.led = SimLed()
        self.buzzer = SimBuzzer()
        self.ble_radio = BleFeeder()
        self.wifi = SimWifi()
        self.watchdog = SimWatchdog()
        self.watchdog.on_expire = self._watchdog_reset
        self.reboots = 0
        self.cause = "power_on"
        self.on_reset = None  # set by the simulator: on_reset() boots the reader again

    def reset_cause(self):
        return self.cause

    def _reset(self, cause):
        self.cause = cause
        if self.on_reset is None:
            raise Rebooted()
        self.on_reset()

    def _watchdog_reset(self):
        print("sim: watchdog timer ran out, board reset")
        self.reboots += 1
        self.cause = "watchdog"
        if self.on_reset is not None:
            self.on_reset()

    def reboot(self):
        """machine.reset(): the simulator boots the reader again (reset cause
        "soft_reset"); without a simulator, raises Rebooted."""
        self.reboots += 1
        self._reset("soft_reset")
