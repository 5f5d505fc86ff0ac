"""Tag → asset resolution: Digital Links (NDEF, QR) by GIAI, raw UIDs through the tag table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from reemploi.domain.digital_link import (
    InvalidIdentifier,
    format_digital_link,
    parse_digital_link,
)
from reemploi.protocol import wire

from ..db.tables import assets, tags


@dataclass(frozen=True)
class Resolution:
    asset_id: int | None
    reason: str | None = None  # why the tag is unknown


def canonical_giai(uri: str) -> str | None:
    """The canonical GIAI Digital Link of ``uri``, or None when it is not a GIAI link."""
    try:
        link = parse_digital_link(uri)
    except InvalidIdentifier:
        return None
    if link.primary_ai != "8004":
        return None
    return format_digital_link("8004", link.primary_value)


class TagResolver:
    def resolve(self, conn: Connection, kind: str, data: str) -> Resolution:
        if kind in (wire.KIND_NDEF_URI, wire.KIND_QR):
            epc = canonical_giai(data)
            if epc is None:
                return Resolution(None, "not_an_asset_link")
            found = conn.execute(select(assets.c.id).where(assets.c.epc == epc)).scalar()
            return Resolution(found, None if found else "unknown_tag")
        if kind == wire.KIND_SUN_URL:
            return Resolution(None, "sun_not_enrolled")
        found = conn.execute(
            select(tags.c.asset_id).where(tags.c.kind == kind, tags.c.value == data)
        ).scalar()
        return Resolution(found, None if found else "unknown_tag")
