# Runs the wire protocol golden vectors under any interpreter (MicroPython unix port or
# CPython). Usage: <python> wire_vectors.py <repo root>. Prints one line per failure and
# a final "wire vectors: N passed, M failed"; exits 1 on any failure.
import json
import sys

try:
    from binascii import unhexlify
except ImportError:
    from ubinascii import unhexlify

root = sys.argv[1] if len(sys.argv) > 1 else "."
sys.path.insert(0, root + "/core")
from reemploi.protocol import wire  # noqa: E402

with open(root + "/tests/vectors/wire.json") as f:
    doc = json.load(f)

ENC = {
    "scan": wire.encode_scan,
    "status": wire.encode_status,
    "ack": wire.encode_ack,
    "cmd": wire.encode_command,
    "report": wire.encode_report,
}
DEC = {
    "scan": wire.decode_scan,
    "status": wire.decode_status,
    "ack": wire.decode_ack,
    "cmd": wire.decode_command,
    "report": wire.decode_report,
}


def build(kind, f):
    if kind == "scan":
        return wire.Scan(f["device"], f["seq"], f["kind"], f["data"], f["rssi"], f["clock"])
    if kind == "status":
        return wire.Status(
            f["device"],
            f["state"],
            f.get("fw"),
            f.get("uptime"),
            f.get("heap"),
            f.get("queue"),
            f.get("drops"),
            f.get("wifi_rssi"),
            f.get("reset"),
            f.get("clock"),
        )
    if kind == "ack":
        return wire.Ack(f["seq"], f["key"], f["result"], f["reason"], f["duplicate"])
    if kind == "report":
        return wire.Report(f["device"], f["counters"], f["id"], f["clock"])
    return wire.Command(f["id"], f["cmd"], f["args"])


passed = 0
failed = 0
for i, case in enumerate(doc["valid"]):
    expected = case["bytes"].encode("utf-8")
    obj = build(case["type"], case["fields"])
    got = ENC[case["type"]](obj)
    back = DEC[case["type"]](expected)
    if got != expected or back != obj:
        failed += 1
        print("FAIL valid", i, got)
    elif case["type"] == "scan" and obj.key != case["fields"]["key"]:
        failed += 1
        print("FAIL key", i)
    else:
        passed += 1

for i, case in enumerate(doc["invalid"]):
    if "payload_hex" in case:
        payload = unhexlify(case["payload_hex"])
    else:
        payload = case["payload"].encode("utf-8")
    try:
        DEC[case["type"]](payload)
        failed += 1
        print("FAIL invalid accepted", i)
    except wire.MalformedMessage as e:
        if e.reason == case["reason"]:
            passed += 1
        else:
            failed += 1
            print("FAIL invalid", i, "reason", e.reason, "expected", case["reason"])

for name, parts in doc["topics"]["valid"]:
    if list(wire.parse_topic(name)) == parts and wire.topic(parts[0], parts[1], parts[2]) == name:
        passed += 1
    else:
        failed += 1
        print("FAIL topic", name)
for name in doc["topics"]["invalid"]:
    try:
        wire.parse_topic(name)
        failed += 1
        print("FAIL topic accepted", name)
    except wire.MalformedMessage:
        passed += 1

print("wire vectors: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
