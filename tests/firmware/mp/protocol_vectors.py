# Runs the NDEF and BLE golden vectors under any interpreter (MicroPython unix port or
# CPython). Usage: <python> protocol_vectors.py <repo root>. Prints one line per failure
# and a final "ndef/ble vectors: N passed, M failed"; exits 1 on any failure.
import json
import sys

try:
    from binascii import hexlify, unhexlify
except ImportError:
    from ubinascii import hexlify, unhexlify

root = sys.argv[1] if len(sys.argv) > 1 else "."
sys.path.insert(0, root + "/core")
from reemploi.protocol import ble, ndef  # noqa: E402

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def hx(data):
    return hexlify(bytes(data)).decode()


with open(root + "/tests/vectors/ndef.json") as f:
    nd = json.load(f)
for case in nd["valid"]:
    tlv = unhexlify(case["tlv_hex"])
    try:
        check(ndef.uri_from_tlv(tlv) == case["uri"], "tlv " + case["note"])
    except ndef.MalformedNdef as e:
        check(False, "tlv " + case["note"] + " raised " + e.reason)
    if "file_hex" in case:
        check(ndef.uri_tlv(case["uri"]) == tlv, "encode tlv " + case["note"])
        content = unhexlify(case["file_hex"])
        check(ndef.uri_from_file(content) == case["uri"], "file " + case["note"])
        # a reader stops reading once the TLV is complete: the length it computes
        # from the first 16 bytes must be the TLV without its terminator
        check(ndef.tlv_length_needed(tlv[:16]) == len(tlv) - 1, "length " + case["note"])
for case in nd["invalid"]:
    try:
        ndef.uri_from_tlv(unhexlify(case["tlv_hex"]))
        check(False, "accepted " + case["note"])
    except ndef.MalformedNdef as e:
        check(e.reason == case["reason"], case["note"] + ": " + e.reason + " != " + case["reason"])
for case in nd["file_invalid"]:
    try:
        ndef.uri_from_file(unhexlify(case["file_hex"]))
        check(False, "accepted " + case["note"])
    except ndef.MalformedNdef as e:
        check(e.reason == case["reason"], case["note"] + ": " + e.reason)

with open(root + "/tests/vectors/ble.json") as f:
    bv = json.load(f)
for case in bv["valid"]:
    adv = ble.parse_advertising_data(unhexlify(case["adv_hex"]))
    found = ble.beacon_frame(adv)
    if case["kind"] is None:
        check(found is None, "no beacon " + case["note"])
        continue
    check(
        found is not None and found[0] == case["kind"] and hx(found[1]) == case["frame_hex"],
        case["note"],
    )
    frame = unhexlify(case["frame_hex"])
    if "ibeacon" in case:
        b = ble.parse_ibeacon(frame)
        e = case["ibeacon"]
        check(
            hx(b.uuid) == e["uuid"]
            and b.major == e["major"]
            and b.minor == e["minor"]
            and b.tx_power == e["tx_power"],
            "fields " + case["note"],
        )
        check(ble.encode_ibeacon(b) == frame, "encode " + case["note"])
    if "uid" in case:
        u = ble.parse_eddystone(frame)
        e = case["uid"]
        check(
            isinstance(u, ble.EddystoneUid)
            and u.tx_power == e["tx_power"]
            and hx(u.namespace) == e["namespace"]
            and hx(u.instance) == e["instance"],
            "fields " + case["note"],
        )
    if "tlm" in case:
        t = ble.parse_eddystone(frame)
        e = case["tlm"]
        check(
            isinstance(t, ble.EddystoneTlm)
            and t.voltage_mv == e["voltage_mv"]
            and t.temperature == e["temperature"]
            and t.adv_count == e["adv_count"]
            and t.uptime_ds == e["uptime_ds"],
            "fields " + case["note"],
        )
        check(ble.encode_eddystone_tlm(t) == frame, "encode " + case["note"])
for case in bv["invalid"]:
    try:
        adv = ble.parse_advertising_data(unhexlify(case["adv_hex"]))
        ble.beacon_frame(adv)
        check(False, "accepted " + case["note"])
    except ble.MalformedFrame as e:
        check(e.reason == case["reason"], case["note"] + ": " + e.reason + " != " + case["reason"])

print("ndef/ble vectors: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
