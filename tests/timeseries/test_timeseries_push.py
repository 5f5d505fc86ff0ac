"""``reemploi-dashboards push`` through grafana-client's real HTTP path.

Grafana cannot run on the build machines, so a small HTTP server on 127.0.0.1 answers
the three Grafana API calls the push makes (folder lookup, folder creation, dashboard
save) the way Grafana 11 documents them, and records what it received."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reemploi.server.timeseries.dashboards.publish import push
from reemploi.server.timeseries.dashboards_cli import main as dashboards_main


class GrafanaApiStandIn(ThreadingHTTPServer):
    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.folders: dict[str, str] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GrafanaApiStandIn

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.token}":
            return True
        self._answer(401, {"message": "Unauthorized"})
        return False

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path))
        if not self._authorised():
            return
        uid = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/api/folders/") and uid in self.server.folders:
            self._answer(200, {"uid": uid, "title": self.server.folders[uid]})
        else:
            self._answer(404, {"message": "folder not found"})

    def do_POST(self) -> None:
        self.server.requests.append(("POST", self.path))
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/folders":
            self.server.folders[body["uid"]] = body["title"]
            self._answer(200, {"uid": body["uid"], "title": body["title"]})
        elif self.path == "/api/dashboards/db":
            if body.get("folderUid") not in self.server.folders:
                self._answer(400, {"message": "folder not found"})
                return
            uid = body["dashboard"]["uid"]
            self.server.dashboards[uid] = body
            self._answer(200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x"})
        else:
            self._answer(404, {"message": "not found"})


@pytest.fixture
def grafana() -> Iterator[GrafanaApiStandIn]:
    server = GrafanaApiStandIn(token="glsa_jeton_de_test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_push_creates_the_folder_then_every_dashboard(grafana: GrafanaApiStandIn) -> None:
    results = push(grafana.url, "glsa_jeton_de_test")
    assert grafana.folders == {"reemploi": "Réemploi"}
    assert {r.uid for r in results} == set(grafana.dashboards) and len(results) == 6
    assert all(r.status == "success" for r in results)
    flux = grafana.dashboards["reemploi-flux"]
    assert flux["overwrite"] is True and flux["dashboard"]["title"] == "Flux de la métropole"
    again = push(grafana.url, "glsa_jeton_de_test")  # idempotent: overwrite, no new folder
    assert len(again) == 6 and grafana.requests.count(("POST", "/api/folders")) == 1


def test_push_command_reports_a_refused_token(
    grafana: GrafanaApiStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", "mauvais")
    assert dashboards_main(["push", "--url", grafana.url]) == 2
    assert "échec de l'envoi à Grafana" in capsys.readouterr().err
    assert grafana.dashboards == {}
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_jeton_de_test")
    assert dashboards_main(["push", "--url", grafana.url]) == 0
    assert len(grafana.dashboards) == 6
