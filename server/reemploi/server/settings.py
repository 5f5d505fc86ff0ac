"""One settings object for the server: defaults in code, site values from the environment
(``REEMPLOI_*``) or a ``.env`` file, secrets never defaulted."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from reemploi.domain.sun import SunKeys

from .ingest.writer import WriterKind


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REEMPLOI_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/reemploi.db",
        description="SQLAlchemy URL: sqlite:///path (WAL) or postgresql+psycopg://…",
    )
    sqlite_synchronous: str = Field(default="FULL", description="FULL keeps every acked scan")
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="central broker")
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: str | None = None
    mqtt_client_id: str = "reemploi-server"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    clock_tolerance_s: int = Field(default=300, description="device clock ahead of ours")
    clock_max_age_s: int = Field(default=7 * 24 * 3600, description="oldest plausible tap")
    ingest_batch_max: int = 2000
    ingest_writer: WriterKind = Field(
        default="hybrid",
        description="hybrid: small batches (quiet traffic) written by the ingest thread of this"
        " process, large ones (bursts) by a writer process of its own; process: always by that"
        " process; local: always by the ingest thread",
    )
    ingest_local_max: int = Field(
        default=8, ge=0, description="hybrid: largest batch written in this process"
    )
    ingest_remembered_assets: int = Field(
        default=50_000,
        ge=0,
        description="PostgreSQL: assets each ledger writer keeps in memory (those still in"
        " hand, the most recently changed first: loaded when it connects, kept current by"
        " the database's notices), so that a small batch tapping only those skips its"
        " reads (checked by the database as it writes); 0: always read",
    )
    sun_meta_read_key: SecretStr | None = Field(
        default=None, description="NTAG 424 DNA SDMMetaReadKey, 32 hex characters"
    )
    sun_file_master_key: SecretStr | None = Field(
        default=None, description="master key the per-tag SDMFileRead keys derive from (hex)"
    )

    @field_validator("sun_meta_read_key", "sun_file_master_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError("clé SUN : 32 caractères hexadécimaux attendus") from None
        if len(raw) != 16:
            raise ValueError("clé SUN : 32 caractères hexadécimaux attendus (AES-128)")
        if raw == bytes(16):
            raise ValueError("clé SUN nulle (clé d'usine) refusée : diversifiez vos clés")
        return value

    def sun_keys(self) -> SunKeys | None:
        if self.sun_meta_read_key is None or self.sun_file_master_key is None:
            return None
        return SunKeys(
            bytes.fromhex(self.sun_meta_read_key.get_secret_value()),
            bytes.fromhex(self.sun_file_master_key.get_secret_value()),
        )

    @field_validator("sqlite_synchronous")
    @classmethod
    def _sync_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError("sqlite_synchronous doit valoir OFF, NORMAL, FULL ou EXTRA")
        return level

    @field_validator("mqtt_password")
    @classmethod
    def _no_default_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() in {"", "changeme", "password", "admin"}:
            raise ValueError("mot de passe MQTT vide ou par défaut refusé")
        return value
