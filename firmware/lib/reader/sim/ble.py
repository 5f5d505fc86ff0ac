# BLE advertisement feeder: stands in for the `bluetooth` module's scanner. Tests and the
# simulator call advertise(); the scanner's IRQ handler gets exactly what the ESP32 gives
# it (event 5, (addr_type, addr, adv_type, rssi, adv_data memoryview)).
class BleFeeder:
    def __init__(self):
        self.handler = None
        self.scanning = False
        self.scans = 0

    def start(self, handler):
        self.handler = handler

    def scan(self, duration_ms, interval_us, window_us):
        self.scanning = True
        self.scans += 1

    def stop(self):
        self.scanning = False

    def advertise(self, adv, rssi=-60, addr=b"\xc0\x01\x02\x03\x04\x05"):
        if self.handler is not None:
            self.handler(5, (0, memoryview(bytes(addr)), 0, rssi, memoryview(bytes(adv))))
