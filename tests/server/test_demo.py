"""``reemploi-demo``, the main job: starts with nothing installed, prints its URL, serves
the French live page and a live feed, stops cleanly on Ctrl-C, and a second run keeps the
data."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from reemploi.server.db.engine import make_engine
from reemploi.server.ledger import verify


def start_demo(data: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    """Start the demo; a thread keeps reading its output into the returned list."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reemploi.server.demo.main",
            "--data-dir",
            str(data),
            "--interval",
            "0.1",
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"Page en direct : (http://127\.0\.0\.1:\d+/)", line)
        if match:
            url = match.group(1)
    assert url, "".join(lines)
    stream = proc.stdout
    threading.Thread(target=lambda: lines.extend(stream), daemon=True).start()
    return proc, url, lines


def stop_demo(proc: subprocess.Popen[str], lines: list[str]) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    time.sleep(0.2)
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "ERROR" not in out, out
    return out


def test_demo_serves_live_french_page_and_stops_cleanly_then_resumes(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    proc, url, lines = start_demo(data)
    try:
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and 'lang="fr"' in page.text
        with httpx.stream("GET", url + "api/live", timeout=20) as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["type"] == "custody":
                        break
        assert event is not None and event["type"] == "custody"
        assert event["step"] in {
            "collect",
            "receive",
            "inspect",
            "erase_data",
            "refurbish",
            "list",
            "recycle",
        }
        time.sleep(2)
        stock = httpx.get(url + "api/stock", timeout=10).json()
        sites = httpx.get(url + "api/sites", timeout=10).json()
        ids = {s["id"] for s in sites}
        assert {"cp-grenoble-hdv", "tri-sassenage", "recyclage-domene"} <= ids
        assert any(s["commune"] == "Échirolles" for s in sites)
        assert stock["total"] >= 0
        # the marketplace is reachable with the demonstration accounts the banner names
        with httpx.Client(base_url=url, timeout=30) as market:
            login = market.post(
                "api/market/session",
                json={"email": "workshop@demo.reemploi.example", "password": "demo-reemploi-2026"},
            )
            assert login.status_code == 200, login.text
            assert market.get("api/market/me").json()["user"]["email"] == (
                "workshop@demo.reemploi.example"
            )
            wrong = market.post(
                "api/market/session",
                json={
                    "email": "workshop@demo.reemploi.example",
                    "password": "mot-de-passe-faux-2026",
                },
            )
            assert wrong.status_code == 422 and "mot de passe" in wrong.json()["message"]
    finally:
        out = stop_demo(proc, lines)
    assert "(nouvelles)" in out
    assert "Place de marché" in out and "demo-reemploi-2026" in out
    first = int(re.search(r"Registre : (\d+) événements", out).group(1))  # type: ignore[union-attr]
    assert first > 24
    proc, url, lines = start_demo(data)
    time.sleep(3)
    out = stop_demo(proc, lines)
    assert "(reprises)" in out
    second = int(re.search(r"Registre : (\d+) événements", out).group(1))  # type: ignore[union-attr]
    assert second > first
    engine = make_engine(f"sqlite:///{data / 'reemploi.db'}")
    with engine.connect() as conn:
        assert verify(conn) == []
    engine.dispose()
