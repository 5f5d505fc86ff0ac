"""The messages devices send about themselves — status, report — and the evidence a
gateway forwards: the part of an ingest batch that is not about tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, select, update

from reemploi.protocol import gateway_msgs, wire

from ..db.tables import devices

if TYPE_CHECKING:
    from .pipeline import BatchResult, Incoming

_M = TypeVar("_M")


class DeviceMessages:
    """Mixed into the ingest batch (``pipeline._Batch``), which provides these:"""

    out: BatchResult
    dead_rows: list[dict[str, Any]]
    status_rows: dict[str, dict[str, Any]]
    report_rows: dict[str, dict[str, Any]]

    def dead(self, msg: Incoming, reason: str, detail: str, device: str | None) -> None:
        raise NotImplementedError

    def count(self, name: str, n: int = 1) -> None:
        raise NotImplementedError

    def evidence(self, msg: Incoming, gateway_id: str) -> None:
        """A reader message a gateway could not accept: kept as a dead letter with the
        gateway's reason, attributed to the reader it came from."""
        try:
            ev = gateway_msgs.decode_evidence(msg.payload)
        except wire.MalformedMessage as exc:
            self.dead(msg, exc.reason, exc.detail, gateway_id)
            return
        reader: str | None = None
        try:
            reader = wire.parse_topic(ev.topic)[1]
        except wire.MalformedMessage:
            reader = None
        self.dead_rows.append(
            {
                "received_at": msg.received_at,
                "topic": ev.topic,
                "payload": ev.payload,
                "reason": ev.reason,
                "detail": f"via {gateway_id} ({ev.size} octets) : {ev.detail}"[:300],
                "device_id": reader,
            }
        )
        self.count("evidence")
        self.count("dead_letter:" + ev.reason)

    def own_message(
        self, msg: Incoming, device_id: str, decode: Callable[[bytes], _M]
    ) -> _M | None:
        """Decode a device's own message (status, report); a malformed one, or one naming
        another device than its topic, becomes a dead letter."""
        try:
            message = decode(msg.payload)
        except wire.MalformedMessage as exc:
            self.dead(msg, exc.reason, exc.detail, device_id)
            return None
        named = getattr(message, "device", None)
        if named != device_id:
            self.dead(msg, "device_mismatch", f"sujet {device_id}, message {named}", device_id)
            return None
        return message

    def status(self, msg: Incoming, site: str, device_id: str) -> None:
        status = self.own_message(msg, device_id, wire.decode_status)
        if status is None:
            return
        self.count("status")
        self.out.statuses.append((site, status, msg.received_at))
        self.status_rows[device_id] = {
            "online": status.state == wire.STATE_ONLINE,
            "last_seen": msg.received_at,
            "status": dict(status.fields()),
        }

    def report(self, msg: Incoming, device_id: str) -> None:
        """A reader's error counters: kept under ``status["report"]`` of the device."""
        report = self.own_message(msg, device_id, wire.decode_report)
        if report is None:
            return
        self.count("report")
        self.report_rows[device_id] = {
            **dict(report.fields()),
            "received_at": msg.received_at.isoformat(),
        }

    def device_status(self, conn: Connection) -> None:
        """Write the batch's statuses and reports into ``devices.status``: a status keeps
        the device's last report, a report keeps the status fields."""
        ids = sorted(set(self.status_rows) | set(self.report_rows))
        if not ids:
            return
        stored: dict[str, dict[str, Any]] = {}
        for row in conn.execute(
            select(devices.c.id, devices.c.status).where(devices.c.id.in_(ids))
        ):
            stored[row.id] = row.status if isinstance(row.status, dict) else {}
        for device_id in ids:
            old = stored.get(device_id, {})
            values = dict(self.status_rows.get(device_id, {}))
            status = dict(values.get("status", old))
            report = self.report_rows.get(device_id, old.get("report"))
            if report is not None:
                status["report"] = report
            values["status"] = status
            conn.execute(update(devices).where(devices.c.id == device_id).values(**values))
