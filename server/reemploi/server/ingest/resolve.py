"""Tag → asset resolution: Digital Links (NDEF, QR) by GIAI, raw UIDs through the tag table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Connection, select, update

from reemploi.domain.digital_link import (
    InvalidIdentifier,
    format_digital_link,
    parse_digital_link,
    plain_giai_canonical,
)
from reemploi.domain.sun import SunKeys, SunRejected, check_counter, verify_sun_url
from reemploi.protocol import wire

from ..db.tables import assets, sun_tags, tags


@dataclass(frozen=True)
class Resolution:
    asset_id: int | None
    reason: str | None = None  # why the tag is unknown, or why it is refused
    refused: bool = False  # True: a forged, replayed or malformed anti-clone reading


@lru_cache(maxsize=65536)
def canonical_giai(uri: str) -> str | None:
    """The canonical GIAI Digital Link of ``uri``, or None when it is not a GIAI link."""
    plain = plain_giai_canonical(uri)  # what tags written by provisioning carry
    if plain is not None:
        return plain
    try:
        link = parse_digital_link(uri)
    except InvalidIdentifier:
        return None
    if link.primary_ai != "8004":
        return None
    return format_digital_link("8004", link.primary_value)


class TagResolver:
    """Finds the asset behind a reading. SUN URLs (NTAG 424 DNA) are verified here,
    inside the ingest transaction: MAC first, then the UID's counter, locked and moved
    forward in the same transaction as the custody event."""

    def __init__(self, sun_keys: SunKeys | None = None) -> None:
        self.sun_keys = sun_keys

    def resolve(self, conn: Connection, kind: str, data: str) -> Resolution:
        if kind in (wire.KIND_NDEF_URI, wire.KIND_QR):
            epc = canonical_giai(data)
            if epc is None:
                return Resolution(None, "not_an_asset_link")
            found = conn.execute(select(assets.c.id).where(assets.c.epc == epc)).scalar()
            return Resolution(found, None if found else "unknown_tag")
        if kind == wire.KIND_SUN_URL:
            return self._sun(conn, data)
        found = conn.execute(
            select(tags.c.asset_id).where(tags.c.kind == kind, tags.c.value == data)
        ).scalar()
        return Resolution(found, None if found else "unknown_tag")

    def _sun(self, conn: Connection, url: str) -> Resolution:
        if self.sun_keys is None:
            return Resolution(None, "sun_not_configured", refused=True)
        try:
            reading = verify_sun_url(url, self.sun_keys, None)
        except SunRejected as exc:
            return Resolution(None, exc.reason_code, refused=True)
        row = conn.execute(
            select(sun_tags.c.asset_id, sun_tags.c.last_counter)
            .where(sun_tags.c.uid == reading.uid)
            .with_for_update()
        ).first()
        if row is None:
            return Resolution(None, "unknown_tag")
        try:
            check_counter(reading.counter, row.last_counter)
        except SunRejected as exc:
            return Resolution(None, exc.reason_code, refused=True)
        epc = canonical_giai(reading.base_url)
        if epc is not None:
            registered = conn.execute(
                select(assets.c.epc).where(assets.c.id == row.asset_id)
            ).scalar_one()
            if registered != epc:
                return Resolution(None, "sun_url_mismatch", refused=True)
        conn.execute(
            update(sun_tags)
            .where(sun_tags.c.uid == reading.uid)
            .values(last_counter=reading.counter, updated_at=datetime.now(UTC))
        )
        return Resolution(int(row.asset_id))
