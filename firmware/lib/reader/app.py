# The reader application: tasks for NFC polling, BLE scanning, the MQTT link, the
# offline-queue sender, status reports and the watchdog, all on one asyncio loop.
#
# A tap: sequence number -> scan queued on flash -> published (QoS 1) -> the platform's
# ack plays accept/refuse/unknown; no ack within ack_timeout_ms plays "queued" and the
# scan stays queued until an ack arrives (published again after each reconnect).
#
# ``hw`` bundles the hardware behind small interfaces (reader.esp32.Hardware on the
# board, reader.sim.hardware.SimHardware on a PC): spi, cs, rst, led, buzzer, ble_radio,
# wifi (connect(networks) coroutine, connected(), rssi()), watchdog (feed(), the chip's
# timer started with the config's watchdog_ms), reset_cause(), reboot().
from reader import FIRMWARE_VERSION
from reader import config as config_mod
from reader.ble_scanner import BleScanner
from reader.commands import Commands
from reader.feedback import Feedback
from reader.mfrc522 import Mfrc522
from reader.mqtt_client import MqttClient, MqttError, tls_context
from reader.nfc_reader import NfcReader
from reader.portable import asyncio, collect, heap_free, sleep_ms, ticks_diff, ticks_ms, unix_time_ms
from reader.scan_queue import OfflineQueue
from reader.sequence import SequenceCounter
from reader.watchdog import LoopWatchdog
from reemploi.protocol import wire


