# Feeding the hardware watchdog (machine.WDT on the board) only while the reader works.
#
# Feeding from a task of its own is not enough: that task would go on running while
# another one hangs on an await. So each of the reader's loops beats at every turn and
# says how long its next turn may legitimately take; the watchdog task feeds the chip
# only when every loop has beaten within its own limit. Two kinds of hang end in a reset:
#   - the event loop is blocked (a driver spinning without await): nothing runs, nothing
#     feeds, the chip resets after watchdog_ms;
#   - one loop is stuck on an await: its beat grows old, feeding stops (said once on the
#     console), the chip resets watchdog_ms later.
# After the reset the status message says reset cause "watchdog".
from reader.portable import sleep_ms, ticks_diff, ticks_ms


class LoopWatchdog:
    def __init__(self, wdt, timeout_ms):
        self.wdt = wdt  # .feed()
        self.timeout_ms = timeout_ms  # the chip's timeout (config watchdog_ms)
        self.feeds = 0
        self.stuck = None  # name of the loop that stopped feeding, None while healthy
        self._beats = {}  # loop name -> [ticks of its last beat, allowed gap in ms]

    def beat(self, name, allowed_ms):
        """``name`` made progress; its next beat is due within ``allowed_ms``."""
        entry = self._beats.get(name)
        if entry is None:
            self._beats[name] = [ticks_ms(), allowed_ms]
        else:
            entry[0] = ticks_ms()
            entry[1] = allowed_ms

    def late(self, now=None):
        """Name of a loop that missed its beat, or None when all are on time."""
        now = ticks_ms() if now is None else now
        for name, entry in self._beats.items():
            if ticks_diff(now, entry[0]) > entry[1]:
                return name
        return None

    def feed_if_healthy(self):
        late = self.late()
        if late is None:
            if self.stuck is not None:
                print("watchdog: loop", self.stuck, "running again")
            self.stuck = None
            self.wdt.feed()
            self.feeds += 1
            return True
        if self.stuck != late:
            self.stuck = late
            print("watchdog: loop", late, "stuck, watchdog no longer fed: reset in",
                  self.timeout_ms, "ms")
        return False

    async def run(self):
        while True:
            self.feed_if_healthy()
            await sleep_ms(max(50, min(5000, self.timeout_ms // 4)))
