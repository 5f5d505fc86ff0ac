"""The gateway's one settings object: defaults here, site values in a TOML file or env.

Environment variables are ``REEMPLOI_GATEWAY_<FIELD>`` (they win over the file); the
file is ``/etc/reemploi/gateway.toml`` unless ``--config`` or
``REEMPLOI_GATEWAY_CONFIG`` says otherwise. Secrets are never defaulted: the central
broker needs a password or a client certificate, chosen by the installer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from reemploi.protocol.wire import valid_id

DEFAULT_CONFIG = Path("/etc/reemploi/gateway.toml")


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REEMPLOI_GATEWAY_", extra="forbid")

    site: str = Field(description="site id in topics (a-z 0-9 -)")
    gateway_id: str = Field(description="this gateway's device id and MQTT identity")
    mode: Literal["site", "vehicle"] = "site"

    local_host: str = "127.0.0.1"
    local_port: int = 1883
    local_username: str | None = None
    local_password: SecretStr | None = None

    central_host: str
    central_port: int = 8883
    central_username: str
    central_password: SecretStr | None = None
    central_tls: bool = True
    central_cafile: Path | None = None
    central_certfile: Path | None = None
    central_keyfile: Path | None = None

    state_dir: Path = Path("/var/lib/reemploi-gateway")
    outbox_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    disk_retry_s: float = Field(default=10.0, gt=0)  # full disk: how often to try again
    # health.json: default in state_dir; /run/reemploi-gateway keeps it visible on a full disk
    health_file: Path | None = None
    window: int = Field(default=200, ge=1, le=60000)
    dedup_window_s: float = Field(default=2.0, gt=0)
    held_retry_s: float = Field(default=300.0, gt=0)  # retry messages the central refused
    health_interval_s: float = Field(default=10.0, gt=0)

    ble_enabled: bool = False
    ble_eddystone_namespaces: list[str] = Field(default_factory=list)
    ble_ibeacon_uuids: list[str] = Field(default_factory=list)
    # replay a recording (JSON lines, see ble_replay.py) instead of scanning the radio
    ble_replay_file: Path | None = None
    lot_enter_rssi: int = -75
    lot_exit_rssi: int = -88
    lot_arrive_dwell_s: float = 10.0
    lot_depart_after_s: float = 60.0

    gpsd_host: str | None = None
    gpsd_port: int = 2947
    gps_max_age_s: float = Field(default=30.0, gt=0)  # older fixes are not attached

    pi_reader_device: str | None = None  # set to enable the MFRC522 adapter
    pi_reader_password: SecretStr | None = None  # its own identity on the local broker
    pi_reader_kind_ndef: bool = True

    config_file: Path | None = None

    @field_validator("site", "gateway_id", "pi_reader_device")
    @classmethod
    def _topic_id(cls, value: str | None) -> str | None:
        if value is not None and not valid_id(value):
            raise ValueError("1-40 characters of a-z 0-9 - (not starting with -)")
        return value

    @field_validator("ble_eddystone_namespaces", "ble_ibeacon_uuids")
    @classmethod
    def _hex_ids(cls, values: list[str]) -> list[str]:
        cleaned = [v.replace("-", "").lower() for v in values]
        for v in cleaned:
            if len(v) not in (20, 32) or any(c not in "0123456789abcdef" for c in v):
                raise ValueError(f"{v!r}: a 10-byte namespace or 16-byte UUID in hex")
        return cleaned

    @model_validator(mode="after")
    def _central_identity(self) -> GatewaySettings:
        if self.central_password is None and self.central_certfile is None:
            raise ValueError(
                "central_password ou central_certfile requis / "
                "the central broker needs a password or a client certificate"
            )
        if self.lot_exit_rssi >= self.lot_enter_rssi:
            raise ValueError("lot_exit_rssi must be lower than lot_enter_rssi")
        return self

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    @property
    def health_path(self) -> Path:
        return self.health_file or self.state_dir / "health.json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = os.environ.get("REEMPLOI_GATEWAY_CONFIG_FILE") or os.environ.get(
            "REEMPLOI_GATEWAY_CONFIG"
        )
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = Path(path) if path else DEFAULT_CONFIG
        if toml.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


def load_settings(config: Path | None = None) -> GatewaySettings:
    """Read the file (``config`` or the default) and the environment."""
    if config is not None:
        os.environ["REEMPLOI_GATEWAY_CONFIG_FILE"] = str(config)
    return GatewaySettings()  # type: ignore[call-arg]
