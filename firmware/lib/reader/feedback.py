# LED and buzzer patterns the staff learn once: what each one means is in the README.
#   accept   green, one short beep          custody recorded
#   queued   amber (red+green), one low beep  network down: kept, will be sent
#   refuse   red, two beeps                  refused: the reason is on the platform
#   unknown  red+blue (purple), one long low beep  tag not known to the platform
#   error    red blinking, three beeps       reader problem (config, chip)
#   identify blue blinking                   "which reader is this?"
# Interfaces: led.color(r, g, b) with 0/1 values; buzzer.tone(hz, volume_percent),
# buzzer.off().
from reader.portable import sleep_ms

# pattern -> (steps of (r, g, b, tone_hz or 0, ms))
PATTERNS = {
    "accept": ((0, 1, 0, 2700, 120), (0, 1, 0, 0, 880)),
    "queued": ((1, 1, 0, 1500, 150), (1, 1, 0, 0, 850)),
    "refuse": ((1, 0, 0, 900, 120), (1, 0, 0, 0, 80), (1, 0, 0, 900, 120), (1, 0, 0, 0, 680)),
    "unknown": ((1, 0, 1, 1200, 400), (1, 0, 1, 0, 600)),
    "error": ((1, 0, 0, 600, 100), (0, 0, 0, 0, 100)) * 3,
    "identify": ((0, 0, 1, 0, 250), (0, 0, 0, 0, 250)) * 6,
}


class Feedback:
    def __init__(self, led, buzzer, settings):
        self.led = led
        self.buzzer = buzzer
        self.settings = settings  # the config's "feedback" dict (changed live by `set`)
        self.played = []  # last patterns, for status and tests
        self._busy = False

    async def play(self, name):
        steps = PATTERNS.get(name)
        if steps is None:
            return
        self.played.append(name)
        if len(self.played) > 16:
            self.played = self.played[-8:]
        self._busy = True
        try:
            for r, g, b, hz, ms in steps:
                if self.settings.get("led", True):
                    self.led.color(r, g, b)
                if hz and self.settings.get("buzzer", True):
                    self.buzzer.tone(hz, self.settings.get("volume", 50))
                else:
                    self.buzzer.off()
                await sleep_ms(ms)
        finally:
            self.buzzer.off()
            self.led.color(0, 0, 0)
            self._busy = False