class Reader:
    def __init__(self, cfg, hw, data_dir=""):
        self.cfg = cfg
        self.hw = hw
        self.started_ms = ticks_ms()
        prefix = data_dir + "/" if data_dir else ""
        self.data_dir = data_dir
        self.queue = OfflineQueue(prefix + "queue.log", cfg["queue"]["max_scans"])
        self.seq = SequenceCounter(prefix + "seq.txt")
        self.feedback = Feedback(hw.led, hw.buzzer, cfg["feedback"])
        self.nfc = NfcReader(Mfrc522(hw.spi, hw.cs, hw.rst), cfg["nfc"]["same_tag_holdoff_ms"])
        self.ble = None
        if cfg["ble"]["enabled"] and hw.ble_radio is not None:
            b = cfg["ble"]
            self.ble = BleScanner(hw.ble_radio, b["namespace"], b["ibeacon_uuid"], b["min_interval_s"],
                                  b["window_ms"], b["duty_percent"])
        self.configured = config_mod.is_configured(cfg)
        self.counters = {"scans": 0, "acks": 0, "queued_feedback": 0, "bad_messages": 0,
                         "commands": 0, "commands_refused": 0, "commands_repeated": 0,
                         "commands_failed": 0, "overrides_unsaved": 0, "publish_failures": 0}
        self.commands = Commands(self)
        self._acks = {}  # key -> [Event, Ack or None] for scans waiting for feedback
        self._kick = asyncio.Event()
        self.watchdog = LoopWatchdog(hw.watchdog, cfg["watchdog_ms"])
        self.mqtt = None
        if self.configured:
            self._topics()
            self.mqtt = self._make_client()

    # ---------------------------------------------------------------- set-up

    def path(self, name):
        """Where a file of this reader lives (its data dir; the flash root on the board)."""
        return self.data_dir + "/" + name if self.data_dir else name

    def settings_changed(self):
        """Pass settings the `set` command changed to the parts that copied them."""
        self.nfc.holdoff_ms = self.cfg["nfc"]["same_tag_holdoff_ms"]
        if self.ble is not None:
            b = self.cfg["ble"]
            self.ble.min_interval_ms = b["min_interval_s"] * 1000
            self.ble.window_ms = b["window_ms"]
            self.ble.duty_percent = b["duty_percent"]

    def _topics(self):
        site, device = self.cfg["site"], self.cfg["device"]
        self.t_scan = wire.topic(site, device, "scan")
        self.t_status = wire.topic(site, device, "status")
        self.t_ack = wire.topic(site, device, "ack")
        self.t_cmd = wire.topic(site, device, "cmd")
        self.t_report = wire.topic(site, device, "report")  # the answer to `report`

    def _make_client(self):
        b = self.cfg["broker"]
        tls = None
        if b["tls"]:
            try:
                tls = tls_context({"cafile": b["cafile"], "certfile": b["certfile"], "keyfile": b["keyfile"]})
            except Exception as exc:  # missing/bad CA file: say so, do not crash-loop
                print("config: broker TLS files unreadable (" + repr(exc) + "): no connection")
                self.configured = False
                return None
        return MqttClient(b["host"], b["port"], self.cfg["device"], b["keepalive_s"], b["user"],
                          b["password"], tls, (self.t_status, wire.offline_status(self.cfg["device"]), True),
                          self._on_message)

    # ---------------------------------------------------------------- taps

    async def handle_tag(self, kind, data, rssi=None, wait_feedback=True):
        """Record one reading: queue, publish, and play the feedback. Returns the pattern."""
        if not self.configured:
            await self.feedback.play("error")
            print("reader: not configured, scan ignored (see config.json)")
            return "error"
        scan = wire.Scan(self.cfg["device"], self.seq.next(), kind, data, rssi, unix_time_ms())
        entry = self.queue.push(scan)
        self.counters["scans"] += 1
        if not wait_feedback:
            self._kick.set()
            return None
        waiter = [asyncio.Event(), None]
        self._acks[entry.key] = waiter
        self._kick.set()
        try:
            await asyncio.wait_for(waiter[0].wait(), self.cfg["ack_timeout_ms"] / 1000)
        except asyncio.TimeoutError:
            pass
        finally:
            self._acks.pop(entry.key, None)
        ack = waiter[1]
        pattern = ack.feedback if ack is not None else "queued"
        if ack is None:
            self.counters["queued_feedback"] += 1
        await self.feedback.play(pattern)
        return pattern

    async def nfc_loop(self):
        while True:
            # one turn: a poll, then at most the ack wait and a feedback pattern
            self.watchdog.beat("nfc", self.cfg["ack_timeout_ms"] + self.cfg["nfc"]["poll_ms"] + 2000)
            read = self.nfc.poll()
            if read is not None:
                await self.handle_tag(read.kind, read.data)
            await sleep_ms(self.cfg["nfc"]["poll_ms"])

    async def _on_beacon(self, kind, data, rssi):
        await self.handle_tag(kind, data, rssi, wait_feedback=False)

    # ---------------------------------------------------------------- MQTT

    def _on_message(self, topic, payload):
        if topic == self.t_ack:
            try:
                ack = wire.decode_ack(payload)
            except wire.MalformedMessage as exc:
                self.counters["bad_messages"] += 1
                print("ack refused:", exc.reason)
                return
            self.counters["acks"] += 1
            self.queue.acknowledge(ack.key)
            waiter = self._acks.get(ack.key)
            if waiter is not None:
                waiter[1] = ack
                waiter[0].set()
        elif topic == self.t_cmd:
            self.commands.received(payload)

    async def _on_up(self):
        if self.mqtt is None:
            return
        await self.mqtt.subscribe([(self.t_ack, 1), (self.t_cmd, 1)])
        self.queue.link_restarted()
        await self.publish_status()
        self._kick.set()

    def _publish_budget_ms(self):
        """Longest a QoS 1 publish may take before the client gives the link up."""
        mqtt = self.mqtt
        if mqtt is None:
            return 0
        return mqtt.ack_timeout_ms * (mqtt.retries + 1) + 2000

    async def sender_loop(self):
        """Publish queued scans whenever the link is up: new ones, then overdue ones."""
        while True:
            self.watchdog.beat("sender", 3000 + self._publish_budget_ms())
            try:
                await asyncio.wait_for(self._kick.wait(), 1)
            except asyncio.TimeoutError:
                pass
            self._kick = asyncio.Event()
            await self.sender_loop_once()

    async def sender_loop_once(self):
        mqtt = self.mqtt
        if mqtt is None or not mqtt.connected:
            return
        resend_ms = self.cfg["queue"]["resend_s"] * 1000
        for entry in self.queue.due(ticks_ms(), resend_ms, ticks_diff):
            if entry not in self.queue.entries:
                continue  # acknowledged meanwhile
            self.watchdog.beat("sender", 3000 + self._publish_budget_ms())
            try:
                await mqtt.publish(self.t_scan, entry.payload, 1)
                entry.sent_ms = ticks_ms()
            except MqttError:
                self.counters["publish_failures"] += 1
                break  # link down: everything stays queued

    # ---------------------------------------------------------------- health

    def status(self):
        wifi = self.hw.wifi
        return wire.Status(
            self.cfg["device"] or "unconfigured",
            wire.STATE_ONLINE,
            FIRMWARE_VERSION,
            ticks_diff(ticks_ms(), self.started_ms) // 1000,
            heap_free(),
            len(self.queue),
            self.queue.drops,
            wifi.rssi() if wifi.connected() else None,
            self.hw.reset_cause(),
            unix_time_ms(),
        )

    def error_counts(self):
        """Every error counter, for the console and the `report` command."""
        out = {}
        for name, value in self.nfc.errors.items():
            out["nfc_" + name] = value
        out["nfc_collisions_resolved"] = self.nfc.collisions_resolved
        out["queue_flash_errors"] = self.queue.flash_errors
        out["queue_corrupt_lines"] = self.queue.corrupt_lines
        out["seq_flash_errors"] = self.seq.errors
        if self.mqtt is not None:
            for name, value in self.mqtt.counters.items():
                out["mqtt_" + name] = value
        if self.ble is not None:
            out["ble_malformed"] = self.ble.malformed
            out["ble_irq_overflows"] = self.ble.irq_overflows
        for name, value in self.counters.items():
            out[name] = value
        return out

    async def publish_status(self):
        if self.mqtt is None or not self.mqtt.connected:
            return
        try:
            await self.mqtt.publish(self.t_status, wire.encode_status(self.status()), 1, True)
        except MqttError:
            pass

    async def status_loop(self):
        while True:
            interval_ms = self.cfg["status_interval_s"] * 1000
            self.watchdog.beat("status", interval_ms + self._publish_budget_ms() + 3000)
            await sleep_ms(interval_ms)
            collect()
            await self.publish_status()

    async def watchdog_loop(self):
        # fed only while the nfc, sender and status loops all make progress (see
        # reader.watchdog): a blocking driver or a task hung on an await resets us
        self.watchdog.timeout_ms = self.cfg["watchdog_ms"]
        await self.watchdog.run()

    # ---------------------------------------------------------------- commands

    def report_payload(self, command_id):
        """The answer to `report`: a wire.Report, counters sorted by name (same bytes on
        every interpreter)."""
        report = wire.Report(self.cfg["device"], self.error_counts(), command_id, unix_time_ms())
        return wire.encode_report(report)

    async def publish_report(self, command_id=None):
        """The `report` command: every error counter, published retained on
        reemploi/v1/<site>/<device>/report (and printed on the console), then a status."""
        print("report:", self.error_counts())
        if self.mqtt is not None and self.mqtt.connected:
            try:
                await self.mqtt.publish(self.t_report, self.report_payload(command_id), 1, True)
            except MqttError:
                self.counters["publish_failures"] += 1
        await self.publish_status()

    # ---------------------------------------------------------------- main

    async def _ensure_wifi(self):
        if not self.hw.wifi.connected():
            await self.hw.wifi.connect(self.cfg["wifi"])
            if not self.hw.wifi.connected():
                raise MqttError("no Wi-Fi")

    async def link_loop(self):
        if self.mqtt is not None:
            await self.mqtt.run(self._on_up, None, self._ensure_wifi)

    def tasks(self):
        out: list = [self.watchdog_loop(), self.sender_loop(), self.status_loop()]
        if self.cfg["nfc"]["enabled"]:
            out.append(self.nfc_loop())
        if self.ble is not None:
            out.append(self.ble.run(self._on_beacon))
        if self.mqtt is not None:
            out.append(self.link_loop())
        return out

    async def run(self):
        await asyncio.gather(*self.tasks())


def main(config_path="config.json", hw=None):
    """Board entry point (called by main.py): load config, build hardware, run forever."""
    cfg, problems = config_mod.load(config_path)
    config_mod.report(problems)
    if hw is None:
        from reader import esp32

        hw = esp32.Hardware(cfg)
    reader = Reader(cfg, hw)
    print("reader", FIRMWARE_VERSION, "device", cfg["device"], "site", cfg["site"],
          "queued", len(reader.queue))
    asyncio.run(reader.run())
