"""Write the generated files, check them, or push the dashboards to a running Grafana."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import DASHBOARDS, render_dashboards
from .provisioning import FOLDER_TITLE, FOLDER_UID, provisioning_files

JSON_DIR = "json"
PROVISIONING_DIR = "provisioning"


def generated_files() -> dict[str, str]:
    """Path relative to the ``dashboards/`` folder → exact text that must be committed."""
    files = {f"{JSON_DIR}/{name}": text for name, text in render_dashboards().items()}
    for name, text in provisioning_files().items():
        files[f"{PROVISIONING_DIR}/{name}"] = text
    return files


def write_generated(root: Path) -> list[Path]:
    written = []
    for relative, text in generated_files().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def differences(root: Path) -> list[str]:
    """Files that are missing or differ from what the code generates."""
    problems = []
    for relative, text in generated_files().items():
        path = root / relative
        if not path.exists():
            problems.append(f"{relative}: absent / missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative}: diffère du code / differs from the generator")
    expected = {name for name in generated_files() if name.startswith(JSON_DIR)}
    for path in sorted((root / JSON_DIR).glob("*.json")):
        if f"{JSON_DIR}/{path.name}" not in expected:
            problems.append(f"{JSON_DIR}/{path.name}: en trop / not generated")
    return problems


@dataclass(frozen=True)
class PushResult:
    uid: str
    title: str
    status: str
    url: str | None


def push_payloads(folder_uid: str = FOLDER_UID, message: str | None = None) -> list[dict[str, Any]]:
    """The bodies of ``POST /api/dashboards/db``, one per dashboard."""
    payloads = []
    for name, text in render_dashboards().items():
        dashboard = json.loads(text)
        dashboard.pop("id", None)
        payloads.append(
            {
                "dashboard": dashboard,
                "folderUid": folder_uid,
                "overwrite": True,
                "message": message or f"reemploi-dashboards push ({name})",
            }
        )
    return payloads


def push(
    url: str,
    credential: str | tuple[str, str] | None,
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout_s: float = 10.0,
) -> list[PushResult]:
    """Create the folder if needed, then create or overwrite every dashboard."""
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaClientError

    api = GrafanaApi.from_url(url, credential=credential, timeout=timeout_s)
    try:
        api.folder.get_folder(folder_uid)
    except GrafanaClientError as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        api.folder.create_folder(folder_title, uid=folder_uid)
    results = []
    for payload in push_payloads(folder_uid):
        answer = api.dashboard.update_dashboard(payload)
        results.append(
            PushResult(
                uid=str(payload["dashboard"]["uid"]),
                title=str(payload["dashboard"]["title"]),
                status=str(answer.get("status", "")),
                url=answer.get("url"),
            )
        )
    return results


__all__ = ["DASHBOARDS", "PushResult", "differences", "generated_files", "push", "write_generated"]
