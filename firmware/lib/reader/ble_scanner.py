# BLE lot-beacon scanning. The radio's IRQ handler only copies bytes into preallocated
# slots (no parsing, no allocation beyond the slot copy); drain() parses them later in
# task context with the shared parser, keeps only the platform's beacons (Eddystone
# namespace or iBeacon UUID; TLM frames only from an address that sent one of our UID
# frames), and rate-limits each beacon.
#
# The radio interface (reader.esp32.BleRadio on the board, reader.sim.ble.BleFeeder in
# tests and the simulator):  radio.start(irq_handler)  radio.scan(duration_ms,
# interval_us, window_us)  radio.stop()
from reader.portable import const, sleep_ms, ticks_diff, ticks_ms
from reemploi.protocol import ble

_IRQ_SCAN_RESULT = const(5)
_SLOT_BYTES = const(62)  # advertising data + scan response fit in 31 + 31 bytes


class BleScanner:
    def __init__(self, radio, namespace=None, ibeacon_uuid=None, min_interval_s=60,
                 window_ms=1000, duty_percent=25, slots=16, max_beacons=64):
        self.radio = radio
        self.namespace = bytes.fromhex(namespace) if namespace else None
        self.ibeacon_uuid = bytes.fromhex(ibeacon_uuid.replace("-", "")) if ibeacon_uuid else None
        self.min_interval_ms = min_interval_s * 1000
        self.window_ms = window_ms
        self.duty_percent = duty_percent
        self.max_beacons = max_beacons
        self._data = [bytearray(_SLOT_BYTES) for _ in range(slots)]
        self._len = [0] * slots
        self._rssi = [0] * slots
        self._addr = [bytearray(6) for _ in range(slots)]
        self._head = 0  # next slot the IRQ writes
        self._count = 0  # filled slots
        self.irq_overflows = 0  # advertisements lost because every slot was full
        self.malformed = 0
        self.foreign = 0  # beacons of other namespaces (ignored)
        self.reported = 0
        self._last_report = {}  # beacon identity -> ticks of its last report
        self._our_addresses = {}  # address bytes -> ticks, for TLM frames

    # ---------------------------------------------------------------- IRQ context

    def irq(self, event, data):
        if event != _IRQ_SCAN_RESULT:
            return
        if self._count >= len(self._data):
            self.irq_overflows += 1
            return
        _addr_type, addr, _adv_type, rssi, adv = data
        n = len(adv)
        if n > _SLOT_BYTES:
            n = _SLOT_BYTES
        slot = self._head
        self._data[slot][0:n] = adv[0:n]
        self._len[slot] = n
        self._rssi[slot] = rssi
        self._addr[slot][0:6] = addr[0:6]
        self._head = (slot + 1) % len(self._data)
        self._count += 1

    # ---------------------------------------------------------------- task context

    def drain(self, now=None):
        """Parse what the IRQ copied; return ``[(kind, hex_frame, rssi), ...]`` to report."""
        out = []
        if now is None:
            now = ticks_ms()
        while self._count:
            slot = (self._head - self._count) % len(self._data)
            adv = bytes(self._data[slot][: self._len[slot]])
            rssi = self._rssi[slot]
            addr = bytes(self._addr[slot])
            self._count -= 1  # the slot is free again
            found = self._parse(adv, addr, now)
            if found is None:
                continue
            kind, frame, identity = found
            last = self._last_report.get(identity)
            if last is not None and ticks_diff(now, last) < self.min_interval_ms:
                continue
            if len(self._last_report) >= self.max_beacons and identity not in self._last_report:
                self._forget_oldest(self._last_report)
            self._last_report[identity] = now
            self.reported += 1
            out.append((kind, ble.hex_upper(frame), max(-127, min(20, rssi))))
        return out

    def _parse(self, adv, addr, now):
        try:
            found = ble.beacon_frame(ble.parse_advertising_data(adv))
            if found is None:
                return None
            kind, frame = found
            if kind == "ble_ibeacon":
                beacon = ble.parse_ibeacon(frame)
                if self.ibeacon_uuid is None or beacon.uuid != self.ibeacon_uuid:
                    self.foreign += 1
                    return None
                return kind, frame, beacon.identity()
            parsed = ble.parse_eddystone(frame)
        except ble.MalformedFrame:
            self.malformed += 1
            return None
        if isinstance(parsed, ble.EddystoneUid):
            if self.namespace is None or parsed.namespace != self.namespace:
                self.foreign += 1
                return None
            if len(self._our_addresses) >= self.max_beacons and addr not in self._our_addresses:
                self._forget_oldest(self._our_addresses)
            self._our_addresses[addr] = now
            return kind, frame, parsed.identity()
        if addr in self._our_addresses:  # TLM of one of our beacons
            return kind, frame, "tlm:" + ble.hex_upper(addr)
        self.foreign += 1
        return None

    @staticmethod
    def _forget_oldest(table):
        oldest = None
        for key in table:
            if oldest is None or ticks_diff(table[oldest], table[key]) > 0:
                oldest = key
        if oldest is not None:
            del table[oldest]

    async def run(self, on_beacon):
        """Scan in bursts of window_ms, idle for the rest of the duty cycle, forever."""
        self.radio.start(self.irq)
        off_ms = self.window_ms * (100 - self.duty_percent) // max(1, self.duty_percent)
        while True:
            self.radio.scan(self.window_ms, 100000, 100000 * self.duty_percent // 100 or 10000)
            await sleep_ms(self.window_ms)
            for kind, data, rssi in self.drain():
                await on_beacon(kind, data, rssi)
            await sleep_ms(off_ms)
