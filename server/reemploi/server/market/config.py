"""Settings of the marketplace: process settings from the environment, and the rules an
administrator changes at run time (stored in ``market_settings``, defaults in code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from argon2 import PasswordHasher
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, delete, insert, select

from ..db.market_tables import settings as settings_table
from .errors import N_, InvalidInput
from .secretbox import check_key


class MarketSettings(BaseSettings):
    """Per-deployment values (``REEMPLOI_MARKET_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="REEMPLOI_MARKET_", env_file=".env", extra="ignore"
    )

    cookie_secure: bool = Field(default=True, description="Secure cookies (HTTPS only)")
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    gs1_prefix: str = Field(default="9521234", description="platform GS1 company prefix")
    login_failures: int = Field(default=5, description="failed logins per window")
    login_window_s: float = Field(default=300.0)
    signup_requests: int = Field(
        default=5, ge=1, description="registration requests recorded per address per window"
    )
    signup_window_s: float = Field(default=3600.0, gt=0)
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts the organisations' OIDC client secrets at rest",
    )

    @field_validator("secrets_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            check_key(value.get_secret_value())
            return value
        return None

    operator_name: str = "Réemploi — plateforme métropolitaine (démonstration)"
    operator_address: str = "Le Forum, 3 rue Malakoff, 38000 Grenoble"
    operator_siren: str = "000 000 000 (démonstration)"
    public_url: str | None = Field(
        default=None, description="address of the platform as people reach it (OIDC return)"
    )
    # Argon2id cost (RFC 9106 low-memory profile); lower only in tests.
    password_time_cost: int = Field(default=3, ge=1)
    password_memory_kib: int = Field(default=65536, ge=8)
    password_parallelism: int = Field(default=4, ge=1)

    def password_hasher(self) -> PasswordHasher:
        from .passwords import password_hasher

        return password_hasher(
            self.password_time_cost, self.password_memory_kib, self.password_parallelism
        )


CLAIM_RULES = ("first_come", "rotation")
GRADES = ("A", "B", "C")


@dataclass(frozen=True)
class MarketRules:
    """Rules an administrator can change; every field has a default."""

    open_registration: bool = False  # closed groups (invitation) first
    claim_rule: str = "first_come"
    rotation_grace_hours: int = 24
    pickup_window_days: int = 5
    reservation_days: int = 7
    quote_valid_days: int = 30
    voucher_days: int = 60
    voucher_retention_days: int = 365
    solidarity_share: dict[str, float] = field(
        default_factory=lambda: {"laptop": 0.1, "desktop": 0.1, "tablet": 0.1, "phone": 0.1}
    )
    social_price_cents: dict[str, int] = field(
        default_factory=lambda: {"laptop": 3000, "desktop": 2000, "tablet": 2000, "phone": 1500}
    )
    unit_price_cents: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            "laptop": {"A": 24000, "B": 18000, "C": 12000},
            "desktop": {"A": 16000, "B": 12000, "C": 8000},
            "screen": {"A": 7000, "B": 5000, "C": 3000},
            "phone": {"A": 15000, "B": 10000, "C": 6000},
            "tablet": {"A": 14000, "B": 10000, "C": 6000},
            "server": {"A": 60000, "B": 40000, "C": 20000},
            "network": {"A": 9000, "B": 6000, "C": 3000},
        }
    )
    warranty_months: dict[str, int] = field(default_factory=lambda: {"A": 12, "B": 6, "C": 3})

    def price_for(self, category: str, grade: str) -> int:
        return self.unit_price_cents.get(category, {}).get(grade, 10000)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping_of(value: Any, valid: Any) -> bool:
    """A mapping from known categories (or grades) to valid values."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and len(k) <= 40 and valid(v) for k, v in value.items()
    )


def _check(rules: MarketRules) -> None:
    errors: dict[str, str] = {}
    if rules.claim_rule not in CLAIM_RULES:
        errors["claim_rule"] = N_("Choose first come or fair rotation.")
    for name in ("pickup_window_days", "reservation_days", "quote_valid_days", "voucher_days"):
        if not (_whole(getattr(rules, name)) and 1 <= getattr(rules, name) <= 365):
            errors[name] = N_("Enter a number of days between 1 and 365.")
    if not isinstance(rules.open_registration, bool):
        errors["open_registration"] = N_("Some settings are not valid.")
    if not (_whole(rules.rotation_grace_hours) and 0 <= rules.rotation_grace_hours <= 24 * 30):
        errors["rotation_grace_hours"] = N_("Enter a number of hours between 0 and 720.")
    retention = rules.voucher_retention_days
    if not (_whole(retention) and 30 <= retention <= 3650):
        errors["voucher_retention_days"] = N_("Enter a number of days between 30 and 3650.")
    if not _mapping_of(rules.solidarity_share, lambda v: _number(v) and 0 <= v <= 0.5):
        errors["solidarity_share"] = N_("A solidarity share is between 0 and 50 %.")
    if not _mapping_of(rules.social_price_cents, lambda v: _whole(v) and 0 < v <= 100_000):
        errors["social_price_cents"] = N_("A social price is between 0.01 and 1000 euros.")
    if not _mapping_of(
        rules.unit_price_cents,
        lambda grades: (
            _mapping_of(grades, lambda v: _whole(v) and 0 < v <= 10_000_000)
            and set(grades) <= set(GRADES)
        ),
    ):
        errors["unit_price_cents"] = N_("A unit price is between 0.01 and 100000 euros.")
    if not _mapping_of(rules.warranty_months, lambda v: _whole(v) and 0 <= v <= 60) or not set(
        rules.warranty_months
    ) <= set(GRADES):
        errors["warranty_months"] = N_("A warranty is between 0 and 60 months.")
    if errors:
        raise InvalidInput(N_("Some settings are not valid."), fields=errors)


def load_rules(conn: Connection) -> MarketRules:
    stored = {row.key: row.value for row in conn.execute(select(settings_table))}
    known = {f.name for f in fields(MarketRules)}
    return replace(MarketRules(), **{k: v for k, v in stored.items() if k in known})


def save_rules(conn: Connection, changes: dict[str, Any]) -> MarketRules:
    known = {f.name for f in fields(MarketRules)}
    unknown = set(changes) - known
    if unknown:
        raise InvalidInput(
            N_("Unknown setting."), fields={name: N_("Unknown setting.") for name in unknown}
        )
    try:
        rules = replace(load_rules(conn), **changes)
    except TypeError as exc:  # pragma: no cover - dataclass refuses odd keys
        raise InvalidInput(N_("Some settings are not valid.")) from exc
    _check(rules)
    for key, value in changes.items():
        conn.execute(delete(settings_table).where(settings_table.c.key == key))
        conn.execute(insert(settings_table).values(key=key, value=value))
    return rules


def rules_dict(rules: MarketRules) -> dict[str, Any]:
    return asdict(rules)
