"""The métropole's clock: pickup days and hours are Grenoble's (CET or CEST), stored as
UTC instants, shown and returned in local time with their offset."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from reemploi.domain.epcis import DEFAULT_ZONE

LOCAL_ZONE = ZoneInfo(DEFAULT_ZONE)


def aware(value: datetime) -> datetime:
    """A stored instant: naive values (SQLite) are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local_today(now: datetime) -> date:
    """The day it is in Grenoble at ``now`` (not the UTC day: they differ between
    midnight and 1:00 or 2:00 local time)."""
    return aware(now).astimezone(LOCAL_ZONE).date()


def local_time(value: datetime | None) -> datetime | None:
    """A stored instant in Grenoble's local time (None stays None)."""
    return None if value is None else aware(value).astimezone(LOCAL_ZONE)
