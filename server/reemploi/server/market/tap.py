"""Tap from a phone: a staff member's phone is a device of their site, and its taps go
through the very ingest pipeline the readers use (same scan message, same idempotency
key, same site rules, same ack: accepted / refused / unknown tag)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, insert, select

from reemploi.protocol import wire

from ..db.market_tables import phone_taps
from ..db.tables import devices, sightings, sites
from ..ingest.pipeline import BatchResult, Incoming, IngestPipeline
from ..ingest.rules import TAP_STEPS
from ..registry import Device, add_device
from .accounts import User
from .errors import N_, InvalidInput

PHONE_KINDS = (wire.KIND_NDEF_URI, wire.KIND_QR, wire.KIND_NFC_UID)


@dataclass(frozen=True)
class TapResult:
    result: str  # accepted | rejected | unknown_tag
    reason: str | None
    duplicate: bool
    feedback: str  # accept | refuse | unknown (what the reader would play)
    seq: int


def phone_device_id(user: User) -> str:
    return f"phone-u{user.id}"


def ensure_phone(conn: Connection, user: User) -> tuple[str, str, int]:
    """The user's phone as a device of their site: ``(device id, site id, next seq)``."""
    if user.site_id is None:
        raise InvalidInput(N_("Your account has no site: ask your administrator."))
    device_id = phone_device_id(user)
    site_id = conn.execute(select(devices.c.site_id).where(devices.c.id == device_id)).scalar()
    if site_id is None:
        kind = conn.execute(select(sites.c.kind).where(sites.c.id == user.site_id)).scalar_one()
        # The phone does what the site's counter or dock reader does.
        step = next((s.value for (k, _role), s in TAP_STEPS.items() if k == kind), None)
        add_device(conn, Device(device_id, user.site_id, "phone", step, False))
        conn.execute(insert(phone_taps).values(device_id=device_id, user_id=user.id, note=""))
        site_id = user.site_id
    last = conn.execute(
        select(func.max(sightings.c.seq)).where(sightings.c.device_id == device_id)
    ).scalar()
    return device_id, str(site_id), (int(last) + 1 if last is not None else 1)


def tap(
    engine: Engine,
    pipeline: IngestPipeline,
    user: User,
    *,
    seq: int,
    kind: str,
    data: str,
    clock_ms: int | None,
    received_at: datetime | None = None,
) -> tuple[TapResult, BatchResult]:
    """Send one tap through the ingest pipeline as the user's phone."""
    with engine.begin() as conn:
        device_id, site_id, _next = ensure_phone(conn, user)
    if kind not in PHONE_KINDS:
        raise InvalidInput(N_("Unknown tag kind."), fields={"kind": N_("Unknown tag kind.")})
    try:
        scan = wire.Scan(device_id, int(seq), kind, data.strip(), None, clock_ms)
        payload = wire.encode_scan(scan)
    except (wire.MalformedMessage, ValueError) as exc:
        raise InvalidInput(
            N_("This tag or code is not readable."),
            fields={"data": N_("This tag or code is not readable.")},
        ) from exc
    if not 0 <= scan.seq <= wire.MAX_SEQ:
        raise InvalidInput(N_("This tag or code is not readable."))
    incoming = Incoming(
        wire.topic(site_id, device_id, "scan"), payload, received_at or datetime.now(UTC)
    )
    batch = pipeline.process([incoming])
    ack = wire.decode_ack(batch.acks[0].payload)
    return TapResult(ack.result, ack.reason, ack.duplicate, ack.feedback, ack.seq), batch
