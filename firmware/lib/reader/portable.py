# The few things that differ between MicroPython and CPython, in one place.
# Firmware modules import time-keeping, const() and heap figures from here only.
import time

try:
    from micropython import const  # noqa: F401  (MicroPython: folded at compile time)
except ImportError:  # CPython (reader simulator)

    def const(__value):  # type: ignore  # (positional-only, like micropython.const)
        return __value


try:
    import asyncio
except ImportError:  # very old MicroPython builds
    import uasyncio as asyncio  # type: ignore[no-redef]  # noqa: F401

MICROPYTHON = hasattr(time, "ticks_ms")

if MICROPYTHON:
    ticks_ms = time.ticks_ms  # type: ignore[attr-defined]
    ticks_diff = time.ticks_diff  # type: ignore[attr-defined]
    ticks_add = time.ticks_add  # type: ignore[attr-defined]
else:

    def ticks_ms():
        return int(getattr(time, "monotonic")() * 1000)

    def ticks_diff(new, old):
        return new - old

    def ticks_add(ticks, delta):
        return ticks + delta


def unix_time_ms():
    """Wall clock in Unix ms, or None when the clock has never been set (year < 2024)."""
    now = time.time()
    epoch_offset = 946684800 if MICROPYTHON and time.gmtime(0)[0] == 2000 else 0
    unix = now + epoch_offset
    if unix < 1704067200:  # 2024-01-01: before that the RTC was never synchronised
        return None
    return int(unix * 1000)


async def sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


def heap_free():
    """Free heap in bytes (None on CPython, where it means nothing)."""
    try:
        import gc

        return gc.mem_free()  # type: ignore[attr-defined]
    except AttributeError:
        return None


def collect():
    import gc

    gc.collect()
