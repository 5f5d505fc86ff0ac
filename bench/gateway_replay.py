"""Gateway replay benchmark: replay rate after an outage beside the raw broker publish
rate measured in the same run, and the gateway's resident memory with N queued scans.

    .venv/bin/python bench/gateway_replay.py [--scans 100000] [--window 200]

Two throwaway Mosquitto brokers (tests/support) on 127.0.0.1; the gateway runs as its
real program (``reemploi-gateway run``). The outbox is filled while the central broker
is down, RSS is read from /proc once every scan is loaded, then the central broker comes
back and we time until the outbox is empty (every scan PUBACKed by the broker). The raw
rate is one paho client publishing the same payloads at QoS 1 with the same in-flight
window. Both share the machine's 2 cores with the brokers: compare the ratio.
Both brokers run with ``max_queued_messages 0`` (unlimited), as INFRA.md advises.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "gateway"), str(ROOT / "core"),
                str(ROOT / "gateway")]  # fmt: skip

import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402
from gateway_harness import GatewayProcess, reader_scans  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from support.services import Mosquitto, MosquittoSettings  # noqa: E402

from reemploi.protocol.wire import encode_scan  # noqa: E402

BROKER = MosquittoSettings(max_queued_messages=0)


def payloads(n: int, readers: int = 10) -> list[tuple[str, bytes, str]]:
    out = []
    per = n // readers
    for r in range(readers):
        device = f"reader-{r}"
        for s in reader_scans(device, per):
            out.append((f"reemploi/v1/site-test/{device}/scan", encode_scan(s), s.key))
    return out


def raw_publish_rate(port: int, items: list[tuple[str, bytes, str]], window: int) -> float:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-bench", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    done = {"n": 0}
    client.on_publish = lambda *_a: done.__setitem__("n", done["n"] + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    for topic, payload, _key in items:
        client.publish(topic, payload, qos=1)
    while done["n"] < len(items):
        time.sleep(0.005)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return len(items) / elapsed


def fill_outbox(state: Path, items: list[tuple[str, bytes, str]]) -> None:
    from reemploi.gateway.outbox_store import NewMessage, OutboxStore

    store = OutboxStore(state / "outbox.sqlite3", synchronous="NORMAL")
    now = time.time()
    for start in range(0, len(items), 5000):
        chunk = items[start : start + 5000]
        store.add_many([NewMessage(k, t, p, now) for t, p, k in chunk])
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    items = payloads(args.scans)
    with Mosquitto(BROKER) as local, Mosquitto(BROKER) as central:
        raw = raw_publish_rate(central.port, items[: min(len(items), 50_000)], args.window)
        central.stop()
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "gw"
            state.mkdir()
            fill_outbox(state, items)
            gateway = GatewayProcess(
                state, local.port, central.port, window=str(args.window),
                outbox_max_bytes=str(2 << 30),
            ).start()  # fmt: skip
            try:
                gateway.wait_health(lambda h: h["queue"] == len(items), timeout=120)
                assert gateway.proc is not None
                rss = psutil.Process(gateway.proc.pid).memory_info().rss
                central.start()
                start = time.perf_counter()
                gateway.wait_health(lambda h: h["link"] == "up", timeout=60)
                connected = time.perf_counter()
                gateway.wait_health(lambda h: h["queue"] == 0, timeout=600)
                elapsed = time.perf_counter() - connected
            finally:
                gateway.stop()
    result = {
        "scans": len(items),
        "window": args.window,
        "raw_publish_qos1_per_s": round(raw),
        "gateway_replay_per_s": round(len(items) / elapsed),
        "replay_vs_raw": round(len(items) / elapsed / raw, 2),
        "reconnect_s": round(connected - start, 2),
        "gateway_rss_mib_with_queue": round(rss / 2**20, 1),
        "note": "health file polled every 0.1 s (reported every 0.3 s): replay time is rounded up",
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
