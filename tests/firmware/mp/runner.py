# Runs the test_* functions of one firmware test module under MicroPython or CPython.
# Usage: <python> runner.py <repo root> <module name> [parameters JSON file]
# (a file, not an argument: this micropython build aborts on arguments over 255 bytes)
# Each test takes the parameters dict as its one argument; async tests are run with
# asyncio. Prints "ok name" / "FAIL name: error" lines, then "N passed, M failed".
import json
import sys

root = sys.argv[1]
name = sys.argv[2]
params = {}
if len(sys.argv) > 3:
    with open(sys.argv[3]) as f:
        params = json.load(f)
params["root"] = root
sys.path.insert(0, root + "/tests/firmware/mp")
sys.path.insert(0, root + "/core")
sys.path.insert(0, root + "/firmware/lib")

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

module = __import__(name)
only = params.get("only")
passed = 0
failed = 0
for attr in sorted(dir(module)):
    if not attr.startswith("test_") or (only and attr not in only):
        continue
    fn = getattr(module, attr)
    try:
        result = fn(params)
        if result is not None and hasattr(result, "send"):
            asyncio.run(result)
            asyncio.new_event_loop()
        passed += 1
        print("ok", attr)
    except Exception as exc:
        failed += 1
        print("FAIL", attr + ":", repr(exc))
        try:
            sys.print_exception(exc)
        except AttributeError:
            import traceback

            traceback.print_exception(exc)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
