# Commands from the platform on reemploi/v1/<site>/<device>/cmd (wire.Command):
#   identify  blink blue, so the installer knows which reader this is
#   set       change settings listed in config.SETTABLE; all values are checked first and
#             the command is refused whole if one is wrong; accepted values apply at once
#             and are kept in overrides.json (read again at every boot)
#   report    publish every counter as a wire.Report, retained, on
#             reemploi/v1/<site>/<device>/report (see Reader.publish_report)
#   reboot    publish a last status, disconnect cleanly, reset the board
# A command that is malformed, has arguments it does not take or names a setting that
# cannot be set is refused: one console line, one count in ``commands_refused``, never an
# exception. QoS 1 may deliver a command twice: an id already run since boot is ignored,
# and so is the id of the reboot that started this boot (saved before resetting).
from reader import config as config_mod
from reader.portable import asyncio, sleep_ms
from reemploi.protocol import wire

REBOOT_ID_FILE = "reboot_id.txt"
_REMEMBERED = 16  # ids of the last commands run, for duplicates


class Commands:
    def __init__(self, reader):
        self.reader = reader
        self.seen = []
        self.overrides = config_mod.read_overrides(reader.path(config_mod.OVERRIDES_PATH))
        self.last_reboot = None
        try:
            with open(reader.path(REBOOT_ID_FILE)) as f:
                self.last_reboot = f.read().strip()
        except OSError:
            pass

    def _refuse(self, what, why):
        self.reader.counters["commands_refused"] += 1
        print("command refused:", what, "-", why)

    def received(self, payload):
        """A message on the cmd topic: check it and run it in its own task. Never raises."""
        try:
            command = wire.decode_command(payload)
        except wire.MalformedMessage as exc:
            self._refuse("?", str(exc))
            return None
        if command.id in self.seen or (command.cmd == "reboot" and command.id == self.last_reboot):
            self.reader.counters["commands_repeated"] += 1
            print("command", command.id, "already run, ignored")
            return None
        if command.cmd != "set" and command.args:
            self._refuse(command.id, command.cmd + " takes no arguments")
            return None
        if command.cmd == "set":
            problems = self._check_set(command.args)
            if problems:
                self._refuse(command.id, "; ".join(problems))
                return None
        self.seen.append(command.id)
        if len(self.seen) > _REMEMBERED:
            self.seen.pop(0)
        return asyncio.create_task(self.run(command))

    def _check_set(self, args):
        if not args:
            return ["set needs at least one setting"]
        problems = []
        for name, value in args.items():
            error = config_mod.check_setting(name, value)
            if error:
                problems.append(name + ": " + error)
        return problems

    async def run(self, command):
        reader = self.reader
        reader.counters["commands"] += 1
        print("command:", command.cmd, command.id)
        try:
            if command.cmd == "identify":
                await reader.feedback.play("identify")
            elif command.cmd == "set":
                self._set(command.args)
                await reader.publish_status()
            elif command.cmd == "report":
                await reader.publish_report(command.id)
            elif command.cmd == "reboot":
                await self._reboot(command.id)
        except Exception as exc:  # a failing command must not take the reader down
            reader.counters["commands_failed"] += 1
            print("command", command.cmd, "failed:", repr(exc))

    def _set(self, args):
        reader = self.reader
        for name, value in args.items():
            config_mod.apply_setting(reader.cfg, name, value)
            self.overrides[name] = value
        reader.settings_changed()
        try:
            config_mod.save_overrides(self.overrides, reader.path(config_mod.OVERRIDES_PATH))
        except OSError as exc:  # flash full: applied until the next boot only
            reader.counters["overrides_unsaved"] += 1
            print("set: cannot save overrides.json, lost at the next boot:", exc)

    async def _reboot(self, ident):
        reader = self.reader
        try:
            with open(reader.path(REBOOT_ID_FILE), "w") as f:
                f.write(ident)
        except OSError as exc:
            print("reboot: cannot save the command id:", exc)
        await reader.publish_status()
        if reader.mqtt is not None:
            await reader.mqtt.disconnect()
        await sleep_ms(200)
        reader.hw.reboot()
