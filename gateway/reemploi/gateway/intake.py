"""What to do with one message from the local broker, pure.

A valid scan is forwarded byte for byte (its key is the reader's content); a valid
status or report is relayed (latest per topic wins); anything malformed becomes
:class:`Evidence` with the decoder's reason code, stored and forwarded like a scan:
nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from reemploi.protocol.gateway_msgs import (
    KIND_EVIDENCE,
    encode_evidence,
    gateway_topic,
    make_evidence,
)
from reemploi.protocol.wire import (
    MalformedMessage,
    Scan,
    decode_report,
    decode_scan,
    decode_status,
    parse_topic,
)

from .outbox_store import NewMessage

FORWARD = "forward"  # into the outbox, then to the central broker
STATUS = "status"  # relay to the central broker, retained, latest per device
REPORT = "report"  # a reader's error counters: relayed like a status
EVIDENCE = "evidence"  # malformed: into the outbox as evidence with a reason


@dataclass(frozen=True)
class Intake:
    action: str
    message: NewMessage | None = None  # FORWARD / EVIDENCE
    scan: Scan | None = None  # FORWARD
    device: str | None = None  # STATUS, REPORT
    reason: str | None = None  # EVIDENCE


def classify(site: str, gateway: str, topic: str, payload: bytes, now: float) -> Intake:
    """Decide the fate of one local message received at ``now`` (Unix seconds)."""
    try:
        msg_site, device, kind = parse_topic(topic)
        if msg_site != site:
            raise MalformedMessage("bad_topic", f"site {msg_site!r} is not this gateway's site")
        if kind == "scan":
            scan = decode_scan(payload)
            if scan.device != device:
                raise MalformedMessage("device_mismatch", f"payload device {scan.device!r}")
            return Intake(FORWARD, NewMessage(scan.key, topic, bytes(payload), now), scan=scan)
        if kind == "status":
            status = decode_status(payload)
            if status.device != device:
                raise MalformedMessage("device_mismatch", f"payload device {status.device!r}")
            return Intake(STATUS, device=device)
        if kind == "report":
            report = decode_report(payload)
            if report.device != device:
                raise MalformedMessage("device_mismatch", f"payload device {report.device!r}")
            return Intake(REPORT, device=device)
        raise MalformedMessage("bad_topic", f"readers do not publish {kind!r}")
    except MalformedMessage as exc:
        ev = make_evidence(gateway, topic, exc.reason, exc.detail, payload, int(now * 1000))
        out_topic = gateway_topic(site, gateway, KIND_EVIDENCE)
        message = NewMessage(ev.key, out_topic, encode_evidence(ev), now)
        return Intake(EVIDENCE, message, reason=exc.reason)
