# The real hardware of the reader board, behind the interfaces reader.app expects.
# Pin numbers come from reader.board (written with the schematic: PIN_<NET> constants).
import machine

from reader import board
from reader.portable import sleep_ms


class Led:
    """RGB LED on three GPIOs (active high through resistors)."""

    def __init__(self):
        self.pins = [machine.Pin(n, machine.Pin.OUT, value=0)
                     for n in (board.PIN_LED_R, board.PIN_LED_G, board.PIN_LED_B)]

    def color(self, r, g, b):
        for pin, on in zip(self.pins, (r, g, b)):
            pin.value(1 if on else 0)


class Buzzer:
    """Buzzer driven by PWM through NPN Q3."""

    def __init__(self):
        self.pwm = machine.PWM(machine.Pin(board.PIN_BUZZER), freq=2000, duty_u16=0)

    def tone(self, hz, volume):
        self.pwm.freq(hz)
        self.pwm.duty_u16(32768 * max(0, min(100, volume)) // 100)

    def off(self):
        self.pwm.duty_u16(0)


class BleRadio:
    """The `bluetooth` module's scanner behind start/scan/stop."""

    def __init__(self):
        import bluetooth

        self.ble = bluetooth.BLE()

    def start(self, handler):
        self.ble.active(True)
        self.ble.irq(handler)

    def scan(self, duration_ms, interval_us, window_us):
        self.ble.gap_scan(duration_ms, interval_us, window_us, False)

    def stop(self):
        self.ble.gap_scan(None)  # pyright: ignore[reportArgumentType]  (None stops a scan)


class Wifi:
    def __init__(self):
        import network

        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)

    async def connect(self, networks):
        for net in networks:
            try:
                self.wlan.connect(net["ssid"], net["password"])
            except OSError as exc:
                print("wifi:", net["ssid"], exc)
                continue
            for _ in range(100):  # 10 s
                if self.wlan.isconnected():
                    print("wifi: connected to", net["ssid"], self.wlan.ifconfig()[0])
                    return
                await sleep_ms(100)
            self.wlan.disconnect()
        print("wifi: no network reachable")

    def connected(self):
        return self.wlan.isconnected()

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except Exception:
            return None


RESET_CAUSES = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard_reset",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep_sleep",
    machine.SOFT_RESET: "soft_reset",
}


class Hardware:
    def __init__(self, cfg):
        self.spi = machine.SPI(
            1,
            baudrate=4000000,
            polarity=0,
            phase=0,
            sck=machine.Pin(board.PIN_SPI_SCK),
            mosi=machine.Pin(board.PIN_SPI_MOSI),
            miso=machine.Pin(board.PIN_SPI_MISO),
        )
        self.cs = machine.Pin(board.PIN_RC522_SS, machine.Pin.OUT, value=1)
        self.rst = machine.Pin(board.PIN_RC522_RST, machine.Pin.OUT, value=1)
        self.led = Led()
        self.buzzer = Buzzer()
        self.ble_radio = BleRadio() if cfg["ble"]["enabled"] else None
        self.wifi = Wifi()
        self.watchdog = machine.WDT(timeout=cfg["watchdog_ms"])
        self._cause = RESET_CAUSES.get(machine.reset_cause(), "unknown")

    def reset_cause(self):
        return self._cause

    def reboot(self):
        machine.reset()
