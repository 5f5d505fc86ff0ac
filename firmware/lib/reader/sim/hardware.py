# Simulated hardware for the reader simulator and the tests: the same interfaces as
# reader.esp32.Hardware, with a register-level MFRC522 and a BLE advertisement feeder.
from reader.sim.ble import BleFeeder
from reader.sim.mfrc522_chip import RfField, SimulatedMfrc522, SimulatedPin, SimulatedSpi


class SimLed:
    def __init__(self):
        self.rgb = (0, 0, 0)
        self.changes = 0

    def color(self, r, g, b):
        self.rgb = (r, g, b)
        self.changes += 1


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
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class Rebooted(Exception):
    """Raised by SimHardware.reboot(): the simulator stops the reader's loop."""


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
        self.reboots = 0

    def reset_cause(self):
        return "power_on"

    def reboot(self):
        self.reboots += 1
        raise Rebooted()
