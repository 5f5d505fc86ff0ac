"""The gateway's health: one dict, published retained and written to ``health.json``.

Fields (see docs/gateway.md): link state, queue depth, oldest unsent age, counts of
accepted / delivered / duplicates / drops / refused / evidence, alarms, quarantined
outbox file, lots present. ``reemploi-gateway status`` reads the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .outbox import Outbox
from .outbox_store import Quarantine

ALARM_QUARANTINE = "outbox_quarantined"
ALARM_DISK_FULL = "disk_full"
ALARM_CENTRAL_AUTH = "central_auth_refused"
ALARM_CENTRAL_TLS = "central_tls_refused"
ALARM_RELOAD = "reload_refused"

# French first: what a person reads in `reemploi-gateway status`.
ALARM_TEXT = {
    "outbox_high": ("file d'attente presque pleine", "outbox nearly full"),
    "outbox_full": (
        "file d'attente pleine : nouvelles lectures laissées sur le broker local",
        "outbox full: new scans left on the local broker",
    ),
    "central_refused": (
        "le broker central refuse des messages (ACL ?) : retenus avec leurs suivants",
        "central broker refuses messages (ACL?): held with those behind them",
    ),
    "clock_jump": ("l'horloge a reculé", "the clock went back"),
    ALARM_QUARANTINE: (
        "fichier de file d'attente corrompu mis de côté",
        "corrupted outbox file quarantined",
    ),
    ALARM_DISK_FULL: (
        "disque plein : nouvelles lectures laissées sur le broker local",
        "disk full: new scans left on the local broker",
    ),
    ALARM_CENTRAL_AUTH: (
        "le broker central refuse l'identité de la passerelle",
        "central broker refuses the gateway's credentials",
    ),
    ALARM_CENTRAL_TLS: (
        "TLS refusé avec le broker central (certificat)",
        "TLS refused with the central broker (certificate)",
    ),
    ALARM_RELOAD: (
        "rechargement de la configuration refusé, l'ancienne reste en place",
        "configuration reload refused, the previous one stays",
    ),
}


@dataclass
class Extra:
    """What the bridge knows beyond the outbox."""

    local_link: bool = False
    central_error: str | None = None  # why the central link is down, for people
    central_alarm: str | None = None  # central_auth_refused / central_tls_refused
    reloads: int = 0
    reload_error: str | None = None
    evidence: int = 0
    merged_sightings: int = 0
    disk_full: bool = False  # the last write failed with SQLITE_FULL
    disk_error: str | None = None
    local_resumes: int = 0  # reconnections to take deferred reader messages back
    status_relayed: int = 0
    reports_relayed: int = 0  # readers' `report` messages (error counters)
    downlink: int = 0
    lots_present: tuple[str, ...] = ()
    lot_movements: int = 0
    gps_fix: int | None = None  # 2 / 3 while gpsd reports a fix
    held_retries: int = 0
    last_refusal: str | None = None  # "<topic>: 0x87 Not authorized"


def snapshot(
    *,
    site: str,
    gateway: str,
    mode: str,
    outbox: Outbox,
    extra: Extra,
    quarantine: Quarantine | None,
    now: float,
    started: float,
) -> dict[str, Any]:
    alarms = outbox.alarms()
    if quarantine is not None:
        alarms.append(ALARM_QUARANTINE)
    if extra.disk_full:
        alarms.append(ALARM_DISK_FULL)
    if extra.central_alarm:
        alarms.append(extra.central_alarm)
    if extra.reload_error:
        alarms.append(ALARM_RELOAD)
    oldest = outbox.oldest_unsent_age(now)
    c = outbox.counters
    return {
        "gateway": gateway,
        "site": site,
        "mode": mode,
        "state": "online",
        "link": "up" if outbox.link_up else "down",
        "local_link": "up" if extra.local_link else "down",
        "central_error": extra.central_error,
        "reloads": extra.reloads,
        "reload_error": extra.reload_error,
        "queue": outbox.depth,
        "inflight": outbox.in_flight,
        "held": outbox.held,
        "held_topics": outbox.held_streams,
        "held_retries": extra.held_retries,
        "last_refusal": extra.last_refusal,
        "oldest_unsent_s": None if oldest is None else round(oldest, 3),
        "outbox_bytes": outbox.bytes_used,
        "outbox_max_bytes": outbox.max_bytes,
        "accepted": c.accepted,
        "delivered": c.delivered,
        "duplicates": c.duplicates,
        "drops": c.drops,
        "deferred": c.deferred,
        "deferring": outbox.deferring,
        "disk_error": extra.disk_error,
        "local_resumes": extra.local_resumes,
        "refused": c.refused,
        "clock_jumps": c.clock_jumps,
        "evidence": extra.evidence,
        "merged_sightings": extra.merged_sightings,
        "status_relayed": extra.status_relayed,
        "reports_relayed": extra.reports_relayed,
        "downlink": extra.downlink,
        "lots_present": list(extra.lots_present),
        "lot_movements": extra.lot_movements,
        "gps_fix": extra.gps_fix,
        "alarms": alarms,
        "quarantine": None
        if quarantine is None
        else {"file": quarantine.moved_to, "reason": quarantine.reason[:200]},
        "uptime_s": int(max(0.0, now - started)),
        "at": int(now * 1000),
    }


def write_file(path: Path, health: dict[str, Any]) -> bool:
    """Atomic replace, so `status` never reads half a file. False if the disk refused
    (put ``health_file`` on another file system, e.g. /run, to see a full disk)."""
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(health, ensure_ascii=False, indent=1))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def read_file(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe(health: dict[str, Any], now: float) -> str:
    """Human summary, French first then English, for `reemploi-gateway status`."""
    age = now - health.get("at", 0) / 1000
    h = health.get
    lines = [
        f"passerelle / gateway {h('gateway')} (site {h('site')}, {h('mode')})",
        f"  lien central / central link : {health.get('link')}"
        + (f" ({health['central_error']})" if health.get("central_error") else ""),
        f"  broker local / local broker : {health.get('local_link')}",
        f"  en attente / queued : {h('queue')}  (en vol / in flight {h('inflight')})",
        f"  plus ancienne non envoyée / oldest unsent : {health.get('oldest_unsent_s')} s",
        f"  doublons / duplicates : {h('duplicates')}  pertes / drops : {h('drops')}"
        f"  différées / deferred : {h('deferred')}"
        f"  preuves / evidence : {health.get('evidence')}",
        f"  disque / disk : {h('outbox_bytes')} / {h('outbox_max_bytes')} octets/bytes",
        f"  état publié il y a / reported {age:.0f} s ago",
    ]
    for alarm in health.get("alarms", []):
        fr, en = ALARM_TEXT.get(alarm, (alarm, alarm))
        lines.append(f"  ALARME : {fr} / ALARM: {en}")
    for held_topic in health.get("held_topics") or []:
        lines.append(f"  retenu / held : {held_topic}")
    if health.get("quarantine"):
        lines.append(f"  fichier mis de côté / quarantined file : {health['quarantine']['file']}")
    return "\n".join(lines)
